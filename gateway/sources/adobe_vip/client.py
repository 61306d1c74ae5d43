"""The Adobe VIP Marketplace Partner API (docs/backends.md)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from gateway.credentials.build import TokenGrant
from gateway.domain import Customer, Order, OrderPage, OrderQuery
from gateway.errors import BadUserInput
from gateway.sources.adobe_vip import normalize
from gateway.sources.adobe_vip.grant import AdobeIms
from gateway.sources.adobe_vip.settings import AdobeVipSettings
from gateway.sources.http import ErrorReader
from gateway.sources.rest import RestSource, segment
from gateway.sources.status_filter import backend_values
from gateway.telemetry import requestid

#: The API's page size limit (larger values are clamped by Adobe).
MAX_LIMIT = 100
#: Without start-date Adobe lists only the current term; the gateway wants all history.
HISTORY_START = "2000-01-01"
#: The order statuses the history's ``status`` parameter takes ("1000, 1002, 1004, or
#: 1026": Adobe's VIP Marketplace Partner API docs, "Get order details", the order
#: history's query parameters). A filter needing any other code is not sent.
FILTERABLE_STATUSES = frozenset({"1000", "1002", "1004", "1026"})


def read_error(status: int, body: Any) -> tuple[str | None, str]:
    """``{"code": "2115", "message": "...", "additionalDetails": [...]}``."""
    if isinstance(body, Mapping):
        code = body.get("code")
        return (None if code is None else str(code)), str(body.get("message") or "")
    return None, f"HTTP {status}"


def _missing(status: int, body: Any) -> bool:
    return status == 404


def _past_end(status: int, body: Any) -> bool:
    # An offset beyond the total answers 400 with code 1133: the list has ended.
    return status == 400 and isinstance(body, Mapping) and str(body.get("code")) == "1133"


def _zulu(moment: Any) -> str:
    return str(moment.isoformat()).replace("+00:00", "Z")


class AdobeVipSource(RestSource[AdobeVipSettings]):
    kind = normalize.KIND
    list_page_size = MAX_LIMIT
    read_error: ClassVar[ErrorReader] = staticmethod(read_error)
    # Adobe's X-Request-Id must be new per attempt: the gateway's id goes as X-Correlation-Id.
    request_id_header: ClassVar[str | None] = None

    def headers(self) -> dict[str, str]:
        fixed = {
            "X-Api-Key": self.settings.x_api_key,
            "Accept": "application/json",
            "Content-Type": "application/json",
        }
        if self.settings.token is not None:
            fixed["Authorization"] = f"Bearer {self.settings.token}"
        return fixed

    def token_grant(self) -> TokenGrant | None:
        conf = self.settings
        if conf.ims_client_id is None or conf.ims_client_secret is None:
            return None
        grant = AdobeIms(
            self.name,
            ims_url=str(conf.ims_url),
            client_id=conf.ims_client_id,
            client_secret=conf.ims_client_secret,
            scopes=conf.ims_scopes,
            timeout_s=conf.timeout_s,
        )
        return TokenGrant(grant, conf.ims_client_id)

    def attempt_headers(self) -> dict[str, str]:
        return {"X-Request-Id": str(uuid.uuid4())}

    def _call(self) -> dict[str, str]:
        """One logical call's headers: its retries reuse the X-Correlation-Id, the
        request's id (so Adobe's support can find every call of one request)."""
        return {"X-Correlation-Id": requestid.current() or str(uuid.uuid4())}

    def _price_params(self) -> dict[str, str]:
        return {"fetch-price": "true"} if self.settings.fetch_price else {}

    async def fetch_order(self, source_id: str) -> Order | None:
        parts = normalize.split_source_id(source_id)
        if parts is None:
            raise BadUserInput("an adobe_vip sourceId is '<customer-id>/<order-id>'")
        cid, oid = parts
        data = await self.http.get_json(
            f"/v3/customers/{segment(cid)}/orders/{segment(oid)}",
            params=self._price_params(),
            headers=self._call(),
            missing=_missing,
        )
        return None if data is None else normalize.order(self.name, data)

    async def _customer_payload(self, customer_id: str) -> Any:
        return await self.http.get_json(
            f"/v3/customers/{segment(customer_id)}", headers=self._call(), missing=_missing
        )

    async def fetch_customer(self, source_id: str) -> Customer | None:
        data = await self._customer_payload(source_id)
        return None if data is None else normalize.customer(self.name, data)

    def streams(self, query: OrderQuery) -> Sequence[str]:
        if backend_values(normalize.STATUSES, query.statuses) == ():
            return ()  # no Adobe status reads as one asked for: nothing to ask
        if query.customer_ids is not None:
            return sorted(query.customer_ids)
        return self.settings.customer_ids

    async def fetch_list(
        self, stream: str, query: OrderQuery, offset: int, limit: int
    ) -> OrderPage:
        params: list[tuple[str, str | int]] = [
            ("limit", min(max(limit, 1), MAX_LIMIT)),
            ("offset", offset),
            *self._price_params().items(),
        ]
        start = HISTORY_START
        if self.settings.pushdown:
            if query.created_after is not None:
                start = _zulu(query.created_after)
            if query.created_before is not None:
                params.append(("end-date", _zulu(query.created_before)))
            codes = backend_values(normalize.STATUSES, query.statuses)
            # repeated ``status`` values are alternatives; only the documented ones are
            # sent, and then only when they are every code the filter needs
            if codes and FILTERABLE_STATUSES.issuperset(codes):
                params += [("status", code) for code in codes]
        params.append(("start-date", start))
        body = await self.http.get_json(
            f"/v3/customers/{segment(stream)}/orders",
            params=params,
            headers=self._call(),
            missing=lambda status, b: _missing(status, b) or _past_end(status, b),
        )
        if body is None:  # the customer does not exist, or the offset is past the end
            return OrderPage((), has_more=False)
        items = body["items"]
        total = int(body["totalCount"])
        return OrderPage(
            tuple(normalize.order(self.name, item) for item in items),
            has_more=offset + len(items) < total,
        )

    async def fetch_customers_by_email(self, email: str) -> list[Customer]:
        # The API has no search by email: the configured customers are checked one by one.
        wanted = email.lower()
        payloads = await asyncio.gather(
            *(self._customer_payload(cid) for cid in self.settings.customer_ids)
        )
        return [
            normalize.customer(self.name, data)
            for data in payloads
            if data is not None and wanted in (e.lower() for e in normalize.contact_emails(data))
        ]
