"""The schema as an Apollo Federation 2 subgraph (``[server] federation = true``).

``Order``, ``Customer`` and ``License`` are entities keyed by their global id
(``@key(fields: "id")``). A router asks ``_service { sdl }`` for the subgraph's SDL and
``_entities(representations:)`` for the entities another subgraph refers to; every
representation is loaded through the request's loaders, so a call of ``_entities`` is
one batch per source (docs/federation.md).

The key directives exist only in this schema: the served types are the same classes as
the plain schema's, so the directives are put on their definitions while this schema is
built and printed, and taken off again (the plain schema, built from the same classes,
stays exactly as it is). The SDL is printed then and kept: ``_service`` answers it.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Iterator, Sequence
from contextlib import contextmanager
from typing import Annotated, Any

import strawberry
from strawberry.federation import Schema as FederationSchema
from strawberry.federation.schema import FederationAny
from strawberry.federation.schema_directives import Key
from strawberry.types import Info
from strawberry.types.base import StrawberryObjectDefinition

from gateway import domain, ids
from gateway.context import RequestContext
from gateway.errors import BadUserInput, GatewayError, NotFound
from gateway.schema.operation import GatewaySchema
from gateway.schema.types import Customer, License, Order

#: The federation version the subgraph declares: the newest one that
#: @theguild/federation-composition 0.27 composes (it refuses Strawberry's default, 2.11).
FEDERATION_VERSION = "2.9"

#: The entity types, by GraphQL name; each is keyed by its global id.
ENTITIES: dict[str, type] = {"Customer": Customer, "License": License, "Order": Order}

Entity = Annotated[Customer | License | Order, strawberry.union("_Entity")]

_KEYS_LOCK = threading.Lock()


@contextmanager
def entity_keys() -> Iterator[None]:
    """``@key(fields: "id")`` on the entity types while the block runs (one at a time)."""
    definitions: list[StrawberryObjectDefinition] = [
        t.__strawberry_definition__  # type: ignore[attr-defined]
        for t in ENTITIES.values()
    ]
    with _KEYS_LOCK:
        kept = [d.directives for d in definitions]
        try:
            for d in definitions:
                # resolvable left unset: printed as @key(fields: "id"), its default
                key = Key(fields="id", resolvable=strawberry.UNSET)  # type: ignore[arg-type]
                d.directives = [*(d.directives or ()), key]
            yield
        finally:
            for d, directives in zip(definitions, kept, strict=True):
                d.directives = directives


@strawberry.type(name="_Service", description="This subgraph, as a federation router reads it.")
class Service:
    sdl: str = strawberry.field(description="The subgraph's SDL, with its federation directives.")


class FederatedSchema(GatewaySchema, FederationSchema):
    """The gateway's schema (its execution, limits and errors) as a federation subgraph."""

    #: the subgraph SDL, printed once while the entity keys are on (``_service.sdl``)
    subgraph_sdl: str


def _reference(representation: Any) -> ids.GlobalId:
    """The global id a representation names; BAD_USER_INPUT when it names none."""
    if not isinstance(representation, dict):
        raise BadUserInput("a representation must be an object with __typename and id")
    type_name = representation.get("__typename")
    if type_name not in ENTITIES:
        raise BadUserInput(f"__typename must be one of {', '.join(sorted(ENTITIES))}")
    value = representation.get("id")
    if not isinstance(value, str):
        raise BadUserInput("a representation needs its id (a string)")
    return ids.decode(value, type_name)


async def resolve_entities(
    info: Info[RequestContext, None], representations: Sequence[Any]
) -> list[Order | Customer | License | GatewayError]:
    """Every representation's entity, in order; an error in place of one that cannot be
    answered (graphql-core nulls it and reports the error at its index).

    Every load is made before any is awaited, so they share one batch per loader, which
    asks each source once for all its ids (gateway.loaders)."""
    ctx = info.context
    loads: list[tuple[ids.GlobalId, Awaitable[Any]] | GatewayError] = []
    for representation in representations:
        try:
            gid = _reference(representation)
            order_id = "" if gid.type_name == "Customer" else _order_id(gid)
        except GatewayError as error:
            loads.append(error)
            continue
        if ctx.source(gid.source) is None:
            loads.append(NotFound(f"no source named '{gid.source}'"))
        elif gid.type_name == "Customer":
            loads.append((gid, ctx.loaders.customers.load((gid.source, gid.source_id))))
        else:  # an Order, or a License: its order's
            loads.append((gid, ctx.loaders.orders.load((gid.source, order_id))))
    pending = [load[1] for load in loads if not isinstance(load, GatewayError)]
    settled = iter(await asyncio.gather(*pending, return_exceptions=True))
    results: list[Order | Customer | License | GatewayError] = []
    for load in loads:
        if isinstance(load, GatewayError):
            results.append(load)
            continue
        found = next(settled)
        if isinstance(found, GatewayError):  # its source failed: this entity only
            results.append(found)
        elif isinstance(found, BaseException):
            raise found
        else:
            results.append(_entity(ctx, load[0], found))
    return results


def _order_id(gid: ids.GlobalId) -> str:
    """The order an Order's or a License's id names (a licence's is ``order:licence``)."""
    if gid.type_name == "Order":
        return gid.source_id
    order_id, sep, license_id = gid.source_id.rpartition(":")
    if not sep or not order_id or not license_id:
        raise BadUserInput("not a valid id")
    return order_id


def _entity(
    ctx: RequestContext, gid: ids.GlobalId, found: domain.Order | domain.Customer | None
) -> Order | Customer | License | GatewayError:
    if gid.type_name == "Customer":
        if isinstance(found, domain.Customer):
            return Customer.of(found, ctx.visibility)
        return NotFound(f"source '{gid.source}' has no customer {gid.source_id}")
    if not isinstance(found, domain.Order):
        return NotFound(f"source '{gid.source}' has no order {_order_id(gid)}")
    order = Order.of(found, ctx.visibility)
    if gid.type_name == "Order":
        return order
    license_id = gid.source_id.rpartition(":")[2]
    for lic in order.all_licenses():
        if lic.source_id == license_id:
            return lic
    return NotFound(f"source '{gid.source}' has no licence {license_id}")


def federated_query(query: type) -> type:
    """``query`` with ``_entities`` and ``_service`` of the gateway's own."""

    @strawberry.type(name="Query", description=query.__strawberry_definition__.description)  # type: ignore[attr-defined]
    class FederatedQuery(query):  # type: ignore[misc]
        @strawberry.field(
            name="_entities",
            description="The entities a federation router refers to, in the order given: "
            "null, with an error at its index, for one that is malformed or not found.",
        )
        async def entities(
            self, info: Info[RequestContext, None], representations: list[FederationAny]
        ) -> list[Entity | None]:
            return await resolve_entities(info, representations)  # type: ignore[return-value]

        @strawberry.field(name="_service", description="This subgraph's SDL.")
        def service(self, info: Info[RequestContext, None]) -> Service:
            schema = info.schema
            assert isinstance(schema, FederatedSchema)
            return Service(sdl=schema.subgraph_sdl)

    return FederatedQuery


def federated_schema(query: type, **options: Any) -> FederatedSchema:
    """The subgraph schema over ``query`` (GatewaySchema's options), its SDL printed."""
    with entity_keys():
        schema = FederatedSchema(
            query=federated_query(query), federation_version=FEDERATION_VERSION, **options
        )
        schema.subgraph_sdl = schema.as_str() + "\n"
    return schema
