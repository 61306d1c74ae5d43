"""The LicenseSpring Management API (docs/backends.md)."""

from __future__ import annotations

from typing import Any

from gateway.domain import Customer, Order, OrderPage, OrderQuery, OrderStatus
from gateway.sources.licensespring import normalize
from gateway.sources.licensespring.settings import LicenseSpringSettings
from gateway.sources.lookup import every_page, same_email
from gateway.sources.rest import RestSource, segment

#: The API's largest page; its default is 20.
MAX_PAGE = 100


class LicenseSpringSource(RestSource[LicenseSpringSettings]):
    kind = normalize.KIND
    list_page_size = MAX_PAGE

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Api-Key {self.settings.api_key}", "Accept": "application/json"}

    async def fetch_order(self, source_id: str) -> Order | None:
        data = await self.http.get_json(f"/api/v1/orders/{segment(source_id)}/")
        return None if data is None else normalize.order(self.name, data)

    async def fetch_customer(self, source_id: str) -> Customer | None:
        data = await self.http.get_json(f"/api/v1/customers/{segment(source_id)}/")
        return None if data is None else normalize.customer(self.name, data)

    async def fetch_list(
        self, stream: str, query: OrderQuery, offset: int, limit: int
    ) -> OrderPage:
        if query.statuses is not None and OrderStatus.COMPLETED not in query.statuses:
            return OrderPage((), has_more=False)  # every LicenseSpring order is COMPLETED
        params: dict[str, Any] = {
            "limit": min(limit, MAX_PAGE),
            "offset": offset,
            "order_by": "-created_at",
        }
        if self.settings.pushdown and query.customer_ids and len(query.customer_ids) == 1:
            params["customer_id"] = next(iter(query.customer_ids))
        body = await self.http.get_json("/api/v1/orders/", params=params)
        results = body["results"]
        return OrderPage(
            tuple(normalize.order(self.name, item) for item in results),
            has_more=body.get("next") is not None,
        )

    async def fetch_customers_by_email(self, email: str) -> list[Customer]:
        # List Customers (Management API docs) filters ``email`` exactly, which a
        # PostgreSQL-backed Django compares case-sensitively; its ``email__icontains``
        # finds every case (and a superset, which ``same_email`` narrows to the address).
        async def read(number: int) -> tuple[list[Any], bool]:
            params: dict[str, str | int] = {
                "email__icontains": email,
                "limit": MAX_PAGE,
                "offset": number * MAX_PAGE,
            }
            body = await self.http.get_json("/api/v1/customers/", params=params)
            return list(body["results"]), body.get("next") is not None

        found = await every_page(self.name, read)
        return [
            normalize.customer(self.name, item)
            for item in found
            if same_email(item.get("email"), email)
        ]
