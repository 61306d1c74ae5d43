"""GraphQL object types: thin views of the domain objects (DESIGN.md names)."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Annotated, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from gateway import domain, ids
from gateway.context import RequestContext, Visibility, path_of
from gateway.errors import NotFound, misshapen
from gateway.redact import scrub_payload
from gateway.schema.selection import covered, leaf_paths
from gateway.values import SHAPE_ERRORS

if TYPE_CHECKING:
    from gateway.schema.connection import OrderConnection

# Registered in place: the domain enums are the GraphQL enums (member names are public).
strawberry.enum(domain.SourceKind, name="SourceKind")
strawberry.enum(domain.OrderStatus, name="OrderStatus")
SourceKind = domain.SourceKind
OrderStatus = domain.OrderStatus

#: Fields every customer summary has, whatever its source.
CUSTOMER_ALWAYS = frozenset({"id", "source", "sourceKind", "sourceId", "orders"})


@strawberry.interface(description="An object with a global id, stable across restarts.")
class Node:
    id: strawberry.ID


@strawberry.type(description="An exact amount: `amount` is a decimal string.")
class Money:
    amount: Decimal
    currency: str

    @classmethod
    def of(cls, money: domain.Money | None) -> Money | None:
        return cast("Money | None", money)  # see SERVED_AS_IS


@strawberry.type
class Price:
    currency: str
    subtotal: Money | None
    discount: Money | None
    tax: Money | None
    shipping: Money | None
    total: Money | None
    paid: Money | None
    outstanding: Money | None

    @classmethod
    def of(cls, price: domain.Price | None) -> Price | None:
        return cast("Price | None", price)  # see SERVED_AS_IS


#: GraphQL types whose values are the domain objects themselves: each has exactly the
#: domain class's fields (same names), no resolvers and no interface (so no type check
#: at run time), and Strawberry reads plain fields by attribute. A page of 50 orders then
#: copies no prices and amounts (tests/test_graphql_http.py holds this true).
SERVED_AS_IS: dict[type, type] = {Money: domain.Money, Price: domain.Price}


@strawberry.type
class Address:
    line1: str | None
    line2: str | None
    city: str | None
    postal_code: str | None
    state: str | None
    country: str | None

    @classmethod
    def of(cls, a: domain.Address | None) -> Address | None:
        if a is None:
            return None
        return cls(
            line1=a.line1,
            line2=a.line2,
            city=a.city,
            postal_code=a.postal_code,
            state=a.state,
            country=a.country,
        )


@strawberry.type
class Customer(Node):
    id: strawberry.ID
    source: str
    source_kind: SourceKind
    source_id: str
    email: str | None
    first_name: str | None
    last_name: str | None
    name: str | None
    company: str | None
    phone: str | None
    address: Address | None

    @strawberry.field(description="This customer's orders in its own source, newest first.")
    async def orders(
        self,
        info: Info[RequestContext, None],
        first: int | None = strawberry.UNSET,
        after: str | None = strawberry.UNSET,
    ) -> Annotated[OrderConnection, strawberry.lazy("gateway.schema.connection")]:
        from gateway.schema.connection import customer_orders, given

        size = given(first)
        return await customer_orders(
            info, self.source, self.source_id, 50 if size is None else size, given(after)
        )

    @classmethod
    def of(cls, c: domain.Customer, vis: Visibility) -> Customer:
        pii = vis.pii
        return cls(
            id=strawberry.ID(ids.encode("Customer", c.source, c.source_id)),
            source=c.source,
            source_kind=c.kind,
            source_id=c.source_id,
            email=c.email if pii else None,
            first_name=c.first_name if pii else None,
            last_name=c.last_name if pii else None,
            name=c.name if pii else None,
            company=c.company,
            phone=c.phone if pii else None,
            address=Address.of(c.address) if pii else None,
        )


def summary_fits(summary: domain.Customer, paths: set[str]) -> bool:
    """Whether a customer summary carries every selected path (below ``customer``)."""
    return summary.present is None or covered(paths, summary.present | CUSTOMER_ALWAYS)


def _fits(info: Info[RequestContext, None], summary: domain.Customer) -> bool:
    if summary.present is None:
        return True
    # The document outlives the request, so its nodes' ids are stable keys within it.
    key = (tuple(map(id, info._raw_info.field_nodes)), summary.present)
    memo = info.context.fits_summary
    fits = memo.get(key)
    if fits is None:
        fits = memo[key] = summary_fits(summary, leaf_paths(info.selected_fields[0].selections))
    return fits


def resolve_customer(
    info: Info[RequestContext, None],
    source: str,
    customer_id: str | None,
    summary: domain.Customer | None,
) -> Customer | Awaitable[Customer | None] | None:
    """The summary when it carries every selected field, else the full customer (loader).

    Answers at once when the loader already holds the customer (a list loads its page's
    customers before its orders resolve), so a page of orders completes without a
    coroutine per order; otherwise the answer is awaitable.
    """
    if summary is not None and _fits(info, summary):
        return Customer.of(summary, info.context.visibility)
    if customer_id is None:
        return None
    loading = info.context.loaders.customers.load((source, customer_id))
    if loading.done():
        return _found_customer(info, source, customer_id, loading.result())
    return _customer_when_loaded(info, source, customer_id, loading)


async def _customer_when_loaded(
    info: Info[RequestContext, None],
    source: str,
    customer_id: str,
    loading: Awaitable[domain.Customer | None],
) -> Customer | None:
    return _found_customer(info, source, customer_id, await loading)


def _found_customer(
    info: Info[RequestContext, None],
    source: str,
    customer_id: str,
    found: domain.Customer | None,
) -> Customer | None:
    if found is None:
        info.context.report(
            NotFound(f"source '{source}' has no customer {customer_id}"), path_of(info)
        )
        return None
    return Customer.of(found, info.context.visibility)


@strawberry.type
class LicenseFeature:
    code: str
    name: str | None
    feature_type: str | None
    max_consumption: int | None
    total_consumptions: int | None


@strawberry.type
class LicenseUser:
    email: str | None
    first_name: str | None
    last_name: str | None


@strawberry.type
class License(Node):
    id: strawberry.ID
    source: str
    source_id: str
    key: str | None
    license_type: str | None
    status: str | None
    active: bool | None
    enabled: bool | None
    is_trial: bool | None
    max_activations: int | None
    times_activated: int | None
    valid_until: datetime | None
    maintenance_until: datetime | None
    features: list[LicenseFeature]
    users: list[LicenseUser]
    customer: Customer | None

    @classmethod
    def of(cls, lic: domain.License, order_id: str, vis: Visibility) -> License:
        return cls(
            id=strawberry.ID(ids.encode("License", lic.source, f"{order_id}:{lic.source_id}")),
            source=lic.source,
            source_id=lic.source_id,
            key=lic.key,
            license_type=lic.license_type,
            status=lic.status,
            active=lic.active,
            enabled=lic.enabled,
            is_trial=lic.is_trial,
            max_activations=lic.max_activations,
            times_activated=lic.times_activated,
            valid_until=lic.valid_until,
            maintenance_until=lic.maintenance_until,
            features=[
                LicenseFeature(
                    code=f.code,
                    name=f.name,
                    feature_type=f.feature_type,
                    max_consumption=f.max_consumption,
                    total_consumptions=f.total_consumptions,
                )
                for f in lic.features
            ],
            users=[
                LicenseUser(email=u.email, first_name=u.first_name, last_name=u.last_name)
                if vis.pii
                else LicenseUser(email=None, first_name=None, last_name=None)
                for u in lic.users
            ],
            customer=Customer.of(lic.customer, vis) if lic.customer else None,
        )


@strawberry.type
class LineItem:
    id: str
    product_id: str | None
    product_name: str | None
    sku: str | None
    quantity: int
    unit_price: Money | None
    discount: Money | None
    total: Money | None
    status: OrderStatus | None
    subscription_id: str | None
    licenses: list[License]

    @classmethod
    def of(cls, item: domain.LineItem, order_id: str, vis: Visibility) -> LineItem:
        return cls(
            id=item.id,
            product_id=item.product_id,
            product_name=item.product_name,
            sku=item.sku,
            quantity=item.quantity,
            unit_price=Money.of(item.unit_price),
            discount=Money.of(item.discount),
            total=Money.of(item.total),
            status=item.status,
            subscription_id=item.subscription_id,
            licenses=[License.of(lic, order_id, vis) for lic in item.licenses],
        )


@strawberry.type
class Order(Node):
    id: strawberry.ID
    source: str
    source_kind: SourceKind
    source_id: str
    number: str | None
    status: OrderStatus
    source_status: str | None
    created_at: datetime | None
    updated_at: datetime | None
    is_test: bool
    currency: str | None
    price: Price | None
    _order: strawberry.Private[domain.Order]
    _visibility: strawberry.Private[Visibility]

    # Line items and licences are built only when a query selects them: a list of 50
    # orders that asks for totals must not pay for every item's objects.
    @strawberry.field
    def line_items(self) -> list[LineItem]:
        return self.items()

    @strawberry.field
    def licenses(self) -> list[License]:
        return self.all_licenses()

    def items(self) -> list[LineItem]:
        o = self._order
        try:
            lines = o.line_items
        except SHAPE_ERRORS as exc:
            raise misshapen(o.source, "order", o.source_id, exc) from None
        return [LineItem.of(item, o.source_id, self._visibility) for item in lines]

    def all_licenses(self) -> list[License]:
        return [lic for item in self.items() for lic in item.licenses]

    @strawberry.field(
        description="The backend's payload as received, minus credentials "
        "and the personal data DESIGN.md lists."
    )
    def raw(self) -> JSON | None:
        # The one exit of payloads: redacted here, and only when a query asks for them.
        if not self._visibility.raw or self._order.raw is None:
            return None
        return cast(JSON, scrub_payload(self._order.raw))

    # Not a coroutine: most answers are ready (summary, or a customer the list loaded).
    @strawberry.field(graphql_type=Customer | None)
    def customer(
        self, info: Info[RequestContext, None]
    ) -> Customer | Awaitable[Customer | None] | None:
        o = self._order
        return resolve_customer(info, o.source, o.customer_id, o.customer)

    @classmethod
    def of(cls, o: domain.Order, vis: Visibility) -> Order:
        return cls(
            id=strawberry.ID(ids.encode("Order", o.source, o.source_id)),
            source=o.source,
            source_kind=o.kind,
            source_id=o.source_id,
            number=o.number,
            status=o.status,
            source_status=o.source_status,
            created_at=o.created_at,
            updated_at=o.updated_at,
            is_test=o.is_test,
            currency=o.currency,
            price=Price.of(o.price),
            _order=o,
            _visibility=vis,
        )


@strawberry.type
class SourceInfo:
    name: str
    kind: SourceKind
    healthy: bool
