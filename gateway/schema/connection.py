"""Relay-style order connections over the merged lister."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime
from typing import TypeVar

import strawberry
from strawberry.types import Info
from strawberry.types.unset import UnsetType

from gateway import domain
from gateway.context import RequestContext, path_of
from gateway.errors import BadUserInput, Forbidden, GatewayError
from gateway.listing import Edge, Page, merged_page, query_digest, validate_first
from gateway.schema.selection import covered, leaf_paths, under
from gateway.schema.types import Order, OrderStatus, summary_fits
from gateway.security import PII_READ
from gateway.sources.base import Source

T = TypeVar("T")


#: Fields every order summary has, whatever its source (customer resolves on its own).
ORDER_ALWAYS = frozenset({"id", "source", "sourceKind", "sourceId", "customer"})


@strawberry.type(description="Where a page stands in its list (Relay's PageInfo).")
class PageInfo:
    has_next_page: bool = strawberry.field(
        description="Whether more orders follow: ask again with after: endCursor."
    )
    has_previous_page: bool = strawberry.field(
        description="Whether this page was asked for with a cursor (after)."
    )
    start_cursor: str | None = strawberry.field(
        description="The cursor of the page's first order (null on an empty page)."
    )
    end_cursor: str | None = strawberry.field(
        description="The cursor to pass as `after` for the next page."
    )


def _cursor(root: OrderEdge) -> str:
    return root._edge.cursor


@strawberry.type(description="An order of a page and its cursor.")
class OrderEdge:
    cursor: str = strawberry.field(
        resolver=_cursor,
        description="Opaque and signed: pass it as `after` to continue after this order.",
    )
    node: Order = strawberry.field(description="The order.")
    _edge: strawberry.Private[Edge]


@strawberry.type(
    description="One page of orders, newest createdAt first (ties by source, then sourceId)."
)
class OrderConnection:
    edges: list[OrderEdge] = strawberry.field(description="The page's orders with cursors.")
    nodes: list[Order] = strawberry.field(
        description="The page's orders (the same as edges' nodes, without cursors)."
    )
    page_info: PageInfo = strawberry.field(description="How to get the next page.")


@strawberry.input(
    description="Which orders to list: every given condition must hold (null or left out: "
    "no condition)."
)
class OrderFilter:
    sources: list[str] | None = strawberry.field(
        default=strawberry.UNSET,
        description="Only these sources, by name; an unknown name is BAD_USER_INPUT.",
    )
    status: list[OrderStatus] | None = strawberry.field(
        default=strawberry.UNSET, description="Only orders with one of these statuses."
    )
    created_after: datetime | None = strawberry.field(
        default=strawberry.UNSET,
        description="Only orders created at or after this moment (inclusive).",
    )
    created_before: datetime | None = strawberry.field(
        default=strawberry.UNSET,
        description="Only orders created before this moment (exclusive).",
    )
    customer_email: str | None = strawberry.field(
        default=strawberry.UNSET,
        description="Only orders of customers with this email, in any case (each source is "
        "asked for its customers first). Needs the pii:read scope.",
    )


def given(value: T | UnsetType | None) -> T | None:
    """An optional argument's value: left out and null both mean "no condition"."""
    return None if value is strawberry.UNSET or isinstance(value, UnsetType) else value


def _utc(moment: datetime | UnsetType | None) -> datetime | None:
    moment = given(moment)
    if moment is None:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _query(f: OrderFilter | None) -> domain.OrderQuery:
    if f is None:
        return domain.OrderQuery()
    statuses = given(f.status)
    return domain.OrderQuery(
        statuses=frozenset(statuses) if statuses else None,
        created_after=_utc(f.created_after),
        created_before=_utc(f.created_before),
    )


async def _complete(
    info: Info[RequestContext, None], page: Page, paths: set[str]
) -> list[domain.Order]:
    """The page's orders, loading complete ones only where a summary lacks a selected path."""
    orders = [edge.order for edge in page.edges]
    needed = [
        i
        for i, o in enumerate(orders)
        if o.present is not None and not covered(paths, o.present | ORDER_ALWAYS)
    ]
    if needed:
        loaded = await asyncio.gather(
            *(
                info.context.loaders.orders.load((orders[i].source, orders[i].source_id))
                for i in needed
            ),
            return_exceptions=True,
        )
        for i, full in zip(needed, loaded, strict=True):
            if isinstance(full, domain.Order):
                orders[i] = full
            elif isinstance(full, GatewayError):
                # The summary stays; the error says which fields could not be completed.
                info.context.report(full, [*path_of(info), "edges", i, "node"])
            elif isinstance(full, BaseException):
                raise full
    for o in orders:
        info.context.loaders.remember_order(o)
    return orders


async def _load_customers(
    info: Info[RequestContext, None], orders: list[domain.Order], paths: set[str]
) -> None:
    """Load, as one batch, every customer the page's ``customer`` fields will need, so
    each of those fields answers without waiting (the same calls the fields would make:
    the loader dedupes; failures stay in the loader for the field to report)."""
    loaders = info.context.loaders
    if not paths or not loaders.caching:
        return
    fits: dict[frozenset[str] | None, bool] = {}  # a page's summaries share a few shapes
    keys: dict[tuple[str, str], None] = {}
    for o in orders:
        if o.customer_id is None:
            continue
        if o.customer is not None:
            present = o.customer.present
            if present not in fits:
                fits[present] = summary_fits(o.customer, paths)
            if fits[present]:
                continue
        keys[(o.source, o.customer_id)] = None
    if keys:
        await asyncio.gather(*map(loaders.customers.load, keys), return_exceptions=True)


async def _connection(
    info: Info[RequestContext, None],
    plans: dict[str, tuple[Source, domain.OrderQuery]],
    scope: str,
    query: domain.OrderQuery,
    first: int,
    after: str | None,
) -> OrderConnection:
    ctx = info.context
    digest = query_digest(scope, list(plans), query)
    selected = leaf_paths(info.selected_fields[0].selections)
    paths = under(selected, "edges.node", "nodes")
    page = await merged_page(
        plans,
        first=first,
        after=after,
        digest=digest,
        codec=ctx.codec,
        read_lines=any(p.split(".", 1)[0] in ("lineItems", "licenses") for p in paths),
        look_ahead="pageInfo.hasNextPage" in selected,
    )
    for error in page.errors:
        ctx.report(error, path_of(info))
    orders = await _complete(info, page, paths)
    await _load_customers(info, orders, under(paths, "customer"))
    nodes = [Order.of(o, ctx.visibility) for o in orders]
    edges = [OrderEdge(node=n, _edge=e) for e, n in zip(page.edges, nodes, strict=True)]
    return OrderConnection(
        edges=edges,
        nodes=nodes,
        page_info=PageInfo(
            has_next_page=page.has_next_page,
            has_previous_page=after is not None,
            start_cursor=page.edges[0].cursor if page.edges else None,
            end_cursor=page.edges[-1].cursor if page.edges else after,
        ),
    )


async def all_orders(
    info: Info[RequestContext, None], f: OrderFilter | None, first: int, after: str | None
) -> OrderConnection:
    ctx = info.context
    validate_first(first, ctx.max_page)
    names = list(ctx.sources)
    wanted = given(f.sources) if f is not None else None
    if wanted is not None:
        unknown = sorted(set(wanted) - set(ctx.sources))
        if unknown:
            raise BadUserInput(f"unknown source(s): {', '.join(unknown)}")
        names = [n for n in names if n in set(wanted)]
    query = _query(f)
    plans = {n: (ctx.sources[n], query) for n in names}
    scope = "orders"
    email = given(f.customer_email) if f is not None else None
    if email is not None:
        if not ctx.principal.can(PII_READ):
            raise Forbidden("filtering by customerEmail needs the pii:read scope")
        email = email.strip()
        scope = f"orders|email={email.lower()}"
        found = await asyncio.gather(
            *(ctx.sources[n].find_customers(email) for n in names), return_exceptions=True
        )
        plans = {}
        for name, result in zip(names, found, strict=True):
            if isinstance(result, GatewayError):
                ctx.report(result, path_of(info))
            elif isinstance(result, BaseException):
                raise result
            elif result:
                ids = frozenset(c.source_id for c in result)
                plans[name] = (ctx.sources[name], replace(query, customer_ids=ids))
                for c in result:
                    ctx.loaders.remember_customer(c)
    return await _connection(info, plans, scope, query, first, after)


async def customer_orders(
    info: Info[RequestContext, None],
    source: str,
    customer_id: str,
    first: int,
    after: str | None,
) -> OrderConnection:
    ctx = info.context
    validate_first(first, ctx.max_page)
    query = domain.OrderQuery(customer_ids=frozenset({customer_id}))
    plans = {source: (ctx.sources[source], query)} if source in ctx.sources else {}
    return await _connection(info, plans, f"customer|{source}|{customer_id}", query, first, after)
