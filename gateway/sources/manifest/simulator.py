"""A simulator made from a manifest and sample payloads: the API the manifest describes,
serving the samples (repeated with new ids and dates up to ``count`` orders).

It checks the manifest's authentication against the samples' demo credentials, pages and
filters the list as the manifest says the API does (newest first), and answers errors
with the samples' own error bodies, so an adapter built from the same manifest is tested
against the shapes the vendor documents, not against itself.
"""

from __future__ import annotations

import base64
import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.encoding import dumps
from gateway.simulation import int_param
from gateway.sources.manifest.client import fill
from gateway.sources.manifest.model import Manifest, Read
from gateway.sources.manifest.normalize import at
from gateway.values import utc_datetime


@dataclass
class ManifestData:
    """What one manifest simulator serves (tests may change it)."""

    orders: list[dict[str, Any]]
    customers: list[dict[str, Any]]
    errors: dict[str, Any]
    list_headers: dict[str, Any] = field(default_factory=dict)
    credentials: dict[str, str] = field(default_factory=dict)


def read_samples(path: Path) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"), parse_float=Decimal)
    return parsed


def sample_data(
    manifest: Manifest, samples: Mapping[str, Any], count: int | None = None
) -> ManifestData:
    """The samples, repeated with new ids, numbers and dates (each copy older than the
    last) until there are ``count`` orders (default: the samples as they are)."""
    base = [dict(o) for o in samples["orders"]]
    orders = list(base)
    wanted = len(base) if count is None else count
    m = manifest.order
    copy_no = 0
    while len(orders) < wanted:
        copy_no += 1
        for template in base:
            if len(orders) >= wanted:
                break
            made = copy.deepcopy(template)
            old_id = at(template, _path(m.source_id))
            new_id = _shift_id(old_id, copy_no * 100_000)
            _put(made, _path(m.source_id), new_id)
            if m.number is not None and isinstance(at(template, _path(m.number)), str):
                _put(made, _path(m.number), str(new_id))
            for spec in (m.created_at, m.updated_at):
                if spec is not None and (when := at(template, _path(spec))):
                    earlier = _when(when) - timedelta(days=30 * copy_no)
                    _put(made, _path(spec), _written_like(when, earlier))
            orders.append(made)
    return ManifestData(
        orders=orders[:wanted],
        customers=[dict(c) for c in samples.get("customers", [])],
        errors=dict(samples.get("errors", {})),
        list_headers=dict(samples.get("list_headers", {})),
        credentials=dict(samples.get("credentials", {})),
    )


def create_app(manifest: Manifest, data: ManifestData) -> Starlette:
    m = manifest.order
    created = _path(m.created_at) if m.created_at is not None else None
    listing = manifest.list
    filters = listing.filters
    statuses_param = filters.status

    def refused(request: Request) -> Response | None:
        expected = _expected_auth(manifest, data.credentials)
        for header, value in expected.items():
            if request.headers.get(header) != value:
                return _json(data.errors.get("unauthorized", {"message": "unauthorized"}), 401)
        return None

    def order_by_id(source_id: str) -> dict[str, Any] | None:
        return next((o for o in data.orders if str(at(o, _path(m.source_id))) == source_id), None)

    async def get_order(request: Request) -> Response:
        if (no := refused(request)) is not None:
            return no
        found = order_by_id(request.path_params["id"])
        if found is None:
            return _json(data.errors.get("not_found", {"message": "not found"}), 404)
        return _json(found)

    async def get_customer(request: Request) -> Response:
        if (no := refused(request)) is not None:
            return no
        wanted = request.path_params["id"]
        found = next((c for c in data.customers if str(c.get("id")) == wanted), None)
        if found is None:
            error = data.errors.get("customer_not_found") or data.errors.get("not_found")
            return _json(error or {"message": "not found"}, 404)
        return _json(found)

    async def list_orders(request: Request) -> Response:
        if (no := refused(request)) is not None:
            return no
        q = request.query_params
        chosen = list(data.orders)
        if created is not None:
            chosen.sort(key=lambda o: _when(at(o, created)), reverse=True)
            if filters.created_after and (after := q.get(filters.created_after)):
                bound = _when(after)
                chosen = [o for o in chosen if _when(at(o, created)) > bound]
            if filters.created_before and (before := q.get(filters.created_before)):
                bound = _when(before)
                chosen = [o for o in chosen if _when(at(o, created)) < bound]
        if statuses_param and (given := q.get(statuses_param)):
            names = given.split(filters.status_join) if filters.status_join else [given]
            chosen = [o for o in chosen if str(at(o, _path(m.status))) in names]
        if filters.customer and (customer := q.get(filters.customer)):
            chosen = [o for o in chosen if str(at(o, _path(m.customer_id))) == customer]
        size = int_param(q.get(listing.size_param), 10, low=1, high=listing.max_size)
        if listing.paging == "page":
            page = int_param(q.get(listing.page_param), listing.first_page, low=listing.first_page)
            start = (page - listing.first_page) * size
        else:
            page, start = 0, int_param(q.get(listing.offset_param), 0)
        if start >= len(chosen) and start > 0 and listing.past_end:
            return _json(
                data.errors.get("past_end", {"detail": "Invalid page."}), listing.past_end[0]
            )
        records = chosen[start : start + size]
        more = start + size < len(chosen)
        headers = _list_headers(
            request, data.list_headers, len(chosen), size, page, more, listing.page_param
        )
        if listing.records == "":
            return _json(records, headers=headers)
        body: dict[str, Any] = {"count": len(chosen), listing.next_field: None, "results": None}
        if more:
            body[listing.next_field] = str(
                request.url.include_query_params(**{listing.page_param: page + 1})
            )
        _put(body, listing.records.split("."), records)
        return _json(body, headers=headers)

    async def find_customers(request: Request) -> Response:
        if (no := refused(request)) is not None:
            return no
        search = manifest.customer_search
        email = (request.query_params.get(search.param) or "").lower()
        found = [c for c in data.customers if str(c.get("email") or "").lower() == email]
        if search.records == "":
            return _json(found)
        body: dict[str, Any] = {"count": len(found), "next": None}
        _put(body, search.records.split("."), found)
        return _json(body)

    return Starlette(
        routes=[
            Route(manifest.order_path, get_order),
            Route(manifest.customer_path, get_customer),
            Route(listing.path, list_orders),
            Route(manifest.customer_search.path, find_customers),
        ]
    )


def demo_source(manifest: Manifest, data: ManifestData, base_url: str) -> dict[str, Any]:
    """The demo's source table for this simulator (its demo credentials)."""
    return {"kind": manifest.kind, "base_url": base_url, **data.credentials}


# -- helpers -------------------------------------------------------------------------


def _path(spec: str | Read | None) -> list[str]:
    if isinstance(spec, str):
        return spec.split(".")
    if isinstance(spec, Read) and spec.path is not None:
        return spec.path.split(".")
    raise ValueError("the simulator needs a plain path for ids, numbers and dates")


def _put(data: Any, path: list[str], value: Any) -> None:
    for step in path[:-1]:
        data = data.setdefault(step, {})
    data[path[-1]] = value


def _shift_id(value: Any, by: int) -> Any:
    return value + by if isinstance(value, int) else f"{value}-{by}"


def _when(value: Any) -> datetime:
    moment = utc_datetime(value)
    if moment is None:
        raise ValueError("a sample order without a creation date")
    return moment


def _written_like(template: str, moment: datetime) -> str:
    """``moment`` written as the sample wrote its date (zone or none)."""
    naive = moment.replace(tzinfo=None).isoformat(timespec="seconds")
    if template.endswith("Z"):
        return naive + "Z"
    if template.endswith("+00:00"):
        return naive + "+00:00"
    return naive


def _expected_auth(manifest: Manifest, credentials: Mapping[str, str]) -> dict[str, str]:
    auth = manifest.auth
    if auth.type == "basic":
        pair = f"{fill(auth.username or '', credentials)}:{fill(auth.password or '', credentials)}"
        return {"authorization": "Basic " + base64.b64encode(pair.encode()).decode("ascii")}
    if auth.type == "bearer":
        return {"authorization": f"Bearer {fill(auth.token or '', credentials)}"}
    return {(auth.header or "").lower(): fill(auth.value or "", credentials)}


def _list_headers(
    request: Request,
    names: Mapping[str, Any],
    total: int,
    size: int,
    page: int,
    more: bool,
    page_param: str,
) -> dict[str, str]:
    headers: dict[str, str] = {}
    if total_name := names.get("total"):
        headers[str(total_name)] = str(total)
    if pages_name := names.get("pages"):
        headers[str(pages_name)] = str(-(-total // size))
    if names.get("link") and more:
        query = {**request.query_params, page_param: str(page + 1)}
        headers["Link"] = f'<{request.url.replace(query=urlencode(query))}>; rel="next"'
    return headers


def _json(body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> Response:
    return Response(dumps(body), status, headers=dict(headers or {}), media_type="application/json")
