"""The Query type and the schema's assembly."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Annotated, Any

import strawberry
from strawberry.types import Info

from gateway import ids
from gateway.compat import fast_paths
from gateway.compat.private import core_schema
from gateway.config import LimitSettings
from gateway.context import RequestContext, path_of
from gateway.errors import BadUserInput, Forbidden, GatewayError, NotFound
from gateway.schema.connection import (
    OrderConnection,
    OrderFilter,
    all_orders,
    given,
)
from gateway.schema.executor import (
    GatewayExecutor,
    QuietExecutor,
    StockExecutor,
    StockQuietExecutor,
    without_plans,
)
from gateway.schema.live import Subscription
from gateway.schema.operation import GatewaySchema
from gateway.schema.personal import declare as declare_personal
from gateway.schema.preparation import Preparation, QueryCaches
from gateway.schema.types import (
    AFTER,
    PAGE_SIZE,
    SCALAR_OVERRIDES,
    Customer,
    License,
    Node,
    Order,
    SourceInfo,
    list_kinds,
)
from gateway.security import PII_READ


def _known_source(info: Info[RequestContext, None], name: str) -> bool:
    return info.context.source(name) is not None


async def _order(info: Info[RequestContext, None], source: str, source_id: str) -> Order | None:
    if not _known_source(info, source):
        info.context.report(NotFound(f"no source named '{source}'"), path_of(info))
        return None
    found = await info.context.loaders.orders.load((source, source_id))
    if found is None:
        info.context.report(NotFound(f"source '{source}' has no order {source_id}"), path_of(info))
        return None
    return Order.of(found, info.context.visibility)


async def _customer(
    info: Info[RequestContext, None], source: str, source_id: str
) -> Customer | None:
    if not _known_source(info, source):
        info.context.report(NotFound(f"no source named '{source}'"), path_of(info))
        return None
    found = await info.context.loaders.customers.load((source, source_id))
    if found is None:
        info.context.report(
            NotFound(f"source '{source}' has no customer {source_id}"), path_of(info)
        )
        return None
    return Customer.of(found, info.context.visibility)


async def _license(info: Info[RequestContext, None], source: str, ref: str) -> License | None:
    order_id, sep, license_id = ref.rpartition(":")
    if not sep:
        raise BadUserInput("not a valid id")
    order = await _order(info, source, order_id)
    if order is None:
        return None
    for lic in order.all_licenses():
        if lic.source_id == license_id:
            return lic
    info.context.report(NotFound(f"source '{source}' has no licence {license_id}"), path_of(info))
    return None


GlobalId = Annotated[
    strawberry.ID, strawberry.argument(description="A global id, as an object's `id` gives it.")
]
SourceName = Annotated[str, strawberry.argument(description="A configured source's name.")]


@strawberry.type(
    description="Reads across every configured source. A source that fails costs only the "
    "fields that needed it: the rest answer, with an error naming the source."
)
class Query:
    @strawberry.field(description="Any object by its global id (Order, Customer or License).")
    async def node(self, info: Info[RequestContext, None], id: GlobalId) -> Node | None:
        gid = ids.decode(id)
        if gid.type_name == "Order":
            return await _order(info, gid.source, gid.source_id)
        if gid.type_name == "Customer":
            return await _customer(info, gid.source, gid.source_id)
        return await _license(info, gid.source, gid.source_id)

    @strawberry.field(description="An order by its global id.")
    async def order(self, info: Info[RequestContext, None], id: GlobalId) -> Order | None:
        gid = ids.decode(id, "Order")
        return await _order(info, gid.source, gid.source_id)

    @strawberry.field(
        description="An order by its source's name and the backend's own id "
        "(adobe_vip: '<customer-id>/<order-id>')."
    )
    async def order_by_source_id(
        self,
        info: Info[RequestContext, None],
        source: SourceName,
        source_id: Annotated[
            str,
            strawberry.argument(
                description="The backend's own order id (Order.sourceId; adobe_vip: "
                "`<customer-id>/<order-id>`)."
            ),
        ],
    ) -> Order | None:
        if not _known_source(info, source):
            raise BadUserInput(f"unknown source '{source}'")
        if not source_id:
            raise BadUserInput("sourceId must not be empty")
        return await _order(info, source, source_id)

    @strawberry.field(
        description="Orders of every source (or filter.sources) merged into one list, newest "
        "createdAt first, in pages; each source is paged through its own list endpoint."
    )
    async def orders(
        self,
        info: Info[RequestContext, None],
        filter: Annotated[
            OrderFilter | None, strawberry.argument(description="Which orders to list.")
        ] = strawberry.UNSET,
        first: Annotated[int | None, strawberry.argument(description=PAGE_SIZE)] = 50,
        after: Annotated[str | None, strawberry.argument(description=AFTER)] = strawberry.UNSET,
    ) -> OrderConnection:
        return await all_orders(info, given(filter), 50 if first is None else first, given(after))

    @strawberry.field(description="A customer by its global id.")
    async def customer(self, info: Info[RequestContext, None], id: GlobalId) -> Customer | None:
        gid = ids.decode(id, "Customer")
        return await _customer(info, gid.source, gid.source_id)

    @strawberry.field(
        description="The customers with this email in every source (compared in any case); "
        "needs the pii:read scope."
    )
    async def customers_by_email(
        self,
        info: Info[RequestContext, None],
        email: Annotated[str, strawberry.argument(description="An email address.")],
    ) -> list[Customer]:
        if not info.context.principal.can(PII_READ):
            info.context.report(
                Forbidden("looking customers up by email needs the pii:read scope"),
                path_of(info),
            )
            return []
        email = email.strip()
        if "@" not in email:
            raise BadUserInput("email must be an email address")
        names = list(info.context.sources)
        found = await asyncio.gather(
            *(info.context.sources[n].find_customers(email) for n in names),
            return_exceptions=True,
        )
        customers: list[Customer] = []
        for result in found:
            if isinstance(result, GatewayError):
                info.context.report(result, path_of(info))
            elif isinstance(result, BaseException):
                raise result
            else:
                for c in result:
                    info.context.loaders.remember_customer(c)
                    customers.append(Customer.of(c, info.context.visibility))
        return customers

    @strawberry.field(
        description="The sources this credential may read, in config order, and whether each "
        "answers."
    )
    def sources(self, info: Info[RequestContext, None]) -> list[SourceInfo]:
        return [
            SourceInfo(name=name, kind=source.kind, healthy=source.healthy)
            for name, source in info.context.sources.items()
        ]


def build_schema(
    *,
    introspection: bool = True,
    limits: LimitSettings | None = None,
    caches: bool = True,
    federation: bool = False,
) -> strawberry.Schema:
    """The gateway's schema; with ``federation``, as a federation subgraph
    (gateway.schema.federation)."""
    list_kinds()  # the registry's kinds, a kind registered since included
    # The caches (and the execution plans) live with this schema.
    chosen = limits or LimitSettings()
    kept = QueryCaches() if caches else None
    options: dict[str, Any] = {
        "preparation": Preparation(chosen, introspection=introspection, caches=kept),
        "types": [Order, Customer, License],
        "execution_context_class": _executor(introspection=introspection),
        "scalar_overrides": SCALAR_OVERRIDES,
    }
    schema: GatewaySchema
    if federation:
        from gateway.schema.federation import federated_schema

        schema = federated_schema(Query, **options)
    else:
        schema = GatewaySchema(query=Query, subscription=Subscription, **options)
    declare_personal(schema, core_schema(schema))
    if not caches:
        without_plans(core_schema(schema))
    return schema


def _executor(*, introspection: bool) -> type[Any]:
    """The plans' executor, or Strawberry's own where the fast paths are off
    (gateway.compat)."""
    if fast_paths():
        return GatewayExecutor if introspection else QuietExecutor
    return StockExecutor if introspection else StockQuietExecutor


def schema_sdl() -> str:
    """The SDL schema.graphql must equal."""
    return build_schema().as_str() + "\n"


def subgraph_sdl() -> str:
    """The subgraph SDL schema.subgraph.graphql must equal (what ``_service`` answers)."""
    from gateway.schema.federation import FederatedSchema

    schema = build_schema(federation=True)
    assert isinstance(schema, FederatedSchema)
    return schema.subgraph_sdl


__all__: Sequence[str] = ["build_schema", "schema_sdl", "subgraph_sdl"]
