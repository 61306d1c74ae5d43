"""Whether the gateway's fast paths may run on the installed libraries.

Each fast path copies or reaches into code of a library release:

- ``gateway.schema.executor.GatewayExecutor.execute_fields``: graphql-core's
  ``execute_fields``, with plain fields read from execution plans;
- ``gateway.schema.operation.GatewaySchema.execute``: Strawberry's ``Schema.execute``
  without its per-request extension runner;
- ``gateway.view.GatewayView.run`` and ``_plain_json_body``: Strawberry's ``run`` and
  ``parse_http_body`` for a plain JSON POST;
- ``gateway.compat.dataloader.BatchLoader``: aiodataloader's queue and dispatch.

They are trusted on the versions in :data:`TESTED` (the pins in pyproject.toml) whose
internals have the shapes checked below. Otherwise every fast path steps aside:
graphql-core's own field execution, Strawberry's own ``Schema.execute`` and view, and
aiodataloader's own DataLoader serve the same answers, more slowly.

``GATEWAY_PRIVATE_INTERNALS`` chooses: ``check`` (the default: versions and shapes),
``shapes`` (shapes only: how ``make canary`` tries the fast paths on newer releases) or
``stock`` (the fast paths off).
"""

from __future__ import annotations

import asyncio
import dataclasses
import inspect
import logging
import os
from collections.abc import Callable
from functools import cache
from importlib import metadata
from typing import Any

log = logging.getLogger("gateway.compat")

#: The releases the fast paths were written against (the pins in pyproject.toml; a test
#: holds the two together).
TESTED: dict[str, str] = {
    "strawberry-graphql": "0.341.2",
    "graphql-core": "3.3.2",
    "aiodataloader": "0.4.3",
}

MODE_VARIABLE = "GATEWAY_PRIVATE_INTERNALS"
_MODES = ("check", "shapes", "stock")


@dataclasses.dataclass(frozen=True)
class Status:
    """``fast``: the fast paths run; ``problems``: why not (empty when they run)."""

    fast: bool
    problems: tuple[str, ...]


@cache
def status() -> Status:
    """The decision for this process, made on first use and logged once when the fast
    paths are off."""
    mode = os.environ.get(MODE_VARIABLE, "check").strip().lower() or "check"
    if mode not in _MODES:
        raise ValueError(f"{MODE_VARIABLE}={mode!r}: expected one of {', '.join(_MODES)}")
    if mode == "stock":
        problems = [f"{MODE_VARIABLE}=stock"]
    else:
        problems = shape_problems()
        if mode == "check":
            problems = version_problems() + problems
    if problems:
        log.warning(
            "running on stock Strawberry execution (slower, same answers): %s",
            "; ".join(problems),
        )
    return Status(not problems, tuple(problems))


def fast_paths() -> bool:
    """Whether the gateway's fast paths run (see :func:`status`)."""
    return status().fast


def version_problems() -> list[str]:
    """Each installed library whose version is not the one in :data:`TESTED`."""
    problems = []
    for name, tested in TESTED.items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = "not installed"
        if installed != tested:
            problems.append(f"{name} {installed} (the fast paths are tested on {tested})")
    return problems


def shape_problems() -> list[str]:
    """Each private name the fast paths use that is missing or changed its shape."""
    problems = []
    for name, check in _SHAPES:
        try:
            found = check()
        except Exception as exc:  # an import or attribute gone: the name is missing
            found = f"{type(exc).__name__}: {exc}"
        if found:
            problems.append(f"{name}: {found}")
    return problems


def _parameters(function: Any, expected: tuple[str, ...]) -> str | None:
    names = tuple(inspect.signature(function).parameters)
    return None if names == expected else f"parameters {names}, expected {expected}"


def _executor() -> str | None:
    from graphql.execution.collect_fields import CollectedFields
    from graphql.execution.middleware import MiddlewareManager
    from graphql.pyutils import gather_with_cancel  # noqa: F401
    from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext as Base

    shapes: dict[str, tuple[str, ...]] = {
        "execute_fields": (
            "self",
            "parent_type",
            "source_value",
            "path",
            "grouped_field_set",
            "position_context",
        ),
        "execute_field": (
            "self",
            "parent_type",
            "source",
            "field_details_list",
            "path",
            "position_context",
        ),
        "collect_subfields": ("self", "return_type", "field_details_list"),
        "handle_field_error": ("self", "raw_error", "return_type", "field_details_list", "path"),
        "settle_in_background": ("self", "awaitables"),
        "build_response": ("self", "data"),
    }
    for method, expected in shapes.items():
        if problem := _parameters(getattr(Base, method), expected):
            return f"Executor.{method} {problem}"
    if "hide_suggestions" not in inspect.signature(Base.build).parameters:
        return "Executor.build takes no hide_suggestions"
    if "_middleware_resolvers" not in getattr(MiddlewareManager, "__slots__", ()):
        return "MiddlewareManager has no _middleware_resolvers"
    fields = set(getattr(CollectedFields, "_fields", ()))
    if not {"grouped_field_set", "new_defer_usages"} <= fields:
        return f"CollectedFields has fields {sorted(fields)}"
    return None


def _schema_execute() -> str | None:
    from strawberry.execution.is_awaitable import optimized_is_awaitable  # noqa: F401
    from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES, Schema  # noqa: F401
    from strawberry.types import ExecutionContext
    from strawberry.types.execution import PreExecutionError  # noqa: F401
    from strawberry.utils.await_maybe import await_maybe  # noqa: F401

    expected = (
        "self",
        "query",
        "variable_values",
        "context_value",
        "root_value",
        "operation_name",
        "allowed_operation_types",
        "operation_extensions",
    )
    if problem := _parameters(Schema.execute, expected):
        return f"Schema.execute {problem}"
    made = ExecutionContext(
        query=None,
        schema=None,  # type: ignore[arg-type]
        allowed_operations=(),
        provided_operation_name="x",
    )
    if getattr(made, "_provided_operation_name", None) != "x":
        return "ExecutionContext keeps no _provided_operation_name"
    return None


def _info() -> str | None:
    from strawberry.resolvers import is_default_resolver  # noqa: F401
    from strawberry.types import Info

    if "_raw_info" not in {f.name for f in dataclasses.fields(Info)}:
        return "Info has no _raw_info"
    return None


def _view() -> str | None:
    from strawberry.asgi import GraphQL
    from strawberry.http import GraphQLRequestData

    shapes: dict[str, tuple[str, ...]] = {
        "run": ("self", "request", "context", "root_value"),
        "parse_http_body": ("self", "request"),
        "execute_operation": (
            "self",
            "request",
            "request_adapter",
            "request_data",
            "context",
            "root_value",
            "sub_response",
        ),
        "process_result": ("self", "request", "result"),
        "create_response": ("self", "response_data", "sub_response"),
        "get_sub_response": ("self", "request"),
        "is_request_allowed": ("self", "request"),
        "should_render_graphql_ide": ("self", "request"),
        "parse_json": ("self", "data"),
    }
    for method, expected in shapes.items():
        if problem := _parameters(getattr(GraphQL, method), expected):
            return f"GraphQL.{method} {problem}"
    if not hasattr(GraphQL, "request_adapter_class"):
        return "GraphQL has no request_adapter_class"
    expected = ("query", "variables", "operation_name", "extensions", "protocol")
    if problem := _parameters(GraphQLRequestData, expected):
        return f"GraphQLRequestData {problem}"
    return None


def _dataloader() -> str | None:
    import aiodataloader
    from aiodataloader import DataLoader, Loader, dispatch_queue, dispatch_queue_batch

    if problem := _parameters(dispatch_queue, ("loader",)):
        return f"dispatch_queue {problem}"
    if problem := _parameters(dispatch_queue_batch, ("loader", "queue")):
        return f"dispatch_queue_batch {problem}"
    if Loader._fields != ("key", "future"):
        return f"Loader has fields {Loader._fields}"
    if problem := _parameters(DataLoader.do_resolve_reject, ("self", "key", "future")):
        return f"DataLoader.do_resolve_reject {problem}"

    async def load(keys: list[Any]) -> list[Any]:
        return keys

    loop = asyncio.new_event_loop()
    try:
        made = vars(aiodataloader.DataLoader(load, batch=True, cache=True, loop=loop))
    finally:
        loop.close()
    wanted = {"loop", "batch_load_fn", "batch", "cache", "get_cache_key", "_cache", "_queue"}
    if missing := wanted - set(made):
        return f"DataLoader sets no {sorted(missing)}"
    if not hasattr(DataLoader, "max_batch_size"):
        return "DataLoader has no max_batch_size"
    return None


_SHAPES: tuple[tuple[str, Callable[[], str | None]], ...] = (
    ("graphql-core executor", _executor),
    ("Strawberry Schema.execute", _schema_execute),
    ("Strawberry Info", _info),
    ("Strawberry view", _view),
    ("aiodataloader", _dataloader),
)
