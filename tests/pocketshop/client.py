"""The Pocketshop API: key in a header, offset paging, money as decimal strings."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Literal

from pydantic import Field

from gateway.domain import (
    Customer,
    Deferred,
    LineItem,
    Order,
    OrderPage,
    OrderQuery,
    OrderStatus,
    Price,
    SourceKind,
)
from gateway.sources.base import SourceSettings
from gateway.sources.http import ErrorReader
from gateway.sources.lookup import same_email
from gateway.sources.rest import RestSource, segment
from gateway.values import money_major, status_of, text, utc_datetime, whole

KIND = SourceKind("pocketshop", "Pocketshop: a kind that lives only in the tests.")
MAX_PAGE_SIZE = 50
STATUSES = {"open": OrderStatus.PENDING, "paid": OrderStatus.COMPLETED}


class PocketshopSettings(SourceSettings):
    kind: Literal["pocketshop"] = "pocketshop"
    key: str = Field(description='the API key, sent as "X-Pocket-Key"')

    def secrets(self) -> list[str]:
        return [self.key]


def read_error(status: int, body: Any) -> tuple[str | None, str]:
    """``{"error": {"code": ..., "message": ...}}``."""
    error = body.get("error") if isinstance(body, Mapping) else None
    if isinstance(error, Mapping):
        return text(error.get("code")), str(error.get("message") or f"HTTP {status}")
    return None, f"HTTP {status}"


def customer(source: str, data: Mapping[str, Any]) -> Customer:
    return Customer(
        source=source,
        kind=KIND,
        source_id=str(data["id"]),
        email=text(data.get("email")),
        name=text(data.get("name")),
        phone=text(data.get("phone")),
    )


def order(source: str, data: Mapping[str, Any]) -> Order:
    currency = str(data["currency"])
    buyer = str(data["customer_id"])
    return Order(
        source=source,
        kind=KIND,
        source_id=str(data["id"]),
        number=text(data.get("number")),
        status=status_of(STATUSES, data.get("status")),
        source_status=text(data.get("status")),
        created_at=utc_datetime(data.get("created")),
        currency=currency,
        price=Price(currency=currency, total=money_major(data.get("total"), currency)),
        # the order names its customer only: anything more is one customer GET
        customer=Customer(source=source, kind=KIND, source_id=buyer, present=frozenset()),
        customer_id=buyer,
        lines=Deferred(
            lambda: tuple(
                LineItem(
                    id=str(line["id"]),
                    quantity=whole(line["qty"]),
                    product_name=text(line.get("name")),
                    unit_price=money_major(line.get("price"), currency),
                )
                for line in data.get("lines") or ()
            )
        ),
        raw=data,
    )


class PocketshopSource(RestSource[PocketshopSettings]):
    kind = KIND
    list_page_size = MAX_PAGE_SIZE
    read_error: ClassVar[ErrorReader] = staticmethod(read_error)

    def headers(self) -> dict[str, str]:
        return {"X-Pocket-Key": self.settings.key}

    async def fetch_order(self, source_id: str) -> Order | None:
        data = await self.http.get_json(f"/orders/{segment(source_id)}")
        return None if data is None else order(self.name, data)

    async def fetch_customer(self, source_id: str) -> Customer | None:
        data = await self.http.get_json(f"/customers/{segment(source_id)}")
        return None if data is None else customer(self.name, data)

    async def fetch_list(
        self, stream: str, query: OrderQuery, offset: int, limit: int
    ) -> OrderPage:
        size = min(limit, MAX_PAGE_SIZE)
        body = await self.http.get_json("/orders", params={"offset": offset, "limit": size})
        assert body is not None
        items = body["orders"]
        return OrderPage(
            tuple(order(self.name, item) for item in items), has_more=body["more"] is True
        )

    async def fetch_customers_by_email(self, email: str) -> list[Customer]:
        body = await self.http.get_json("/customers", params={"email": email})
        assert body is not None
        found = body["customers"]
        return [customer(self.name, c) for c in found if same_email(c.get("email"), email)]
