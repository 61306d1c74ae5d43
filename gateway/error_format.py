"""How a GraphQL error reads to a client: its message, locations, path and
``extensions.code`` (docs/errors.md).

Below the schema and the service so that every path formats errors the same way: the
GraphQL service (/graphql, /export) and the subscriptions' streams, which Strawberry
formats itself over graphql-transport-ws (gateway.schema.live).
"""

from __future__ import annotations

import logging
from typing import Any

from graphql import GraphQLError
from graphql.error import GraphQLSyntaxError

from gateway import errors

log = logging.getLogger("gateway.graphql")


def format_error(error: GraphQLError, request_id: str) -> dict[str, Any]:
    """The client's view of one error: message, locations, path and ``extensions.code``."""
    original = error.original_error
    out: dict[str, Any] = {"message": error.message}
    if error.locations:
        out["locations"] = [{"line": loc.line, "column": loc.column} for loc in error.locations]
    if error.path:
        out["path"] = list(error.path)
    if isinstance(original, errors.GatewayError):
        out["message"] = original.message
        out["extensions"] = original.extensions()
    elif original is not None and not isinstance(original, GraphQLError):
        log.error("unexpected error (request %s)", request_id, exc_info=original)
        out["message"] = f"internal error (request id {request_id})"
        out["extensions"] = {"code": errors.INTERNAL, "requestId": request_id}
    else:
        out["extensions"] = {"code": _classify(error)}
    return out


def _classify(error: GraphQLError) -> str:
    if isinstance(error, GraphQLSyntaxError) or error.message.startswith("Syntax Error"):
        return errors.PARSE_FAILED
    if error.message.startswith("Variable '$") or error.path:
        return errors.BAD_USER_INPUT
    return errors.VALIDATION_FAILED
