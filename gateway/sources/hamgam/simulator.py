"""A Hamgam shop API double: Token auth, DRF page paging, minor-unit amounts."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.simulation import JSON, Contract, created_times, demo_rng, int_param, people
from gateway.simulation_lookups import email_lookups

DEMO_TOKEN = "demo-hamgam-token"
#: Hamgam is a Django shop in Tehran: timestamps carry the local offset.
TEHRAN = timezone(timedelta(hours=3, minutes=30))
STATUS_VALUES = ["pending", "processing", "shipped", "delivered", "cancelled", "refunded"]

#: The example the seed's docs describe field by field (GET /api/orders/123).
SEED_ORDER: dict[str, Any] = {
    "id": 123,
    "key": "HG-2024-000123",
    "status": "delivered",
    "customer_data": {"id": 45, "username": "sara.ahmadi", "full_name": "Sara Ahmadi"},
    "payment_method_data": {"id": 1, "name": "Card", "image": None},
    "shipping_method_data": {"id": 2, "name": "Post"},
    "shipping_cost": 50000,
    "notes": "Leave at the door",
    "extra": {},
    "created_at": "2024-03-01T13:45:00+03:30",
    "updated_at": "2024-03-03T09:00:00+03:30",
    "billing_country_data": {"id": 1, "active": True, "name": "Iran", "code": "IR"},
    "billing_state_data": {"id": 8, "active": True, "name": "Tehran", "code": "THR"},
    "billing_city_data": {"id": 301, "active": True, "name": "Tehran"},
    "billing_address": "Valiasr St 12",
    "billing_postal_code": "1416753955",
    "billing_national_code": "0012345678",
    "billing_mobile_number": "+989121234567",
    "billing_first_name": "Sara",
    "billing_last_name": "Ahmadi",
    "count": 2,
    "quantity": 3,
    "items_subtotal": 150000,
    "items_discount": 15000,
    "subtotal": 200000,
    "total_discount": 15000,
    "total": 185000,
    "amount_paid": 100000,
    "amount_outstanding": 85000,
    "is_paid": False,
    "items": [
        {
            "id": 9001,
            "product": 77,
            "product_name": "Walnut desk lamp",
            "product_data": {"name": "Walnut desk lamp", "sku": "LAMP-W"},
            "unit_price": 50000,
            "unit_discount": 5000,
            "quantity": 2,
            "notes": "",
            "subtotal": 100000,
            "discount": 10000,
            "total": 90000,
            "created_at": "2024-03-01T13:45:00+03:30",
            "updated_at": "2024-03-01T13:45:00+03:30",
        },
        {
            "id": 9002,
            "product": 78,
            "product_name": "Linen shade",
            "product_data": {"name": "Linen shade", "sku": "SHADE-L"},
            "unit_price": 50000,
            "unit_discount": 5000,
            "quantity": 1,
            "notes": "",
            "subtotal": 50000,
            "discount": 5000,
            "total": 45000,
            "created_at": "2024-03-01T13:45:00+03:30",
            "updated_at": "2024-03-01T13:45:00+03:30",
        },
    ],
    "payments": [
        {
            "id": 5001,
            "amount": 100000,
            "method": "card",
            "status": "paid",
            "created_at": "2024-03-01T13:46:00+03:30",
        }
    ],
}
SEED_CUSTOMER: dict[str, Any] = {
    "id": 45,
    "first_name": "Sara",
    "last_name": "Ahmadi",
    "email": "sara.ahmadi@example.ir",
    "mobile_number": "+989121234567",
    "national_code": "0012345678",
    "birth_date": "1990-05-04",
    "gender": "female",
    "notes": "",
    "is_active": True,
    "total_orders": 1,
    "total_spent": "1850.00",
}
_PRODUCTS = [
    (77, "Walnut desk lamp", "LAMP-W", 50000),
    (78, "Linen shade", "SHADE-L", 50000),
    (80, "Oak shelf", "SHELF-O", 129900),
    (81, "Brass hook", "HOOK-B", 1250),
]


@dataclass
class Data:
    orders: list[dict[str, Any]] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)


def sample_data(count: int = 60) -> Data:
    rng = demo_rng("hamgam")
    data = Data(orders=[SEED_ORDER], customers={"45": SEED_CUSTOMER})
    for i, p in enumerate(people("hamgam", 14)):
        cid = 100 + i
        data.customers[str(cid)] = {
            "id": cid,
            "first_name": p.first,
            "last_name": p.last,
            "email": p.email,
            "mobile_number": p.phone,
            "national_code": f"{rng.randrange(10**9, 10**10)}",
            "birth_date": "1988-01-01",
            "gender": "",
            "notes": "",
            "is_active": True,
            "total_orders": 0,
            "total_spent": "0.00",
        }
    buyers = [c for c in data.customers.values() if c["id"] != 45]
    for n, moment in enumerate(created_times("hamgam", count)):
        buyer = rng.choice(buyers)
        items: list[dict[str, Any]] = []
        for k in range(rng.randint(1, 4)):
            pid, name, sku, unit = rng.choice(_PRODUCTS)
            qty = rng.randint(1, 3)
            unit_discount = unit // 10 if rng.random() < 0.3 else 0
            items.append(
                {
                    "id": 10000 + n * 10 + k,
                    "product": pid,
                    "product_name": name,
                    "product_data": {"name": name, "sku": sku},
                    "unit_price": unit,
                    "unit_discount": unit_discount,
                    "quantity": qty,
                    "notes": "",
                    "subtotal": unit * qty,
                    "discount": unit_discount * qty,
                    "total": (unit - unit_discount) * qty,
                }
            )
        items_subtotal = sum(i["subtotal"] for i in items)
        items_discount = sum(i["discount"] for i in items)
        shipping = rng.choice([0, 25000, 50000])
        total = items_subtotal - items_discount + shipping
        status = rng.choice(STATUS_VALUES)
        paid = total if status in ("delivered", "shipped", "refunded") else 0
        local = moment.astimezone(TEHRAN).isoformat(timespec="seconds")
        data.orders.append(
            {
                "id": 1000 + n,
                "key": f"HG-{1000 + n:06d}",
                "status": status,
                "customer_data": {
                    "id": buyer["id"],
                    "username": buyer["email"].split("@")[0],
                    "full_name": f"{buyer['first_name']} {buyer['last_name']}",
                },
                "payment_method_data": {"id": 1, "name": "Card", "image": None},
                "shipping_method_data": {"id": 2, "name": "Post"},
                "shipping_cost": shipping,
                "notes": "",
                "extra": {},
                "created_at": local,
                "updated_at": local,
                "billing_country_data": {"id": 1, "active": True, "name": "Iran", "code": "IR"},
                "billing_state_data": None,
                "billing_city_data": None,
                "billing_address": "Somewhere 1",
                "billing_postal_code": "1234567890",
                "billing_national_code": buyer["national_code"],
                "billing_mobile_number": buyer["mobile_number"],
                "billing_first_name": buyer["first_name"],
                "billing_last_name": buyer["last_name"],
                "count": len(items),
                "quantity": sum(i["quantity"] for i in items),
                "items_subtotal": items_subtotal,
                "items_discount": items_discount,
                "subtotal": items_subtotal + shipping,
                "total_discount": items_discount,
                "total": total,
                "amount_paid": paid,
                "amount_outstanding": total - paid,
                "is_paid": paid == total,
                "items": items,
                "payments": [],
            }
        )
    data.orders.sort(key=lambda o: (_utc(o["created_at"]), -o["id"]), reverse=True)
    return data


def _utc(stamp: str) -> str:
    return datetime.fromisoformat(stamp).astimezone(UTC).isoformat()


def listed(data: Data) -> list[tuple[str, str]]:
    """(creation time as the backend writes it, the gateway's sourceId) of every order in
    ``data``: what the tests check the gateway's lists against."""
    return [(o["created_at"], str(o["id"])) for o in data.orders]


def create_app(data: Data, *, token: str = DEMO_TOKEN) -> Starlette:
    def denied(request: Request) -> Response | None:
        header = request.headers.get("authorization")
        if header is None:
            return JSON({"detail": "Authentication credentials were not provided."}, 401)
        if header != f"Token {token}":
            return JSON({"detail": "Invalid token."}, 401)
        return None

    async def get_order(request: Request) -> Response:
        if (refusal := denied(request)) is not None:
            return refusal
        wanted = request.path_params["id"]
        if not wanted.isdigit():
            return JSON({"detail": "Invalid order id."}, 400)
        found = next((o for o in data.orders if str(o["id"]) == wanted), None)
        return JSON(found) if found else JSON({"detail": "Not found."}, 404)

    async def list_orders(request: Request) -> Response:
        if (refusal := denied(request)) is not None:
            return refusal
        q = request.query_params
        items = data.orders
        if q.get("ordering") == "created_at":
            items = list(reversed(items))
        if (cid := q.get("customer")) is not None:
            items = [o for o in items if str(o["customer_data"]["id"]) == cid]
        if (status := q.get("status")) is not None:
            items = [o for o in items if o["status"] == status]
        return _page(request, items)

    async def get_customer(request: Request) -> Response:
        if (refusal := denied(request)) is not None:
            return refusal
        found = data.customers.get(request.path_params["id"])
        return JSON(found) if found else JSON({"detail": "Not found."}, 404)

    async def list_customers(request: Request) -> Response:
        if (refusal := denied(request)) is not None:
            return refusal
        items = email_lookups(list(data.customers.values()), request.query_params)
        return _page(request, items)

    return Starlette(
        routes=[
            Route("/api/orders/", list_orders),
            Route("/api/orders/{id}", get_order),
            Route("/api/customers/", list_customers),
            Route("/api/customers/{id}", get_customer),
        ]
    )


def _page(request: Request, items: list[dict[str, Any]]) -> Response:
    q = request.query_params
    size = int_param(q.get("page_size"), 20, low=1, high=100)
    page = int_param(q.get("page"), 1, low=1)
    start = (page - 1) * size
    if start >= len(items) and page != 1:
        return JSON({"detail": "Invalid page."}, 404)

    def link(n: int) -> str:
        return str(request.url.include_query_params(page=n))

    return JSON(
        {
            "count": len(items),
            "next": link(page + 1) if start + size < len(items) else None,
            "previous": link(page - 1) if page > 1 else None,
            "results": items[start : start + size],
        }
    )


def demo_source(base_url: str) -> dict[str, Any]:
    return {"kind": "hamgam", "base_url": base_url, "token": DEMO_TOKEN, "currency": "EUR"}


#: the seed order and the refusal the contract suite checks (tests/test_sources_contract.py)
CONTRACT = Contract(
    seed_id="123",
    missing_id="999999",
    credential="token",
    auth_header="authorization",
    auth_backend_code=None,
    customer_path="/api/customers/",
    number="HG-2024-000123",
    status="COMPLETED",
    source_status="delivered",
    created_at="2024-03-01T10:15:00.000000+00:00",
    total=("1850.00", "EUR"),
    line_count=2,
)
