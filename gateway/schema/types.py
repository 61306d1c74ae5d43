"""GraphQL object types: thin views of the domain objects (names: schema.graphql)."""

from __future__ import annotations

from collections.abc import Awaitable, Mapping
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from enum import Enum
from typing import TYPE_CHECKING, Annotated, cast

import strawberry
from strawberry.scalars import JSON
from strawberry.schema.types.base_scalars import DateTimeDefinition, DecimalDefinition
from strawberry.types import Info
from strawberry.types.enum import EnumValue, StrawberryEnumDefinition
from strawberry.types.scalar import ScalarDefinition

from gateway import domain, ids
from gateway.compat.private import field_nodes
from gateway.context import RequestContext, Visibility, path_of
from gateway.errors import NotFound, misshapen
from gateway.redact import scrub_payload
from gateway.schema.personal import hide, personal
from gateway.schema.selection import covered, leaf_paths
from gateway.sources.registry import kinds
from gateway.values import SHAPE_ERRORS, write_datetime, write_decimal

if TYPE_CHECKING:
    from gateway.schema.connection import OrderConnection


def _register_enum(cls: type[Enum], name: str, description: str, values: Mapping[str, str]) -> None:
    """Registers a domain enum as a GraphQL enum in place, a description on each value
    (the domain stays free of GraphQL, so the values cannot carry them themselves)."""
    strawberry.enum(cls, name=name, description=description)
    definition: StrawberryEnumDefinition = getattr(cls, "__strawberry_definition__")  # noqa: B009
    if {v.name for v in definition.values} != set(values):
        raise TypeError(
            f"{name}: describe exactly its values {[v.name for v in definition.values]}"
        )
    for value in definition.values:
        value.description = values[value.name]


# Registered in place: the domain enums are the GraphQL enums (member names are public).
_register_enum(
    domain.OrderStatus,
    "OrderStatus",
    "The unified order status, mapped from each backend's own values; the value as the "
    "backend sent it is in sourceStatus.",
    {
        "PENDING": "Placed but not yet under way (Zaveit draft; Adobe 1002, 1009; pending).",
        "PROCESSING": "Being fulfilled (Hamgam processing or shipped).",
        "COMPLETED": "Done: accepted, delivered or completed (Adobe 1000). LicenseSpring "
        "orders have no status and are always COMPLETED.",
        "CANCELLED": "Cancelled (Adobe 1008; cancelled or canceled).",
        "FAILED": "Refused or failed (Adobe 1004, 1020, 1022, 1024, 1026; Hamgam failed).",
        "REFUNDED": "Paid and refunded (HighLevel, Hamgam).",
        "UNKNOWN": "A status value the gateway does not know; sourceStatus has it.",
    },
)
OrderStatus = domain.OrderStatus


class _SourceKinds(Enum):
    """The GraphQL enum ``SourceKind``: no member of its own, its values are the
    registry's kinds, set when a schema is built (:func:`list_kinds`). A field typed with
    it answers a :class:`gateway.domain.SourceKind`, which graphql-core finds among the
    values by identity."""


strawberry.enum(
    _SourceKinds,
    name="SourceKind",
    description="The backend product a source is an instance of; several sources may share a kind.",
)


def list_kinds() -> None:
    """Makes the GraphQL enum list the registry's kinds as they are now, in its order."""
    definition: StrawberryEnumDefinition = getattr(_SourceKinds, "__strawberry_definition__")  # noqa: B009
    definition.values = [
        EnumValue(kind.name, kind, description=kind.description) for kind in kinds()
    ]


# What mypy sees is what the fields hold, the domain's kinds; what Strawberry resolves the
# annotation's name to at runtime is the GraphQL enum
if TYPE_CHECKING:
    SourceKind = domain.SourceKind
else:
    SourceKind = _SourceKinds

#: The scalars Strawberry defines, described as this schema writes them: every DateTime
#: in one format and every Decimal as plain digits (values.py gives amounts their
#: currency's minor digits), so a column of an answer or an export parses with one rule.
SCALAR_OVERRIDES: dict[object, ScalarDefinition] = {
    Decimal: replace(
        DecimalDefinition,
        description='An exact decimal number written as a string, e.g. "1500.00": '
        "never rounded and never a binary float, never in exponent notation. Parse it "
        "with a decimal type.",
        serialize=write_decimal,
    ),
    datetime: replace(
        DateTimeDefinition,
        description="A moment in RFC 3339. Values the gateway returns are UTC with six "
        'fractional digits, always ("2024-05-01T12:30:00.000000+00:00"); a backend date '
        "without a time is midnight UTC. An input without an offset is taken as UTC.",
        serialize=write_datetime,
    ),
}

#: Fields every customer summary has, whatever its source.
CUSTOMER_ALWAYS = frozenset({"id", "source", "sourceKind", "sourceId", "orders"})


@strawberry.interface(
    description="An object that can be fetched again by its global id (Query.node)."
)
class Node:
    id: strawberry.ID = strawberry.field(
        description="Opaque global id, stable across restarts of the gateway."
    )


@strawberry.type(description="An exact amount of money in one currency.")
class Money:
    amount: Decimal = strawberry.field(
        description="The amount exactly as the backend meant it, as a decimal string "
        "with at least the currency's minor digits (ISO 4217: JPY 0, EUR 2, KWD 3), "
        'e.g. "594.00" for a backend\'s 594.0, and never fewer digits than the backend '
        "wrote (nothing is rounded); integer minor units (Hamgam) are divided by the "
        "currency's exponent."
    )
    currency: str = strawberry.field(description="ISO 4217 currency code, e.g. EUR.")

    @classmethod
    def of(cls, money: domain.Money | None) -> Money | None:
        return cast("Money | None", money)  # see SERVED_AS_IS


@strawberry.type(
    description="An order's amounts as its backend states them (never computed by the "
    "gateway); each is null where the backend gives none."
)
class Price:
    currency: str = strawberry.field(description="ISO 4217 code of every amount here.")
    subtotal: Money | None = strawberry.field(
        description="Before discount, tax and shipping (Hamgam, Zaveit, HighLevel)."
    )
    discount: Money | None = strawberry.field(
        description="The discount granted (Hamgam, Zaveit, HighLevel)."
    )
    tax: Money | None = strawberry.field(description="Tax (HighLevel).")
    shipping: Money | None = strawberry.field(description="Shipping cost (Hamgam, HighLevel).")
    total: Money | None = strawberry.field(
        description="What the order costs in all (Adobe: the partner price of its lines)."
    )
    paid: Money | None = strawberry.field(description="How much has been paid (Hamgam).")
    outstanding: Money | None = strawberry.field(description="How much is still due (Hamgam).")

    @classmethod
    def of(cls, price: domain.Price | None) -> Price | None:
        return cast("Price | None", price)  # see SERVED_AS_IS


#: GraphQL types whose values are the domain objects themselves: each has exactly the
#: domain class's fields (same names), no resolvers and no interface (so no type check
#: at run time), and Strawberry reads plain fields by attribute. A page of 50 orders then
#: copies no prices and amounts (tests/test_graphql_http.py holds this true).
SERVED_AS_IS: dict[type, type] = {Money: domain.Money, Price: domain.Price}


@strawberry.type(description="A postal address as the backend has it (parts may be null).")
class Address:
    line1: str | None = strawberry.field(description="Street and number.")
    line2: str | None = strawberry.field(description="More of the street address.")
    city: str | None = strawberry.field(description="City.")
    postal_code: str | None = strawberry.field(description="Postal or ZIP code.")
    state: str | None = strawberry.field(description="State, region or province.")
    country: str | None = strawberry.field(
        description="Country, as the backend writes it (often an ISO 3166 code)."
    )

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


PAGE_SIZE = "Page size: 1 to the configured maximum (500 unless set); 50 if left out."
AFTER = "The endCursor of the previous page, to continue after it."


@strawberry.type(
    description="A customer as one source knows it: LicenseSpring's customer, a Zaveit "
    "account, a Hamgam customer, an Adobe customer (a company and its first contact), a "
    "HighLevel contact. The same person in two sources is two customers."
)
class Customer(Node):
    id: strawberry.ID = strawberry.field(
        description="Opaque global id (Query.customer, Query.node), stable across restarts."
    )
    source: str = strawberry.field(description="The name of the source this customer is in.")
    source_kind: SourceKind = strawberry.field(description="The backend product of that source.")
    source_id: str = strawberry.field(description="The backend's own customer id.")
    email: str | None = personal(description="Email address (Adobe: the first contact's).")
    first_name: str | None = personal(description="Given name.")
    last_name: str | None = personal(description="Family name.")
    name: str | None = personal(
        description="Display name: the full name, or the company's name where the customer "
        "is a company (Adobe, Zaveit)."
    )
    company: str | None = strawberry.field(description="Company name.")
    phone: str | None = personal(description="Phone number as the backend wrote it.")
    address: Address | None = personal(
        description="Postal address (Zaveit: the first of postal, official, invoice, visit "
        "and delivery it has)."
    )

    @strawberry.field(
        description="This customer's orders in its own source, newest first; paged like "
        "Query.orders."
    )
    async def orders(
        self,
        info: Info[RequestContext, None],
        first: Annotated[int | None, strawberry.argument(description=PAGE_SIZE)] = strawberry.UNSET,
        after: Annotated[
            str | None,
            strawberry.argument(description=AFTER),
        ] = strawberry.UNSET,
    ) -> Annotated[OrderConnection, strawberry.lazy("gateway.schema.connection")]:
        from gateway.schema.connection import customer_orders, given

        size = given(first)
        return await customer_orders(
            info, self.source, self.source_id, 50 if size is None else size, given(after)
        )

    @classmethod
    def of(cls, c: domain.Customer, vis: Visibility) -> Customer:
        customer = cls(
            id=strawberry.ID(ids.encode("Customer", c.source, c.source_id)),
            source=c.source,
            source_kind=c.kind,
            source_id=c.source_id,
            email=c.email,
            first_name=c.first_name,
            last_name=c.last_name,
            name=c.name,
            company=c.company,
            phone=c.phone,
            address=Address.of(c.address),
        )
        return customer if vis.pii else hide(customer)


def summary_fits(summary: domain.Customer, paths: set[str]) -> bool:
    """Whether a customer summary carries every selected path (below ``customer``)."""
    return summary.present is None or covered(paths, summary.present | CUSTOMER_ALWAYS)


def _fits(info: Info[RequestContext, None], summary: domain.Customer) -> bool:
    if summary.present is None:
        return True
    # The document outlives the request, so its nodes' ids are stable keys within it.
    nodes = field_nodes(info)
    if nodes is None:  # no stable key: judged per field
        return summary_fits(summary, leaf_paths(info.selected_fields[0].selections))
    key = (tuple(map(id, nodes)), summary.present)
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


@strawberry.type(description="A product feature a licence grants (LicenseSpring).")
class LicenseFeature:
    code: str = strawberry.field(description="The feature's code in its product.")
    name: str | None = strawberry.field(description="The feature's name.")
    feature_type: str | None = strawberry.field(
        description="LicenseSpring's feature type, e.g. activation or consumption."
    )
    max_consumption: int | None = strawberry.field(
        description="How many consumptions the licence allows (its own limit, else the "
        "product feature's)."
    )
    total_consumptions: int | None = strawberry.field(
        description="How many have been consumed so far."
    )


@strawberry.type(description="A person a licence is assigned to (LicenseSpring user-based).")
class LicenseUser:
    email: str | None = personal(
        description="The user's real email address (LicenseSpring's true_email)."
    )
    first_name: str | None = personal(description="Given name.")
    last_name: str | None = personal(description="Family name.")


@strawberry.type(
    description="A software licence sold in an order's line item (LicenseSpring), as the "
    "backend reported it when the order was read."
)
class License(Node):
    id: strawberry.ID = strawberry.field(
        description="Opaque global id (Query.node), stable across restarts."
    )
    source: str = strawberry.field(description="The name of the source the licence is in.")
    source_id: str = strawberry.field(description="The backend's own licence id.")
    key: str | None = strawberry.field(
        description="The licence key (null for user-based licences, which have users)."
    )
    license_type: str | None = strawberry.field(
        description="LicenseSpring's licence type, e.g. perpetual, time-limited, "
        "subscription, consumption."
    )
    status: str | None = strawberry.field(
        description="The licence's status as the backend sent it."
    )
    active: bool | None = strawberry.field(description="Whether the licence has been activated.")
    enabled: bool | None = strawberry.field(description="Whether the licence may be used.")
    is_trial: bool | None = strawberry.field(description="Whether it is a trial licence.")
    max_activations: int | None = strawberry.field(description="How many devices may activate it.")
    times_activated: int | None = strawberry.field(description="How many activations so far.")
    valid_until: datetime | None = strawberry.field(
        description="When the licence expires, UTC (null: it does not)."
    )
    maintenance_until: datetime | None = strawberry.field(
        description="When its maintenance period ends, UTC."
    )
    features: list[LicenseFeature] = strawberry.field(description="The product features it grants.")
    users: list[LicenseUser] = strawberry.field(description="The users it is assigned to.")
    customer: Customer | None = strawberry.field(
        description="The customer it was issued to, as embedded in the licence."
    )

    @classmethod
    def of(cls, lic: domain.License, order_id: str, vis: Visibility) -> License:
        users = [
            LicenseUser(email=u.email, first_name=u.first_name, last_name=u.last_name)
            for u in lic.users
        ]
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
            users=users if vis.pii else [hide(u) for u in users],
            customer=Customer.of(lic.customer, vis) if lic.customer else None,
        )


@strawberry.type(description="One line of an order: a product and how many of it.")
class LineItem:
    id: str = strawberry.field(
        description="The line's id in the backend (Adobe: its extLineItemNumber); unique "
        "within its order."
    )
    product_id: str | None = strawberry.field(description="The backend's product id.")
    product_name: str | None = strawberry.field(
        description='The product\'s name (Zaveit: "offering (edition)").'
    )
    sku: str | None = strawberry.field(
        description="Stock-keeping unit (LicenseSpring: the product's short code; Adobe: "
        "the offer id)."
    )
    quantity: int = strawberry.field(
        description="Units ordered (LicenseSpring: the number of licences in the line)."
    )
    unit_price: Money | None = strawberry.field(
        description="The price of one unit (Adobe: the partner price)."
    )
    discount: Money | None = strawberry.field(description="The line's discount.")
    total: Money | None = strawberry.field(
        description="The line's amount as the backend states it (HighLevel: unit price "
        "times quantity, computed exactly)."
    )
    status: OrderStatus | None = strawberry.field(
        description="The line's own status, where the backend has one (Adobe)."
    )
    subscription_id: str | None = strawberry.field(
        description="The subscription the line created or renews (Adobe, Zaveit)."
    )
    licenses: list[License] = strawberry.field(
        description="The licences sold in this line (LicenseSpring); empty elsewhere."
    )

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


@strawberry.type(
    description="An order as one source knows it, in the unified shape. A field the "
    "backend has no value for is null; `raw` keeps everything it sent."
)
class Order(Node):
    id: strawberry.ID = strawberry.field(
        description="Opaque global id (Query.order, Query.node), stable across restarts."
    )
    source: str = strawberry.field(
        description="The name of the configured source the order is in (e.g. eu-shop)."
    )
    source_kind: SourceKind = strawberry.field(description="The backend product of that source.")
    source_id: str = strawberry.field(
        description="The backend's own order id. ADOBE_VIP: `<customer-id>/<order-id>`, as "
        "an Adobe order is only found under its customer. With `source`, what "
        "Query.orderBySourceId takes."
    )
    number: str | None = strawberry.field(
        description="The order number people use where the backend has one (LicenseSpring "
        "store id, Zaveit number, Hamgam key, Adobe order id); null for HighLevel."
    )
    status: OrderStatus = strawberry.field(
        description="The backend's status mapped to the unified one; UNKNOWN when the "
        "gateway does not know the value."
    )
    source_status: str | None = strawberry.field(
        description="The status exactly as the backend sent it, as a string (Adobe: a code "
        "such as 1000); null for LicenseSpring, whose orders have none."
    )
    created_at: datetime | None = strawberry.field(
        description="When the order was placed, UTC. Lists are newest first by it; orders "
        "without it come last."
    )
    updated_at: datetime | None = strawberry.field(
        description="When the backend last changed the order, UTC (null where it does not "
        "say, e.g. Adobe)."
    )
    is_test: bool = strawberry.field(
        description="A test order: LicenseSpring is_test, HighLevel liveMode false or "
        "markAsTest, Zaveit test, Hamgam extra.is_test; otherwise false."
    )
    currency: str | None = strawberry.field(
        description="ISO 4217 code of the order's amounts (Hamgam: the source's configured "
        "currency, as its payloads name none); null where the backend gives no prices."
    )
    price: Price | None = strawberry.field(
        description="The order's amounts, exact; null where the backend gives none "
        "(LicenseSpring, Adobe when it did not price the order)."
    )
    _order: strawberry.Private[domain.Order]
    _visibility: strawberry.Private[Visibility]

    # Line items and licences are built only when a query selects them: a list of 50
    # orders that asks for totals must not pay for every item's objects.
    @strawberry.field(
        description="The order's lines in the backend's order (a Zaveit order is one line)."
    )
    def line_items(self) -> list[LineItem]:
        return self.items()

    @strawberry.field(
        description="Every licence of every line (LicenseSpring), in line order; empty "
        "for other kinds."
    )
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
        description="The backend's order payload as received, as JSON (amounts as exact "
        "numbers), minus credentials, passwords and national id numbers. Null without the "
        "raw:read scope."
    )
    def raw(self) -> JSON | None:
        # The one exit of payloads: redacted here, and only when a query asks for them.
        if not self._visibility.raw or self._order.raw is None:
            return None
        return cast(JSON, scrub_payload(self._order.raw))

    # Not a coroutine: most answers are ready (summary, or a customer the list loaded).
    @strawberry.field(
        graphql_type=Customer | None,
        description="Who placed the order. Fetched from the backend only when the query "
        "selects fields the order's own copy of the customer lacks.",
    )
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


@strawberry.type(description="A configured source (one backend instance).")
class SourceInfo:
    name: str = strawberry.field(
        description="The source's name: its table's key in the config ([sources.NAME])."
    )
    kind: SourceKind = strawberry.field(description="The backend product it is.")
    healthy: bool = strawberry.field(
        description="Whether its last backend call answered and its circuit breaker is "
        "closed (asking makes no call)."
    )
