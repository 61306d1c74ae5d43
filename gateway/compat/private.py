"""The private attributes of Strawberry and graphql-core objects the gateway reads.

Each is read here and nowhere else, so a release that renames one breaks one function
(and :mod:`gateway.compat.check` says which) instead of code across the gateway.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from graphql import FieldNode, GraphQLSchema
from graphql.execution.middleware import MiddlewareManager
from strawberry.resolvers import is_default_resolver as _is_default_resolver
from strawberry.types import ExecutionContext, Info

from gateway.compat.check import TESTED


def core_schema(schema: Any) -> GraphQLSchema:
    """The graphql-core schema a Strawberry schema built (Strawberry offers no public
    name for it, and the gateway's validation, plans and export need it)."""
    found = getattr(schema, "_schema", None)
    if not isinstance(found, GraphQLSchema):
        raise RuntimeError(
            "this strawberry-graphql keeps no graphql-core schema in Schema._schema, which"
            f" the gateway needs; install strawberry-graphql=={TESTED['strawberry-graphql']}"
        )
    return found


def provided_operation_name(ec: ExecutionContext) -> str | None:
    """The request's operationName as sent: the public ``operation_name`` falls back to
    the document's first name."""
    name = getattr(ec, "_provided_operation_name", None)
    return name if isinstance(name, str) else None


def field_nodes(info: Info[Any, Any]) -> tuple[FieldNode, ...] | None:
    """The field's nodes in the document (graphql-core's resolve info, which Strawberry
    keeps privately), or None where this Strawberry keeps them elsewhere."""
    raw = getattr(info, "_raw_info", None)
    nodes = getattr(raw, "field_nodes", None)
    return tuple(nodes) if nodes is not None else None


def is_default_resolver(resolve: Callable[..., Any] | None) -> bool:
    """Whether Strawberry made ``resolve`` to read an attribute (it marks those)."""
    return resolve is not None and _is_default_resolver(resolve)


def wraps_every_resolver(manager: MiddlewareManager | None) -> bool:
    """Whether graphql-core's middleware manager wraps resolvers (then no field is
    plain)."""
    return manager is not None and getattr(manager, "_middleware_resolvers", None) is not None


def unlink_async_helpers(executor: Any) -> None:
    """Drop graphql-core's ``async_helpers`` from a finished executor: its helpers are
    bound to the executor's own methods, a reference cycle that left each request's
    objects to the cycle collector."""
    vars(executor).pop("async_helpers", None)
