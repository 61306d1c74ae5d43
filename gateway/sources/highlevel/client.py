"""The HighLevel (LeadConnector) payments API (docs/backends.md)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, ClassVar

from gateway.credentials.build import TokenGrant
from gateway.domain import Customer, Order, OrderPage, OrderQuery
from gateway.sources.highlevel import normalize
from gateway.sources.highlevel.grant import HighLevelOAuth
from gateway.sources.highlevel.settings import HighLevelSettings
from gateway.sources.http import ErrorReader
from gateway.sources.rest import RestSource, segment
from gateway.sources.status_filter import one_value_streams

API_VERSION = "2021-07-28"
#: Page size limit of GET /payments/orders (its default is 10).
MAX_LIMIT = 100


def read_error(status: int, body: Any) -> tuple[str | None, str]:
    """``{statusCode, message, error?}``; a 422's message is a list."""
    if isinstance(body, Mapping):
        message = body.get("message")
        if isinstance(message, list):
            message = "; ".join(str(m) for m in message)
        code = body.get("statusCode")
        return (None if code is None else str(code)), str(message or body.get("error") or "")
    return None, f"HTTP {status}"


def _missing(status: int, body: Any) -> bool:
    # HighLevel answers an unknown order or contact id with 400, not 404.
    return status in (400, 404)


class HighLevelSource(RestSource[HighLevelSettings]):
    kind = normalize.KIND
    list_page_size = MAX_LIMIT
    read_error: ClassVar[ErrorReader] = staticmethod(read_error)

    def headers(self) -> dict[str, str]:
        fixed = {"Version": API_VERSION, "Accept": "application/json"}
        if self.settings.token is not None:
            fixed["Authorization"] = f"Bearer {self.settings.token}"
        return fixed

    def token_grant(self) -> TokenGrant | None:
        conf = self.settings
        if conf.oauth_client_id is None or conf.oauth_client_secret is None:
            return None
        grant = HighLevelOAuth(
            self.name,
            oauth_url=str(conf.oauth_url),
            client_id=conf.oauth_client_id,
            client_secret=conf.oauth_client_secret,
            timeout_s=conf.timeout_s,
        )
        return TokenGrant(grant, conf.oauth_client_id, conf.oauth_refresh_token, conf.token_store)

    def _location(self) -> dict[str, str]:
        return {"altId": self.settings.location_id, "altType": "location"}

    async def fetch_order(self, source_id: str) -> Order | None:
        data = await self.http.get_json(
            f"/payments/orders/{segment(source_id)}", params=self._location(), missing=_missing
        )
        return None if data is None else normalize.order(self.name, data)

    async def fetch_customer(self, source_id: str) -> Customer | None:
        data = await self.http.get_json(f"/contacts/{segment(source_id)}", missing=_missing)
        return None if data is None else normalize.contact(self.name, data["contact"])

    def streams(self, query: OrderQuery) -> Sequence[str]:
        # GET /payments/orders takes ``status`` as one string (HighLevel's List Orders
        # reference, and its official SDK @gohighlevel/api-client): a stream per value
        return one_value_streams(normalize.STATUSES, query, pushdown=self.settings.pushdown)

    async def fetch_list(
        self, stream: str, query: OrderQuery, offset: int, limit: int
    ) -> OrderPage:
        params: dict[str, Any] = {
            **self._location(),
            "limit": min(max(limit, 1), MAX_LIMIT),
            "offset": offset,
        }
        if self.settings.pushdown:
            # startAt/endAt are whole days: push the covering days, filter exactly here.
            if query.created_after is not None:
                params["startAt"] = query.created_after.date().isoformat()
            if query.created_before is not None:
                params["endAt"] = (query.created_before + timedelta(days=1)).date().isoformat()
            if stream:  # the stream's one status value (``streams``)
                params["status"] = stream
            if query.customer_ids and len(query.customer_ids) == 1:
                params["contactId"] = next(iter(query.customer_ids))
        body = await self.http.get_json("/payments/orders", params=params)
        items = body["data"]
        return OrderPage(
            tuple(normalize.summary(self.name, item) for item in items),
            has_more=offset + len(items) < int(body["totalCount"]),
        )

    async def fetch_customers_by_email(self, email: str) -> list[Customer]:
        body = await self.http.get_json(
            "/contacts/search/duplicate",
            params={"locationId": self.settings.location_id, "email": email},
        )
        found = body.get("contact")
        if not found or str(found.get("email") or "").lower() != email.lower():
            return []
        return [normalize.contact(self.name, found)]
