"""A LicenseSpring Management API double: same paths, auth, paging and error bodies."""

from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.simulation import (
    JSON,
    Contract,
    created_times,
    demo_rng,
    drf_page,
    int_param,
    iso_z,
    people,
)
from gateway.simulation_lookups import email_lookups

DEMO_API_KEY = "demo-licensespring-key"
SEED_ORDER: dict[str, Any] = json.loads((Path(__file__).parent / "seed_order.json").read_text())

_PRODUCTS = [
    (
        1584723961091234,
        "code1",
        "mch",
        [("f5", "Feature 5", "activation"), ("f2", "Feature 2", "consumption")],
    ),
    (1584723961091240, "cad", "CAD Studio", [("exp", "Export", "activation")]),
    (
        1584723961091250,
        "ren",
        "Render Farm",
        [("gpu", "GPU minutes", "consumption"), ("q", "Queue", "activation")],
    ),
]


@dataclass
class Data:
    orders: list[dict[str, Any]] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)


def _customer_payload(cid: int, person: Any) -> dict[str, Any]:
    return {
        "id": cid,
        "total_orders": 0,
        "total_licenses": 0,
        "labels": [],
        "customer_account": None,
        "email": person.email,
        "first_name": person.first,
        "last_name": person.last,
        "company_name": person.company,
        "phone": person.phone,
        "reference": "",
        "address": person.street,
        "postcode": person.postal_code,
        "city": person.city,
        "country": person.country,
        "state": "",
        "clabels_all": "",
        "cognito_user_pool_id": "",
        "metadata": {},
        "company": 277,
        "license_user": None,
        "clabels": [],
    }


def _license(
    rng: random.Random,
    lic_id: int,
    order_id: int,
    item_id: int,
    product: Any,
    customer: dict[str, Any],
    created: str,
) -> dict[str, Any]:
    pid, code, name, features = product
    user_id = rng.randrange(1000, 9999)
    user = {
        "id": user_id,
        "last_login": None,
        "email": f"{customer['email']}|u{user_id}",
        "true_email": customer["email"],
        "created_at": created,
        "updated_at": created,
        "is_active": True,
        "first_name": customer["first_name"],
        "last_name": customer["last_name"],
        "phone_number": customer["phone"],
        "initial_password": f"pw{rng.randrange(10**6)}!",
        "is_initial_password": True,
    }
    trial = rng.random() < 0.2
    return {
        "id": lic_id,
        "customer": customer,
        "product_features": [
            {
                "id": lic_id * 10 + n,
                "product_feature": {
                    "id": 100 + n,
                    "name": fname,
                    "code": fcode,
                    "feature_type": ftype,
                    "max_consumption": 20 if ftype == "consumption" else 0,
                },
                "max_consumption": rng.choice([0, 5, 50]) if ftype == "consumption" else 0,
                "total_consumptions": rng.randrange(0, 5),
                "expiry_date": None,
            }
            for n, (fcode, fname, ftype) in enumerate(features)
        ],
        "license_user": user,
        "license_users": [user],
        "product": {"id": pid, "short_code": code, "product_name": name},
        "created_at": created,
        "updated_at": created,
        "license_key": f"{rng.randrange(16**16):016X}",
        "active": rng.random() < 0.7,
        "enabled": True,
        "max_activations": rng.choice([1, 3, 5]),
        "times_activated": rng.randrange(0, 2),
        "validity_period": "2027-12-31",
        "license_type": "time-limited" if trial else "perpetual",
        "maintenance_period": "2027-06-30",
        "is_trial": trial,
        "subscription_id": None,
        "order": order_id,
        "order_item": item_id,
        "status": "Active",
    }


def sample_data(count: int = 60) -> Data:
    """The seed's own order plus ``count`` deterministic orders."""
    rng = demo_rng("licensespring")
    data = Data()
    seed_customer = SEED_ORDER["customer"]
    data.customers[str(seed_customer["id"])] = seed_customer
    buyers = [_customer_payload(700 + i, p) for i, p in enumerate(people("licensespring", 14))]
    for c in buyers:
        data.customers[str(c["id"])] = c
    data.orders.append(SEED_ORDER)
    for n, moment in enumerate(created_times("licensespring", count)):
        order_id = 1600000000000000 + n
        buyer = rng.choice(buyers)
        created = iso_z(moment, millis=False)
        items = []
        for k in range(rng.randint(1, 3)):
            item_id = order_id * 10 + k
            product = rng.choice(_PRODUCTS)
            licenses = [
                _license(rng, item_id * 10 + j, order_id, item_id, product, buyer, created)
                for j in range(rng.randint(1, 3))
            ]
            items.append(
                {
                    "id": item_id,
                    "product_id": product[0],
                    "licenses": licenses,
                    "created_at": created,
                    "updated_at": created,
                    "order": order_id,
                    "product": product[0],
                }
            )
        data.orders.append(
            {
                "id": order_id,
                "order_items": items,
                "customer": buyer,
                "has_active_licenses": True,
                "created_at": created,
                "updated_at": created,
                "store_id": f"ls-{order_id % 100000:05d}",
                "type": "normal",
                "customer_email": buyer["email"],
                "is_test": n % 17 == 5,
                "is_trial": False,
                "metadata": {},
                "company": 277,
            }
        )
    # The API's documented order: newest first, ties by id.
    data.orders.sort(key=lambda o: (o["created_at"], -o["id"]), reverse=True)
    return data


def listed(data: Data) -> list[tuple[str, str]]:
    """(creation time as the backend writes it, the gateway's sourceId) of every order in
    ``data``: what the tests check the gateway's lists against."""
    return [(o["created_at"], str(o["id"])) for o in data.orders]


def create_app(data: Data, *, api_key: str = DEMO_API_KEY) -> Starlette:
    """The simulator over ``data``, accepting only ``Authorization: Api-Key <api_key>``."""

    def denied(request: Request) -> Response | None:
        header = request.headers.get("authorization")
        if header is None:
            return JSON({"detail": "Authentication credentials were not provided."}, 401)
        if header != f"Api-Key {api_key}":
            return JSON({"detail": "Invalid API key."}, 401)
        return None

    def not_found() -> Response:
        return JSON({"detail": "Not found."}, 404)

    async def get_order(request: Request) -> Response:
        if (refusal := denied(request)) is not None:
            return refusal
        wanted = request.path_params["id"]
        found = next((o for o in data.orders if str(o["id"]) == wanted), None)
        return JSON(found) if found is not None else not_found()

    async def list_orders(request: Request) -> Response:
        if (refusal := denied(request)) is not None:
            return refusal
        q = request.query_params
        items = data.orders
        if q.get("order_by", "-created_at") == "created_at":
            items = list(reversed(items))
        if (cid := q.get("customer_id")) is not None:
            items = [o for o in items if str((o.get("customer") or {}).get("id")) == cid]
        if (email := q.get("customer_email")) is not None:
            items = [
                o
                for o in items
                if str((o.get("customer") or {}).get("email", "")).lower() == email.lower()
            ]
        return JSON(
            drf_page(
                str(request.url.remove_query_params(["limit", "offset"])).split("?")[0],
                items,
                limit=int_param(q.get("limit"), 20, low=1, high=100),
                offset=int_param(q.get("offset"), 0),
            )
        )

    async def get_customer(request: Request) -> Response:
        if (refusal := denied(request)) is not None:
            return refusal
        found = data.customers.get(request.path_params["id"])
        return JSON(found) if found is not None else not_found()

    async def list_customers(request: Request) -> Response:
        if (refusal := denied(request)) is not None:
            return refusal
        q = request.query_params
        items = email_lookups(list(data.customers.values()), q)
        return JSON(
            drf_page(
                str(request.url).split("?")[0],
                items,
                limit=int_param(q.get("limit"), 20, low=1, high=100),
                offset=int_param(q.get("offset"), 0),
            )
        )

    return Starlette(
        routes=[
            Route("/api/v1/orders/", list_orders),
            Route("/api/v1/orders/{id}/", get_order),
            Route("/api/v1/customers/", list_customers),
            Route("/api/v1/customers/{id}/", get_customer),
        ]
    )


def demo_source(base_url: str) -> dict[str, Any]:
    """The config table that points a source of this kind at this simulator."""
    return {"kind": "licensespring", "base_url": base_url, "api_key": DEMO_API_KEY}


#: the seed order and the refusal the contract suite checks (tests/test_sources_contract.py)
CONTRACT = Contract(
    seed_id="1593781720493279",
    missing_id="42",
    credential="api_key",
    auth_header="authorization",
    auth_backend_code=None,
    customer_path="/api/v1/customers/",
    number="d2d2dce02c844d4492c9d48758aa143a",
    status="COMPLETED",
    source_status=None,
    created_at="2020-07-03T13:08:40.000000+00:00",
    total=None,
    line_count=1,
    customers_embedded=True,
)
