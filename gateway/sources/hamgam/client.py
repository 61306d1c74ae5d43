"""The Hamgam shop API (docs/backends.md)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gateway.domain import Customer, Order, OrderPage, OrderQuery
from gateway.sources.hamgam import normalize
from gateway.sources.hamgam.settings import HamgamSettings
from gateway.sources.lookup import every_page, same_email
from gateway.sources.rest import RestSource, page_window, segment
from gateway.sources.status_filter import one_value_streams

#: The largest page the client asks for (DRF's usual max_page_size).
MAX_PAGE_SIZE = 100
#: The customer list's case-insensitive email search (a django-filter lookup; Hamgam's
#: list API is unconfirmed by its docs: the simulator serves exactly this).
CUSTOMER_EMAIL_SEARCH = "email__icontains"


class HamgamSource(RestSource[HamgamSettings]):
    kind = normalize.KIND
    list_page_size = MAX_PAGE_SIZE

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Token {self.settings.token}", "Accept": "application/json"}

    async def fetch_order(self, source_id: str) -> Order | None:
        data = await self.http.get_json(f"/api/orders/{segment(source_id)}")
        return None if data is None else normalize.order(self.name, data, self.settings.currency)

    async def fetch_customer(self, source_id: str) -> Customer | None:
        data = await self.http.get_json(f"/api/customers/{segment(source_id)}")
        return None if data is None else normalize.customer(self.name, data)

    def streams(self, query: OrderQuery) -> Sequence[str]:
        # ``status`` takes one value (a django-filter exact field): a stream per value
        return one_value_streams(normalize.STATUSES, query, pushdown=self.settings.pushdown)

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
            if stream:  # the stream's one status value (``streams``)
                params["status"] = stream
        body = await self.http.get_json("/api/orders/", params=params)
        if body is None:  # DRF answers a page past the end with 404 "Invalid page."
            return OrderPage((), has_more=False)
        currency = self.settings.currency
        return OrderPage(
            tuple(normalize.order(self.name, item, currency) for item in body["results"][skip:]),
            has_more=body.get("next") is not None,
        )

    async def fetch_customers_by_email(self, email: str) -> list[Customer]:
        # A Django shop: its ``email`` filter would be exact and, on PostgreSQL,
        # case-sensitive; the case-blind ``email__icontains`` (unconfirmed by Hamgam's
        # docs, like its whole list API: CUSTOMER_EMAIL_SEARCH) finds every case, and
        # ``same_email`` keeps the address asked.
        async def read(number: int) -> tuple[list[Any], bool]:
            params: dict[str, str | int] = {
                CUSTOMER_EMAIL_SEARCH: email,
                "page": number + 1,
                "page_size": MAX_PAGE_SIZE,
            }
            body = await self.http.get_json("/api/customers/", params=params)
            if body is None:  # DRF's 404 "Invalid page." past the end
                return [], False
            return list(body["results"]), body.get("next") is not None

        found = await every_page(self.name, read)
        return [
            normalize.customer(self.name, item)
            for item in found
            if same_email(item.get("email"), email)
        ]
