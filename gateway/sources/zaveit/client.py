"""The Zaveit marketplace API (docs/backends.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from gateway.domain import Customer, Order, OrderPage, OrderQuery
from gateway.sources.http import ErrorReader
from gateway.sources.lookup import every_page, same_email
from gateway.sources.rest import RestSource, page_window, segment
from gateway.sources.status_filter import any_can_match, backend_values
from gateway.sources.zaveit import api, normalize
from gateway.sources.zaveit.settings import ZaveitSettings


def read_error(status: int, body: Any) -> tuple[str | None, str]:
    if isinstance(body, Mapping):
        code = body.get("code")
        return (None if code is None else str(code)), str(body.get("message") or "")
    return None, f"HTTP {status}"


class ZaveitSource(RestSource[ZaveitSettings]):
    kind = normalize.KIND
    list_page_size = api.MAX_PER_PAGE
    read_error: ClassVar[ErrorReader] = staticmethod(read_error)

    def headers(self) -> dict[str, str]:
        return {"~session": self.settings.token, "Accept": "application/json"}

    async def fetch_order(self, source_id: str) -> Order | None:
        data = await self.http.get_json(f"/v1/order/{segment(source_id)}")
        return None if data is None else normalize.order(self.name, data)

    async def fetch_customer(self, source_id: str) -> Customer | None:
        data = await self.http.get_json(f"/v1/account/{segment(source_id)}")
        return None if data is None else normalize.customer(self.name, data)

    def streams(self, query: OrderQuery) -> Sequence[str]:
        # no Zaveit status reads as one asked for: nothing to ask
        return ("",) if any_can_match(normalize.STATUSES, query) else ()

    async def fetch_list(
        self, stream: str, query: OrderQuery, offset: int, limit: int
    ) -> OrderPage:
        page, per_page, skip = page_window(offset, limit, api.MAX_PER_PAGE)
        params: list[tuple[str, str | int]] = [
            ("~page", page),
            ("~perPage", per_page),
            ("~sort", api.LIST_SORT),
        ]
        if self.settings.pushdown:
            if query.created_after is not None:
                params.append(("~filter[from]", query.created_after.isoformat()))
            if query.created_before is not None:
                params.append(("~filter[to]", query.created_before.isoformat()))
            # repeated, the values are alternatives (as ~filter[account]'s)
            statuses = backend_values(normalize.STATUSES, query.statuses)
            params += [("~filter[status]", value) for value in statuses or ()]
            if query.customer_ids:
                params += [(api.ACCOUNT_FILTER, cid) for cid in sorted(query.customer_ids)]
        body = await self.http.get_json("/v2/order/detailed", params=params)
        paging = body.get(api.PAGINATION_KEY) or {}
        items = body["orders"]
        return OrderPage(
            tuple(normalize.summary(self.name, item) for item in items[skip:]),
            has_more=int(paging.get("page", page)) < int(paging.get("pages", 0)),
        )

    async def fetch_customers_by_email(self, email: str) -> list[Customer]:
        # a free-text search (names too): read to its last page, keep the address asked
        async def read(number: int) -> tuple[list[Any], bool]:
            params: dict[str, str | int] = {
                "~search": email,
                "~page": number + 1,
                "~perPage": api.MAX_PER_PAGE,
            }
            body = await self.http.get_json(api.ACCOUNT_SEARCH_PATH, params=params)
            paging = body.get(api.PAGINATION_KEY) or {}
            more = int(paging.get("page", number + 1)) < int(paging.get("pages", 0))
            return list(body["accounts"]), more

        found = [normalize.customer(self.name, item) for item in await every_page(self.name, read)]
        return [c for c in found if same_email(c.email, email)]
