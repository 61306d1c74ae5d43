"""What one GraphQL request carries: sources, its own loaders, and partial errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError
from starlette.requests import HTTPConnection

from gateway.errors import GatewayError
from gateway.listing import CursorCodec
from gateway.loaders import Loaders
from gateway.sources.base import Source


@dataclass
class RequestContext:
    request: HTTPConnection
    sources: Mapping[str, Source]
    codec: CursorCodec
    loaders: Loaders
    #: errors for fields that still returned data (a source missing from a merged list)
    partial_errors: list[GraphQLError] = field(default_factory=list)

    def report(self, error: GatewayError, path: list[str | int]) -> None:
        self.partial_errors.append(GraphQLError(error.message, path=path, original_error=error))

    def source(self, name: str) -> Source | None:
        return self.sources.get(name)


def path_of(info: Any) -> list[str | int]:
    return list(info.path.as_list())
