"""What one GraphQL request carries: sources, its own loaders, and partial errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from graphql import GraphQLError
from starlette.requests import HTTPConnection

from gateway.errors import GatewayError
from gateway.listing import CursorCodec
from gateway.loaders import Loaders
from gateway.security import Principal
from gateway.sources.base import Source


@dataclass(frozen=True)
class Visibility:
    """What this request may see of what it selected (scopes pii:read and raw:read)."""

    pii: bool = True
    raw: bool = True

    def without_pii(self) -> Visibility:
        return replace(self, pii=False)

    def without_raw(self) -> Visibility:
        return replace(self, raw=False)


@dataclass
class RequestContext:
    request: HTTPConnection
    #: only the sources this caller may read: others do not exist for it
    sources: Mapping[str, Source]
    codec: CursorCodec
    loaders: Loaders
    principal: Principal
    max_page: int = 500
    visibility: Visibility = field(default_factory=Visibility)
    #: errors for fields that still returned data (a source missing from a merged list)
    partial_errors: list[GraphQLError] = field(default_factory=list)
    #: whether a selection (by its field nodes) is answered by a summary carrying these
    #: fields; the 50 orders of a page share one selection, so it is judged once (once
    #: per document where the executor has a plan: it hands the plan's memo in here)
    fits_summary: dict[tuple[tuple[int, ...], frozenset[str]], bool] = field(default_factory=dict)
    #: the id of the event a subscription just yielded (OrderEvent.id), taken into its
    #: result (gateway.schema.live.EventResult) for the transports that send it (SSE)
    event_id: str | None = None

    def report(self, error: GatewayError, path: list[str | int]) -> None:
        self.partial_errors.append(GraphQLError(error.message, path=path, original_error=error))

    def source(self, name: str) -> Source | None:
        return self.sources.get(name)


def path_of(info: Any) -> list[str | int]:
    return list(info.path.as_list())
