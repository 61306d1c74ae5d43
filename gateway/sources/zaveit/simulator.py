"""A Zaveit marketplace API double: `~session` auth, `~page` paging, float money."""

from __future__ import annotations

import copy
import json
import math
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.simulation import JSON, Contract, created_times, demo_rng, int_param, iso_z, people
from gateway.sources.zaveit import api

DEMO_TOKEN = "demo-zaveit-session"
SEED_ORDER: dict[str, Any] = json.loads(
    (Path(__file__).parent / "seed_order.json").read_text(), parse_float=Decimal
)
_OFFERINGS = [
    ("Microsoft 365 Business", ["Basic", "Standard", "Premium"]),
    ("Backup Cloud", ["Standard"]),
    ("Security Suite", ["Pro", "Enterprise"]),
]


@dataclass
class Data:
    orders: list[dict[str, Any]] = field(default_factory=list)
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)


def _account(aid: str, person: Any) -> dict[str, Any]:
    address = {
        "line2": "",
        "street": person.street,
        "zip": person.postal_code,
        "city": person.city,
        "country": person.country,
        "state": "",
        "editable": True,
    }
    return {
        "status": {"active": True},
        "address": {
            k: {**address, "_id": f"{aid}-{k}"}
            for k in ("postal", "delivery", "official", "invoice", "visit")
        },
        "email": {"default": person.email},
        "metadata": {},
        "_id": aid,
        "type": "customer",
        "comment": "",
        "number": str(900000000 + int(aid[-4:], 16)),
        "country": person.country,
        "name": person.company,
        "bankaccount": [],
        "contacts": [],
        "integrations": [],
        "tenant": "tenant-demo",
        "partnerLevel": None,
        "id": aid,
    }


def sample_data(count: int = 60) -> Data:
    rng = demo_rng("zaveit")
    seed_account = SEED_ORDER["account_details"]
    data = Data(orders=[SEED_ORDER], accounts={seed_account["id"]: seed_account})
    for i, p in enumerate(people("zaveit", 12)):
        aid = f"acc{i:021x}"
        data.accounts[aid] = _account(aid, p)
    accounts = [a for a in data.accounts.values() if a["id"] != seed_account["id"]]
    for n, moment in enumerate(created_times("zaveit", count)):
        oid = f"65{n:022x}"
        account = rng.choice(accounts)
        offering, editions = rng.choice(_OFFERINGS)
        full = Decimal(rng.randrange(10000, 500000)) / 100
        discount = (full * Decimal(rng.choice([0, 5, 10, 20])) / 100).quantize(Decimal("0.01"))
        total = full - discount
        created = iso_z(moment)
        data.orders.append(
            {
                "_id": oid,
                "id": oid,
                "status": rng.choices(["accepted", "draft", "cancelled"], [7, 2, 1])[0],
                "state": "open",
                "offering": {"id": f"off-{offering[:3].lower()}", "name": offering},
                "edition": {"name": rng.choice(editions)},
                "tenant": "tenant-demo",
                "account": account["id"],
                "account_details": account,
                "currency": {"type": rng.choice(["NOK", "NOK", "EUR", "SEK"]), "rate": 1},
                "price": {
                    "full": full,
                    "discount": discount,
                    "subtotal": total,
                    "total": total,
                    "cost": (total * Decimal("0.8")).quantize(Decimal("0.01")),
                },
                "number": f"{n + 2:08d}",
                "date": {
                    "order": created,
                    "start": created,
                    "end": iso_z(moment + timedelta(days=365)),
                },
                "created": created,
                "updated": created,
            }
        )
    data.orders.sort(key=lambda o: (o["created"], _neg(o["id"])), reverse=True)
    return data


def _neg(text: str) -> tuple[int, ...]:
    return tuple(-ord(c) for c in text)


def _summary(o: dict[str, Any]) -> dict[str, Any]:
    return {
        "orderId": o["id"],
        "number": o["number"],
        "status": o["status"],
        "state": o["state"],
        "customer": {"id": o["account_details"]["id"], "name": o["account_details"]["name"]},
        "offering": o["offering"]["name"],
        "totalPrice": o["price"]["total"],
        "currency": o["currency"]["type"],
        "date": {"created": o["created"], "order": o["date"]["order"]},
    }


def _paged(request: Request, key: str, items: list[Any]) -> Response:
    q = request.query_params
    per_page = int_param(q.get("~perPage"), 20, low=1, high=api.MAX_PER_PAGE)
    page = int_param(q.get("~page"), 1, low=1)
    start = (page - 1) * per_page
    return JSON(
        {
            key: items[start : start + per_page],
            api.PAGINATION_KEY: {
                "page": page,
                "perPage": per_page,
                "total": len(items),
                "pages": math.ceil(len(items) / per_page),
            },
        }
    )


def listed(data: Data) -> list[tuple[str, str]]:
    """(creation time as the backend writes it, the gateway's sourceId) of every order in
    ``data``: what the tests check the gateway's lists against."""
    return [(o["created"], o["id"]) for o in data.orders]


def create_app(data: Data, *, token: str = DEMO_TOKEN) -> Starlette:
    def denied(request: Request) -> Response | None:
        if request.headers.get("~session") != token:
            return JSON({"code": "UNAUTHORIZED", "message": "Invalid or missing session"}, 401)
        return None

    async def get_order(request: Request) -> Response:
        if (refusal := denied(request)) is not None:
            return refusal
        found = next((o for o in data.orders if o["id"] == request.path_params["id"]), None)
        if found is None:
            return JSON({"code": "NOT_FOUND", "message": "Order not found"}, 404)
        return JSON(copy.deepcopy(found))

    async def list_orders(request: Request) -> Response:
        if (refusal := denied(request)) is not None:
            return refusal
        q = request.query_params
        items = data.orders
        if q.get("~sort") == "created":
            items = list(reversed(items))
        if (start := q.get("~filter[from]")) is not None:
            items = [o for o in items if o["created"] >= _z(start)]
        if (end := q.get("~filter[to]")) is not None:
            items = [o for o in items if o["created"] <= _z(end)]
        if statuses := q.getlist("~filter[status]"):
            items = [o for o in items if o["status"] in statuses]
        if accounts := q.getlist(api.ACCOUNT_FILTER):
            items = [o for o in items if o["account"] in accounts]
        return _paged(request, "orders", [_summary(o) for o in items])

    async def get_account(request: Request) -> Response:
        if (refusal := denied(request)) is not None:
            return refusal
        found = data.accounts.get(request.path_params["id"])
        if found is None:
            return JSON({"code": "NOT_FOUND", "message": "Account not found"}, 404)
        return JSON(found)

    async def search_accounts(request: Request) -> Response:
        if (refusal := denied(request)) is not None:
            return refusal
        term = (request.query_params.get("~search") or "").lower()
        found = [
            a
            for a in data.accounts.values()
            if term in a["name"].lower() or term in a["email"]["default"].lower()
        ]
        return _paged(request, "accounts", found)

    return Starlette(
        routes=[
            Route("/v1/order/{id}", get_order),
            Route("/v2/order/detailed", list_orders),
            Route(api.ACCOUNT_SEARCH_PATH, search_accounts),
            Route("/v1/account/{id}", get_account),
        ]
    )


def _z(stamp: str) -> str:
    """An ISO timestamp in the payloads' own `...Z` millisecond form, for comparison."""
    from gateway.values import utc_datetime

    moment = utc_datetime(stamp)
    return iso_z(moment) if moment else stamp


def demo_source(base_url: str) -> dict[str, Any]:
    return {"kind": "zaveit", "base_url": base_url, "token": DEMO_TOKEN}


#: the seed order and the refusal the contract suite checks (tests/test_sources_contract.py)
CONTRACT = Contract(
    seed_id="order-id-1",
    missing_id="no-such-order",
    credential="token",
    auth_header="~session",
    auth_backend_code="UNAUTHORIZED",
    customer_path="/v1/account/",
    number="00000001",
    status="COMPLETED",
    source_status="accepted",
    created_at="2025-06-20T08:27:58.763000+00:00",
    total=("1871.77", "NOK"),
    line_count=1,
)
