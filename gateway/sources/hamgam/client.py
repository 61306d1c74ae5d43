"""The Hamgam shop API (docs/backends.md)."""

from __future__ import annotations

from typing import Any

from gateway.domain import Customer, Order, OrderPage, OrderQuery, SourceKind
from gateway.sources.hamgam import normalize
from gateway.sources.hamgam.settings import HamgamSettings
from gateway.sources.rest import RestSource, page_window, segment

#: The largest page the client asks for (DRF's usual max_page_size).
MAX_PAGE_SIZE = 100


class HamgamSource(RestSource[HamgamSettings]):
    kind = SourceKind.HAMGAM
    list_page_size = MAX_PAGE_SIZE

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.settings.token}", "Accept": "application/json"}

    async def fetch_order(self, source_id: str) -> Order | None:
        data = await self.http.get_json(f"/api/orders/{segment(source_id)}")
        return None if data is None else normalize.order(self.name, data, self.settings.currency)

    async def fetch_customer(self, source_id: str) -> Customer | None:
        data = await self.http.get_json(f"/api/customers/{segment(source_id)}")
        return None if data is None else normalize.customer(self.name, data)

    async def fetch_list(
        self, stream: str, query: OrderQuery, offset: int, limit: int
    ) -> OrderPage:
        page, page_size, skip = page_window(offset, limit, MAX_PAGE_SIZE)
        params: dict[str, Any] = {
            "page": page,
            "page_size": page_size,
            "ordering": "-created_at",
        }
        if self.settings.pushdown:
            if query.customer_ids and len(query.customer_ids) == 1:
                params["customer"] = next(iter(query.customer_ids))
            if query.statuses is not None:
                names = [n for n, s in normalize.STATUSES.items() if s in query.statuses]
                if len(names) == 1:
                    params["status"] = names[0]
        body = await self.http.get_json("/api/orders/", params=params)
        if body is None:  # DRF answers a page past the end with 404 "Invalid page."
            return OrderPage((), has_more=False)
        currency = self.settings.currency
        return OrderPage(
            tuple(normalize.order(self.name, item, currency) for item in body["results"][skip:]),
            has_more=body.get("next") is not None,
        )

    async def fetch_customers_by_email(self, email: str) -> list[Customer]:
        body = await self.http.get_json(
            "/api/customers/", params={"email": email, "page_size": MAX_PAGE_SIZE}
        )
        return [
            normalize.customer(self.name, item)
            for item in body["results"]
            if str(item.get("email") or "").lower() == email.lower()
        ]
