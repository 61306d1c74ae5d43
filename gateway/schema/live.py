"""The Subscription type: live order events (docs/live.md)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any

import strawberry
from graphql import GraphQLError
from strawberry.types import ExecutionResult, Info

from gateway.context import RequestContext, path_of
from gateway.domain import Order as DomainOrder
from gateway.error_format import format_error
from gateway.errors import GatewayError
from gateway.live.events import Event, EventOrigin, EventType
from gateway.live.hub import LiveOrders
from gateway.schema.types import Order, OrderStatus, _register_enum
from gateway.telemetry import requestid

_register_enum(
    EventType,
    "OrderEventType",
    "What happened to an order.",
    {
        "CREATED": "A new order.",
        "UPDATED": "Its status or updatedAt changed.",
        "DELETED": "The backend no longer has it (no backend announces this yet).",
    },
)
_register_enum(
    EventOrigin,
    "OrderEventOrigin",
    "How the gateway learnt of a change.",
    {
        "WEBHOOK": "The backend's webhook (POST /webhooks/<source>).",
        "POLL": "The gateway's polling of the source (poll_interval_s).",
    },
)
OrderEventType = EventType
OrderEventOrigin = EventOrigin


@strawberry.input(description="Which order events to receive (all when not given).")
class OrderEventFilter:
    sources: list[str] | None = strawberry.field(
        default=None, description="Only these sources' events."
    )
    types: list[OrderEventType] | None = strawberry.field(
        default=None, description="Only events of these types."
    )
    status: list[OrderStatus] | None = strawberry.field(
        default=None, description="Only events whose order now has one of these statuses."
    )


@strawberry.type(description="A change of one order in one source.")
class OrderEvent:
    id: strawberry.ID = strawberry.field(
        description="Opaque and increasing per gateway deployment: the point to resume from "
        "(SSE: Last-Event-ID)."
    )
    type: OrderEventType = strawberry.field(description="What happened.")
    source: str = strawberry.field(description="The source's name.")
    source_id: str = strawberry.field(description="The backend's own order id.")
    occurred_at: datetime = strawberry.field(
        description="When the backend says it happened (else when the gateway saw it)."
    )
    origin: OrderEventOrigin = strawberry.field(description="A webhook or the gateway's polling.")
    found: strawberry.Private[DomainOrder | GatewayError | None]

    @strawberry.field(
        description="The order as it is now, read once when the event was published (scopes "
        "and PII masking as for Query.order); null for DELETED."
    )
    def order(self, info: Info[RequestContext, None]) -> Order | None:
        if isinstance(self.found, GatewayError):
            info.context.report(self.found, path_of(info))
            return None
        if self.found is None:
            return None
        info.context.loaders.remember_order(self.found)
        return Order.of(self.found, info.context.visibility)

    @staticmethod
    def of(event: Event) -> OrderEvent:
        change = event.change
        return OrderEvent(
            id=strawberry.ID(str(event.id)),
            type=change.type,
            source=change.source,
            source_id=change.source_id,
            occurred_at=change.occurred_at,
            origin=change.origin,
            found=event.order,
        )


def _wanted(event: Event, ctx: RequestContext, chosen: OrderEventFilter | None) -> bool:
    change = event.change
    if change.source not in ctx.sources:  # a key's sources: the others do not exist for it
        return False
    if chosen is None:
        return True
    if chosen.sources is not None and change.source not in chosen.sources:
        return False
    if chosen.types is not None and change.type not in chosen.types:
        return False
    if chosen.status is not None:
        order = event.order
        return isinstance(order, DomainOrder) and order.status in chosen.status
    return True


def client_of(ctx: RequestContext) -> str:
    """Whom the per-client subscription limit counts: the credential, or an anonymous
    caller's address."""
    name = ctx.principal.name
    if name == "anonymous":
        client = ctx.request.client
        return f"anonymous@{client.host if client else '?'}"
    return name


@dataclass
class EventResult(ExecutionResult):
    """A subscription's result for one event, with the event's id (OrderEvent.id), which
    the transports that can send it beside the payload do (SSE's ``id:``)."""

    event_id: str | None = None


async def coded(results: AsyncIterator[Any], ctx: Any) -> AsyncGenerator[Any, None]:
    """Streamed results with every error as a client sees it over HTTP (its message and
    ``extensions.code``; an unexpected one as INTERNAL with a request id) also where
    Strawberry formats them itself (graphql-transport-ws), each result with the partial
    errors its fields reported (a source's failure, masked personal data), and an
    event's result as an :class:`EventResult`."""
    request_id = requestid.current_or_new()
    async for result in results:
        if isinstance(result, ExecutionResult):
            found = list(result.errors or [])
            if isinstance(ctx, RequestContext) and ctx.partial_errors:
                found += ctx.partial_errors
                ctx.partial_errors.clear()
            if found:
                result.errors = [_coded(e, format_error(e, request_id)) for e in found]
            if isinstance(ctx, RequestContext) and ctx.event_id is not None:
                result = EventResult(result.data, result.errors, result.extensions, ctx.event_id)
                ctx.event_id = None
        yield result


def _coded(error: GraphQLError, shown: dict[str, Any]) -> GraphQLError:
    return GraphQLError(
        shown["message"],
        error.nodes,
        path=error.path,
        original_error=error.original_error,
        extensions=shown.get("extensions"),
    )


@strawberry.type(description="Live order events, over WebSocket, SSE or multipart HTTP.")
class Subscription:
    @strawberry.subscription(
        description="Order events of every source this credential may read, as they happen. "
        "Resume after a disconnect with SSE's Last-Event-ID (events are kept "
        "[events] retention_s; older: EVENTS_EXPIRED)."
    )
    async def order_events(
        self,
        info: Info[RequestContext, None],
        filter: Annotated[
            OrderEventFilter | None, strawberry.argument(description="Which events.")
        ] = None,
    ) -> AsyncGenerator[OrderEvent, None]:
        ctx = info.context
        live: LiveOrders = ctx.request.app.state.live
        after = ctx.request.headers.get("last-event-id")
        subscription = live.bus.subscribe(client_of(ctx), after or None)
        try:
            async for event in subscription:
                if _wanted(event, ctx, filter):
                    ctx.event_id = str(event.id)
                    yield OrderEvent.of(event)
        finally:
            subscription.close()
