"""Strawberry's graphql-core executor, with plans kept across requests, unlinked from
itself once its response is built.

Plans (gateway.schema.plan): the fields collected for each object type are kept with
the document instead of being collected again per request, and fields that read an
attribute are read straight from their step; everything else is graphql-core's own code.

graphql-core's executor keeps helpers bound to its own methods (``async_helpers``): a
reference cycle through which each request's context, loaders and loaded objects were
left for the cycle collector instead of being freed when the request ended. Under load
they outlived young collections, were promoted, and collections took a large share of
the gateway's time at 20 ms backend latency (bench/README.md).
"""

from __future__ import annotations

import inspect
from collections.abc import Awaitable
from typing import Any, ClassVar

from graphql import GraphQLObjectType, GraphQLSchema
from graphql.execution.collect_fields import CollectedFields, FieldDetailsList, GroupedFieldSet
from graphql.pyutils import Path, Undefined, gather_with_cancel
from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext

from gateway.compat.private import unlink_async_helpers, wraps_every_resolver
from gateway.context import RequestContext
from gateway.schema.plan import DocumentPlan, Kind, PlanCache, Step, steps_for


def plans_of(schema: GraphQLSchema) -> PlanCache | None:
    """The schema's plan cache (made on first use; one per schema, as plans name its
    field definitions), or None where plans are off for it (:func:`without_plans`)."""
    found: PlanCache | bool | None = getattr(schema, "_gateway_plans", True)
    if found is True:
        found = schema._gateway_plans = PlanCache()  # type: ignore[attr-defined]
    return found if isinstance(found, PlanCache) else None


def without_plans(schema: GraphQLSchema) -> None:
    """No plans for this schema: where documents are not cached (``[performance]
    query_caches = false``) each request's document is new, and a plan per request
    would cost more than it saves."""
    schema._gateway_plans = None  # type: ignore[attr-defined]


class GatewayExecutor(StrawberryGraphQLCoreExecutionContext):
    #: leave graphql-core's "Did you mean ...?" out of variable and argument errors
    hide_suggestions_always: ClassVar[bool] = False
    #: False: graphql-core's executor as it is (tests/test_plan.py compares the two)
    use_plans: ClassVar[bool] = True

    _plan: DocumentPlan | None

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        if cls.hide_suggestions_always:
            kwargs["hide_suggestions"] = True
        built = super().build(*args, **kwargs)
        if isinstance(built, GatewayExecutor):
            built._plan = plan = built._find_plan()
            if plan is not None and isinstance(built.context_value, RequestContext):
                built.context_value.fits_summary = plan.fits  # judged once per document
        return built

    def _find_plan(self) -> DocumentPlan | None:
        if not self.use_plans or self.abort_signal is not None:
            return None
        if wraps_every_resolver(self.middleware_manager):
            return None  # a middleware wraps every resolver: no field is plain
        plans = plans_of(self.schema)
        if plans is None:
            return None
        return plans.plan(self.operation, self.fragment_definitions)

    def build_response(self, data: dict[str, Any] | None) -> Any:
        response = super().build_response(data)
        # Execution is over: resolvers still settling hold the helpers through their
        # info, not through the executor.
        unlink_async_helpers(self)
        return response

    def collect_subfields(
        self, return_type: GraphQLObjectType, field_details_list: FieldDetailsList
    ) -> CollectedFields:
        plan = self._plan
        if plan is None:
            return super().collect_subfields(return_type, field_details_list)
        return plan.collected(
            self.schema,
            return_type,
            field_details_list,
            lambda: super(GatewayExecutor, self).collect_subfields(return_type, field_details_list),
        )

    def execute_fields(
        self,
        parent_type: GraphQLObjectType,
        source_value: Any,
        path: Path | None,
        grouped_field_set: GroupedFieldSet,
        position_context: Any,
    ) -> Any:
        """graphql-core's execute_fields, with plain fields read from their steps."""
        plan = self._plan
        if plan is None or position_context is not None:  # not planned, or deferred parts
            return super().execute_fields(
                parent_type, source_value, path, grouped_field_set, position_context
            )
        steps = plan.steps.get((parent_type.name, id(grouped_field_set)))
        if steps is None:  # the root's fields, collected per request
            steps = steps_for(self.schema, parent_type, grouped_field_set)
        results: dict[str, Any] = {}
        is_awaitable = self.is_awaitable
        awaitable_fields: list[str] = []
        try:
            for step in steps:
                name = step.name
                kind = step.kind
                if kind is Kind.LEAF:
                    value = _read(source_value, step.attr)
                    if value is None:
                        if step.nullable:
                            results[name] = None
                            continue
                    elif (
                        value is not _UNREAD
                        and value is not Undefined
                        and not isinstance(value, Exception)
                        and (step.strict or not is_awaitable(value))
                    ):
                        coerced = _coerced(step, value)
                        if coerced is not None:
                            results[name] = coerced
                            continue
                elif kind is Kind.OBJECT:
                    value = _read(source_value, step.attr)
                    if value is None and step.nullable:
                        results[name] = None
                        continue
                    if (
                        value is not None
                        and value is not _UNREAD
                        and value is not Undefined
                        and not isinstance(value, Exception)
                        and not is_awaitable(value)
                    ):
                        result = self._plain_object(step, parent_type, value, path)
                        if result is not _UNREAD:
                            results[name] = result
                            if is_awaitable(result):
                                awaitable_fields.append(name)
                            continue
                elif kind is Kind.TYPENAME:
                    results[name] = parent_type.name
                    continue
                # anything else, and every unusual value: graphql-core's own path
                result = self.execute_field(
                    parent_type,
                    source_value,
                    step.details,
                    Path(path, name, parent_type.name),
                    position_context,
                )
                if result is not Undefined:
                    results[name] = result
                    if is_awaitable(result):
                        awaitable_fields.append(name)
        except Exception:
            if awaitable_fields:
                self.settle_in_background([results[field] for field in awaitable_fields])
            raise

        if not awaitable_fields:
            return results

        async def get_results() -> dict[str, Any]:
            if len(awaitable_fields) == 1:
                field = awaitable_fields[0]
                results[field] = await results[field]
            else:
                awaited = await gather_with_cancel(*(results[f] for f in awaitable_fields))
                results.update(zip(awaitable_fields, awaited, strict=True))
            return results

        return get_results()

    def _plain_object(
        self, step: Step, parent_type: GraphQLObjectType, value: Any, path: Path | None
    ) -> Any:
        """An object read from an attribute: its subfields, as graphql-core's
        execute_field completes it (its errors located, nulled or propagated)."""
        assert step.object_type is not None and step.field is not None
        field_path = Path(path, step.name, parent_type.name)
        try:
            collected = self.collect_subfields(step.object_type, step.details)
            if collected.new_defer_usages:
                return _UNREAD  # deferred parts: graphql-core's incremental path
            completed = self.execute_fields(
                step.object_type, value, field_path, collected.grouped_field_set, None
            )
        except Exception as raw_error:
            self.handle_field_error(raw_error, step.field.type, step.details, field_path)
            return None
        if self.is_awaitable(completed):
            return self._awaited_object(step, completed, field_path)
        return completed

    async def _awaited_object(self, step: Step, completed: Awaitable[Any], path: Path) -> Any:
        assert step.field is not None
        try:
            return await completed
        except Exception as raw_error:
            self.handle_field_error(raw_error, step.field.type, step.details, path)
            return None


#: A value the plan did not read: graphql-core reads it (and reports what went wrong).
#: Like it, an exception, Undefined (null) or an awaitable (awaited) is left to
#: graphql-core, which completes each in its own way.
_UNREAD: Any = object()


def _read(source: Any, attr: str) -> Any:
    """The attribute, or _UNREAD where reading it fails (graphql-core reads it again and
    turns the failure into a located error: a plain field is an attribute of a dataclass
    here, so reading it twice changes nothing)."""
    try:
        return getattr(source, attr)
    except Exception:
        return _UNREAD


def _coerced(step: Step, value: Any) -> Any:
    """The leaf's output value, or None where graphql-core would raise (it is then asked,
    and raises its own error)."""
    assert step.coerce is not None
    try:
        coerced = step.coerce(value)
    except Exception:
        return None
    return None if coerced is Undefined else coerced


class StockExecutor(StrawberryGraphQLCoreExecutionContext):
    """Strawberry's graphql-core executor as it is, for when the fast paths are off
    (gateway.compat): no plans, no private name; only suggestions left out where
    introspection is off."""

    hide_suggestions_always: ClassVar[bool] = False

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        if cls.hide_suggestions_always and _TAKES_HIDE_SUGGESTIONS:
            kwargs["hide_suggestions"] = True
        return super().build(*args, **kwargs)


class StockQuietExecutor(StockExecutor):
    hide_suggestions_always = True


_TAKES_HIDE_SUGGESTIONS = (
    "hide_suggestions" in inspect.signature(StrawberryGraphQLCoreExecutionContext.build).parameters
)


class QuietExecutor(GatewayExecutor):
    """The executor where introspection is off: no error suggests a name (a variable's
    misspelt enum value or input field would otherwise be answered with the right one)."""

    hide_suggestions_always = True
