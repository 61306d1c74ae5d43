"""The Pocketshop simulator: 30 orders of 8 customers, newest first, behind one key."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.routing import Route

from gateway.simulation import JSON, Contract, int_param

DEMO_KEY = "demo-pocket-key"
SEED_CREATED = datetime(2024, 6, 1, 12, 0, tzinfo=UTC)


@dataclass
class PocketData:
    orders: list[dict[str, Any]] = field(default_factory=list)
    customers: dict[str, dict[str, Any]] = field(default_factory=dict)


def sample_data(count: int = 30) -> PocketData:
    data = PocketData()
    for n in range(8):
        cid = f"c{n}"
        data.customers[cid] = {
            "id": cid,
            "email": f"buyer{n}@pocket.example",
            "name": f"Buyer {n}",
            "phone": f"+3160000000{n}",
        }
    for i in range(count):
        lines = [{"id": f"{i}-1", "qty": 1, "name": "Widget", "price": "10.00"}]
        if i % 2 == 0:
            lines.append({"id": f"{i}-2", "qty": 2, "name": "Gadget", "price": "1.25"})
        data.orders.append(
            {
                "id": str(1000 + i),
                "number": f"P-{i:04d}",
                "status": "paid" if i % 3 else "open",
                "created": (SEED_CREATED - timedelta(hours=i)).isoformat(),
                "total": "12.50" if i % 2 == 0 else "10.00",
                "currency": "EUR",
                "customer_id": f"c{i % 8}",
                "lines": lines,
            }
        )
    return data


def listed(data: PocketData) -> list[tuple[str, str]]:
    return [(o["created"], o["id"]) for o in data.orders]


def create_app(data: PocketData) -> Starlette:
    def refused(request: Request) -> JSON | None:
        if request.headers.get("x-pocket-key") != DEMO_KEY:
            return JSON({"error": {"code": "bad_key", "message": "Unknown API key."}}, 401)
        return None

    def missing() -> JSON:
        return JSON({"error": {"code": "not_found", "message": "No such thing."}}, 404)

    async def list_orders(request: Request) -> JSON:
        offset = int_param(request.query_params.get("offset"), 0)
        limit = int_param(request.query_params.get("limit"), 50, low=1, high=50)
        window = data.orders[offset : offset + limit]
        more = offset + limit < len(data.orders)
        return refused(request) or JSON({"orders": window, "more": more})

    async def get_order(request: Request) -> JSON:
        found = [o for o in data.orders if o["id"] == request.path_params["id"]]
        return refused(request) or (JSON(found[0]) if found else missing())

    async def search_customers(request: Request) -> JSON:
        email = (request.query_params.get("email") or "").lower()
        found = [c for c in data.customers.values() if c["email"].lower() == email]
        return refused(request) or JSON({"customers": found})

    async def get_customer(request: Request) -> JSON:
        found = data.customers.get(request.path_params["id"])
        return refused(request) or (JSON(found) if found else missing())

    return Starlette(
        routes=[
            Route("/orders", list_orders),
            Route("/orders/{id}", get_order),
            Route("/customers", search_customers),
            Route("/customers/{id}", get_customer),
        ]
    )


def demo_source(base_url: str) -> dict[str, Any]:
    return {"kind": "pocketshop", "base_url": base_url, "key": DEMO_KEY}


CONTRACT = Contract(
    seed_id="1000",
    missing_id="999",
    credential="key",
    auth_header="x-pocket-key",
    auth_backend_code="bad_key",
    customer_path="/customers/",
    number="P-0000",
    status="PENDING",
    source_status="open",
    created_at="2024-06-01T12:00:00.000000+00:00",
    total=("12.50", "EUR"),
    line_count=2,
)
