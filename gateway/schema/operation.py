"""The gateway's schema class, which runs an operation the way Strawberry's
``Schema.execute`` runs it, without its extension machinery.

Strawberry builds, per request, an extension runner that enters every extension's hooks
through context managers at four stages, and a middleware manager; the gateway has one
extension (gateway.schema.preparation) and no middleware. Calling the preparation
directly gives the same answers (the same errors, raised or returned at the same points,
as Strawberry's ``execute``) for less CPU per request (bench/README.md). Where
gateway.compat finds Strawberry changed, its own ``execute`` runs instead.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from graphql import ExecutionResult as GraphQLExecutionResult
from graphql import (
    ExperimentalIncrementalExecutionResults,
    GraphQLError,
    experimental_execute_incrementally,
)
from strawberry.exceptions import MissingQueryError
from strawberry.execution.is_awaitable import optimized_is_awaitable
from strawberry.schema.config import StrawberryConfig
from strawberry.schema.exceptions import CannotGetOperationTypeError, InvalidOperationTypeError
from strawberry.schema.schema import DEFAULT_ALLOWED_OPERATION_TYPES, Schema
from strawberry.types import ExecutionContext, ExecutionResult
from strawberry.types.execution import PreExecutionError
from strawberry.types.graphql import OperationType
from strawberry.utils.await_maybe import await_maybe

from gateway.compat import fast_paths
from gateway.compat.private import core_schema
from gateway.schema.directives import released_directives, use_released_locations
from gateway.schema.incremental import defers, may_defer
from gateway.schema.preparation import Preparation, PrepareOperation


class GatewaySchema(Schema):
    """Strawberry's schema with graphql-core's released directives, no error logging of
    its own (errors are logged where they are formatted: once, without payloads), and
    ``execute`` calling the one :class:`Preparation` directly."""

    def __init__(self, *args: Any, preparation: Preparation, **kwargs: Any) -> None:
        # execute runs no extension and no middleware: refuse them rather than let them do
        # nothing over HTTP
        if "extensions" in kwargs:
            raise TypeError("GatewaySchema runs its one preparation, no other extension")
        # the extension serves Strawberry's other paths (execute_sync, subscribe)
        kwargs["extensions"] = [lambda: PrepareOperation(preparation)]
        kwargs["config"] = _incremental(kwargs.get("config"))
        super().__init__(*args, **kwargs)
        self.preparation = preparation
        #: False: Strawberry's own execute (gateway.compat found its internals changed)
        self.fast_paths = fast_paths()
        # Strawberry declares graphql-core's specified directives as they are; a custom
        # one may not take a specified name, so the released forms replace them here.
        # @stream is left out: @defer is what the gateway serves (docs/defer.md).
        self._schema.directives = tuple(
            d for d in released_directives(self._schema.directives) if d.name != "stream"
        )
        use_released_locations(self._schema)
        #: the executor for deferring documents: graphql-core's collection of fields,
        #: which knows deferred fragments (the plans do not)
        self.deferring_executor: type[Any] = type(
            "Deferring", (self.execution_context_class,), {"use_plans": False}
        )

    async def stream(self, *args: Any, **kwargs: Any) -> Any:
        """Strawberry's ``stream`` (subscriptions, every transport), each result's errors
        with their ``extensions.code`` and the fields' partial errors (gateway.schema.live)."""
        from gateway.schema.live import coded  # the schema's types import this module

        return coded(await super().stream(*args, **kwargs), kwargs.get("context_value"))

    def process_errors(self, errors: list[GraphQLError], execution_context: Any = None) -> None:
        """Logging happens where errors are formatted: once, without payloads."""

    async def execute(
        self,
        query: str | None,
        variable_values: dict[str, Any] | None = None,
        context_value: Any | None = None,
        root_value: Any | None = None,
        operation_name: str | None = None,
        allowed_operation_types: Iterable[OperationType] | None = None,
        operation_extensions: dict[str, Any] | None = None,
    ) -> ExecutionResult:
        """Strawberry's ``execute`` for a schema whose one extension is the preparation.

        Raises what it raises (MissingQueryError, CannotGetOperationTypeError,
        InvalidOperationTypeError: the view answers them with 400); every other failure
        is an ExecutionResult with ``data`` None and the error."""
        if not self.fast_paths:
            return await super().execute(
                query,
                variable_values,
                context_value,
                root_value,
                operation_name,
                allowed_operation_types,
                operation_extensions,
            )
        return await _run(
            self,
            ExecutionContext(
                query=query,
                schema=self,
                allowed_operations=DEFAULT_ALLOWED_OPERATION_TYPES
                if allowed_operation_types is None
                else allowed_operation_types,
                context=context_value,
                root_value=root_value,
                variables=variable_values,
                provided_operation_name=operation_name,
                operation_extensions=operation_extensions,
            ),
        )


async def _run(schema: GatewaySchema, ec: ExecutionContext) -> ExecutionResult:
    preparation = schema.preparation
    try:
        if not ec.query and ec.graphql_document is None:
            raise MissingQueryError
        try:
            preparation.parse(ec)
        except GraphQLError as error:
            return _refused(ec, [error])
        except Exception as error:
            return _refused(ec, [GraphQLError(str(error), original_error=error)])
        try:
            operation_type = ec.operation_type
        except RuntimeError as error:
            raise CannotGetOperationTypeError(ec.operation_name) from error
        if operation_type not in ec.allowed_operations:
            raise InvalidOperationTypeError(operation_type)
        if errors := preparation.validate(ec):
            return _refused(ec, errors)
        assert ec.graphql_document is not None
        # graphql-core's execute refuses a schema that declares @defer; this is what it
        # calls, and a document without @defer gets its one result from it all the same
        deferring = may_defer(ec.query) and defers(ec.graphql_document)
        result = await await_maybe(
            experimental_execute_incrementally(
                core_schema(schema),
                ec.graphql_document,
                root_value=ec.root_value,
                variable_values=ec.variables,
                operation_name=ec.operation_name,
                context_value=ec.context,
                is_awaitable=optimized_is_awaitable,  # type: ignore[arg-type]
                executor_class=schema.deferring_executor
                if deferring
                else schema.execution_context_class,
                operation_extensions=ec.operation_extensions,
                # slow sources start at once, not after the first part has left
                enable_early_execution=deferring,
            )
        )
        if isinstance(result, ExperimentalIncrementalExecutionResults):
            # the view sends its parts (the service merges them for a client without multipart)
            return result  # type: ignore[return-value]
    except (MissingQueryError, CannotGetOperationTypeError, InvalidOperationTypeError):
        raise
    except Exception as exc:
        if not isinstance(exc, GraphQLError):
            exc = GraphQLError(str(exc), original_error=exc)
        return _refused(ec, [exc])
    assert isinstance(result, GraphQLExecutionResult)
    if result.errors:
        ec.pre_execution_errors = result.errors
    done = ExecutionResult(data=result.data, errors=result.errors, extensions={})
    ec.result = done
    return done


def _incremental(config: StrawberryConfig | None) -> StrawberryConfig:
    """The config with Strawberry's incremental execution on: it declares @defer (and
    @stream, which the schema then drops)."""
    chosen = config or StrawberryConfig()
    chosen.enable_experimental_incremental_execution = True
    return chosen


def _refused(ec: ExecutionContext, errors: list[GraphQLError]) -> ExecutionResult:
    ec.pre_execution_errors = errors
    refused = PreExecutionError(data=None, errors=errors, extensions={})
    ec.result = refused
    return refused
