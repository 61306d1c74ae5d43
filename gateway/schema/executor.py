"""Strawberry's graphql-core executor, unlinked from itself once its response is built.

graphql-core's executor keeps helpers bound to its own methods (``async_helpers``): a
reference cycle through which each request's context, loaders and loaded objects were
left for the cycle collector instead of being freed when the request ended. Under load
they outlived young collections, were promoted, and collections took about a fifth of
the gateway's time at 20 ms backend latency (bench/README.md).
"""

from __future__ import annotations

from typing import Any, ClassVar

from strawberry.schema.schema import StrawberryGraphQLCoreExecutionContext


class GatewayExecutor(StrawberryGraphQLCoreExecutionContext):
    #: leave graphql-core's "Did you mean ...?" out of variable and argument errors
    hide_suggestions_always: ClassVar[bool] = False

    @classmethod
    def build(cls, *args: Any, **kwargs: Any) -> Any:
        if cls.hide_suggestions_always:
            kwargs["hide_suggestions"] = True
        return super().build(*args, **kwargs)

    def build_response(self, data: dict[str, Any] | None) -> Any:
        response = super().build_response(data)
        # Execution is over: resolvers still settling hold the helpers through their
        # info, not through the executor.
        vars(self).pop("async_helpers", None)
        return response


class QuietExecutor(GatewayExecutor):
    """The executor where introspection is off: no error suggests a name (a variable's
    misspelt enum value or input field would otherwise be answered with the right one)."""

    hide_suggestions_always = True
