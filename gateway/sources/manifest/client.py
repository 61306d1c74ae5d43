"""A source driven by a manifest: the same RestSource mechanics as the Python kinds
(retries, breaker, budget, cache, coalescing), with calls and readings from the file."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from gateway.domain import Customer, Order, OrderPage, OrderQuery, SourceKind
from gateway.sources.base import SourceSettings
from gateway.sources.lookup import every_page, same_email
from gateway.sources.manifest.model import ErrorBody, Manifest
from gateway.sources.manifest.normalize import Normalizer, at
from gateway.sources.rest import RestSource, page_window, segment
from gateway.values import ValueProblem, text


def fill(template: str, settings: Mapping[str, Any]) -> str:
    """A template's ``{key}`` replaced by the source setting's value."""
    return template.format_map({k: "" if v is None else v for k, v in settings.items()})


def error_reader(shape: ErrorBody) -> Any:
    def read(status: int, body: Any) -> tuple[str | None, str]:
        message = next((text(m) for p in shape.message if (m := at(body, p))), None)
        code = next((str(c) for p in shape.code if (c := at(body, p)) not in (None, "")), None)
        return code, message or f"HTTP {status}"

    return staticmethod(read)


class ManifestSource(RestSource[SourceSettings]):
    """One source of a manifest kind (its class is made per manifest: :func:`source_class`)."""

    manifest: ClassVar[Manifest]

    def __init__(self, name: str, settings: SourceSettings, **kwargs: Any) -> None:
        super().__init__(name, settings, **kwargs)
        self.values = settings.model_dump()
        self.read = Normalizer(name, self.manifest, self.values, self.kind)

    def headers(self) -> dict[str, str]:
        values = self.settings.model_dump()
        out = {k: fill(v, values) for k, v in self.manifest.headers.items()}
        auth = self.manifest.auth
        if auth.type == "basic":
            pair = f"{fill(auth.username or '', values)}:{fill(auth.password or '', values)}"
            out["Authorization"] = "Basic " + base64.b64encode(pair.encode()).decode("ascii")
        elif auth.type == "bearer":
            out["Authorization"] = f"Bearer {fill(auth.token or '', values)}"
        elif auth.header is not None:
            out[auth.header] = fill(auth.value or "", values)
        return out

    async def fetch_order(self, source_id: str) -> Order | None:
        if not source_id:
            return None
        data = await self.http.get_json(self._path(self.manifest.order_path, source_id))
        return None if data is None else self.read.order(data)

    async def fetch_customer(self, source_id: str) -> Customer | None:
        if not source_id:  # a guest: nothing to fetch
            return None
        data = await self.http.get_json(self._path(self.manifest.customer_path, source_id))
        return None if data is None else self.read.customer(data)

    async def fetch_list(
        self, stream: str, query: OrderQuery, offset: int, limit: int
    ) -> OrderPage:
        listing = self.manifest.list
        params: dict[str, Any] = dict(listing.params)
        skip = 0
        if listing.paging == "page":
            page, size, skip = page_window(offset, limit, listing.max_size)
            params[listing.page_param] = page - 1 + listing.first_page
        else:
            size = min(max(limit, 1), listing.max_size)
            params[listing.offset_param] = offset
        params[listing.size_param] = size
        if self.settings.pushdown:
            pushed = self._pushdown(query, params)
            if pushed is None:
                return OrderPage((), has_more=False)  # no backend status can match
        past_end = set(listing.past_end)
        body = await self.http.get_json(
            listing.path, params=params, missing=lambda status, _: status in past_end
        )
        if body is None:
            return OrderPage((), has_more=False)
        records = at(body, listing.records)
        if not isinstance(records, list):
            raise ValueProblem(f"expected a list of orders at {listing.records or 'the body'!r}")
        if listing.has_more == "next_field":
            more = at(body, listing.next_field) not in (None, "")
        else:
            more = len(records) >= size
        return OrderPage(tuple(self.read.order(r) for r in records[skip:]), has_more=more)

    def _pushdown(self, query: OrderQuery, params: dict[str, Any]) -> dict[str, Any] | None:
        """The filters the API takes, added to ``params``; None when no backend status can
        match the query (then no call is needed at all)."""
        given = self.manifest.list.filters
        dated = False
        # widened to whole seconds (and a second more), whether the API's bounds are
        # strict or not: the gateway applies the exact bounds afterwards
        for param, moment, widen in (
            (given.created_after, query.created_after, -1),
            (given.created_before, query.created_before, +1),
        ):
            if param is not None and moment is not None:
                params[param] = _date_param(moment, given.date_format, widen)
                dated = True
        if dated:
            params.update(given.extra)
        if given.customer and query.customer_ids and len(query.customer_ids) == 1:
            params[given.customer] = next(iter(query.customer_ids))
        if given.status is not None and query.statuses is not None:
            names = [n for n, s in self.manifest.statuses.items() if s in query.statuses]
            if not names and not _may_be_unknown(query):
                return None
            if names and given.status_join is not None and not _may_be_unknown(query):
                params[given.status] = given.status_join.join(names)
            elif len(names) == 1 and not _may_be_unknown(query):
                params[given.status] = names[0]
        return params

    async def fetch_customers_by_email(self, email: str) -> list[Customer]:
        search = self.manifest.customer_search

        async def read(number: int) -> tuple[list[Customer], bool]:
            params: dict[str, Any] = {**search.params, search.param: email}
            if search.next_field is not None:
                params[search.page_param] = number + 1
            body = await self.http.get_json(search.path, params=params)
            if body is None:  # a page past the end (DRF's 404 "Invalid page.")
                return [], False
            records = at(body, search.records)
            if not isinstance(records, list):
                raise ValueProblem(f"expected customers at {search.records or 'the body'!r}")
            more = search.next_field is not None and at(body, search.next_field) not in (None, "")
            return [self.read.customer(r) for r in records], more

        # the API's own match may be wider (a substring, another case): the gateway's is exact
        found = await every_page(self.name, read)
        return [c for c in found if same_email(c.email, email)]

    def _path(self, template: str, source_id: str) -> str:
        return template.replace("{id}", segment(source_id))


def _may_be_unknown(query: OrderQuery) -> bool:
    """UNKNOWN is every status the manifest does not name: no backend value asks for it."""
    from gateway.domain import OrderStatus

    return query.statuses is not None and OrderStatus.UNKNOWN in query.statuses


def _date_param(moment: datetime, style: str, widen: int) -> str:
    utc = moment.astimezone(UTC).replace(tzinfo=None, microsecond=0)
    written = (utc + timedelta(seconds=widen)).isoformat(timespec="seconds")
    return written if style == "iso_naive_utc" else written + "Z"


def source_class(manifest: Manifest, kind: SourceKind) -> type[ManifestSource]:
    """The source class of one manifest, whose objects report ``kind``."""
    return type(
        f"{manifest.kind.title().replace('_', '')}Source",
        (ManifestSource,),
        {
            "kind": kind,
            "list_page_size": manifest.list.max_size,
            "read_error": error_reader(manifest.errors),
            "manifest": manifest,
        },
    )
