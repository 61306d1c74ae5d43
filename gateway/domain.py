"""Frozen dataclasses the normalizers return: the unified model, free of GraphQL."""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Generic, TypeVar

T = TypeVar("T")


@dataclass(frozen=True, eq=False, slots=True)
class SourceKind:
    """A backend product the gateway speaks to. Each kind's folder declares its own and its
    adapter carries it; the registry's kinds are the GraphQL enum ``SourceKind``. One
    object per kind, compared by identity."""

    #: the kind's name in configs, logs and metrics ("adobe_vip")
    value: str
    #: what the GraphQL enum value's description says
    description: str

    @property
    def name(self) -> str:
        """The GraphQL enum value ("ADOBE_VIP")."""
        return self.value.upper()

    def __repr__(self) -> str:
        return f"SourceKind({self.value!r})"


class OrderStatus(enum.Enum):
    """The unified order status; ``sourceStatus`` keeps the backend's own value."""

    PENDING = "PENDING"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    CANCELLED = "CANCELLED"
    FAILED = "FAILED"
    REFUNDED = "REFUNDED"
    UNKNOWN = "UNKNOWN"


class Deferred(Generic[T]):
    """A value made on first use, then kept: work a query may never ask for (an order's
    line items) is not done for every order of a list. A failure is raised again on each
    use. Equal when the values are equal."""

    __slots__ = ("_make", "_value")

    def __init__(self, make: Callable[[], T]) -> None:
        self._make: Callable[[], T] | None = make

    @classmethod
    def ready(cls, value: T) -> Deferred[T]:
        made: Deferred[T] = cls(lambda: value)
        made.get()
        return made

    def get(self) -> T:
        if self._make is not None:
            self._value = self._make()
            self._make = None
        return self._value

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Deferred) and self.get() == other.get()

    def __hash__(self) -> int:
        return hash(self.get())

    def __repr__(self) -> str:
        return f"Deferred({self._value!r})" if self._make is None else "Deferred(<not made>)"


def _no_lines() -> Deferred[tuple[LineItem, ...]]:
    return Deferred.ready(())


@dataclass(frozen=True, slots=True)
class Money:
    amount: Decimal
    currency: str


@dataclass(frozen=True, slots=True)
class Price:
    currency: str
    subtotal: Money | None = None
    discount: Money | None = None
    tax: Money | None = None
    shipping: Money | None = None
    total: Money | None = None
    paid: Money | None = None
    outstanding: Money | None = None


@dataclass(frozen=True, slots=True)
class Address:
    line1: str | None = None
    line2: str | None = None
    city: str | None = None
    postal_code: str | None = None
    state: str | None = None
    country: str | None = None

    def or_none(self) -> Address | None:
        """None when the backend gave no part of the address at all."""
        parts = (self.line1, self.line2, self.city, self.postal_code, self.state, self.country)
        return self if any(parts) else None


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer as one source knows it.

    ``present`` is None when the object is complete; a summary embedded in an order
    or a list item names the schema fields it really carries, so the gateway fetches
    the full customer only when a query asks for something else.
    """

    source: str
    kind: SourceKind
    source_id: str
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    name: str | None = None
    company: str | None = None
    phone: str | None = None
    address: Address | None = None
    present: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class LicenseFeature:
    code: str
    name: str | None = None
    feature_type: str | None = None
    max_consumption: int | None = None
    total_consumptions: int | None = None


@dataclass(frozen=True, slots=True)
class LicenseUser:
    email: str | None = None
    first_name: str | None = None
    last_name: str | None = None


@dataclass(frozen=True, slots=True)
class License:
    source: str
    kind: SourceKind
    source_id: str
    key: str | None = None
    license_type: str | None = None
    status: str | None = None
    active: bool | None = None
    enabled: bool | None = None
    is_trial: bool | None = None
    max_activations: int | None = None
    times_activated: int | None = None
    valid_until: datetime | None = None
    maintenance_until: datetime | None = None
    features: tuple[LicenseFeature, ...] = ()
    users: tuple[LicenseUser, ...] = ()
    customer: Customer | None = None
    #: the order the licence was sold in (its global id points there)
    order_id: str | None = None


@dataclass(frozen=True, slots=True)
class LineItem:
    id: str
    quantity: int
    product_id: str | None = None
    product_name: str | None = None
    sku: str | None = None
    unit_price: Money | None = None
    discount: Money | None = None
    total: Money | None = None
    status: OrderStatus | None = None
    subscription_id: str | None = None
    licenses: tuple[License, ...] = ()


@dataclass(frozen=True, slots=True)
class Order:
    """An order as one source knows it.

    ``present`` is None for a complete order (from the backend's get-order call). A
    list summary names the schema paths it really carries (``"price.total"``); any
    other path makes the gateway load the complete order.
    """

    source: str
    kind: SourceKind
    source_id: str
    status: OrderStatus
    number: str | None = None
    source_status: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    is_test: bool = False
    currency: str | None = None
    price: Price | None = None
    customer: Customer | None = None
    customer_id: str | None = None
    #: normalized on first use: a shape error in an item surfaces where items are read
    lines: Deferred[tuple[LineItem, ...]] = field(default_factory=_no_lines)
    #: the payload as received; redacted where it leaves the gateway (schema's Order.raw)
    raw: Mapping[str, Any] | None = None
    present: frozenset[str] | None = None

    @property
    def line_items(self) -> tuple[LineItem, ...]:
        return self.lines.get()

    @property
    def licenses(self) -> tuple[License, ...]:
        return tuple(lic for item in self.line_items for lic in item.licenses)


@dataclass(frozen=True, slots=True)
class OrderPage:
    """One page of a backend's order list, in the backend's newest-first order."""

    orders: tuple[Order, ...]
    has_more: bool


@dataclass(frozen=True, slots=True)
class OrderQuery:
    """What a list asks for, in unified terms; adapters push down what they can."""

    statuses: frozenset[OrderStatus] | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    customer_ids: frozenset[str] | None = None

    @property
    def narrows(self) -> bool:
        """Whether any filter is set (else every order matches)."""
        return self != _EVERY_ORDER

    def matches(self, order: Order) -> bool:
        """The exact filter, applied in the gateway whatever the backend pushed down."""
        if self.statuses is not None and order.status not in self.statuses:
            return False
        if self.created_after is not None and (
            order.created_at is None or order.created_at < self.created_after
        ):
            return False
        if self.created_before is not None and (
            order.created_at is None or order.created_at >= self.created_before
        ):
            return False
        return not (self.customer_ids is not None and order.customer_id not in self.customer_ids)

    def ends(self, order: Order) -> bool:
        """Whether, in a list sorted newest first, neither ``order`` nor any after it can
        match: it is dated before ``created_after``, the one bound such an order makes
        final (orders without a date end nothing: where they sort is the backend's call)."""
        return (
            self.created_after is not None
            and order.created_at is not None
            and order.created_at < self.created_after
        )


_EVERY_ORDER = OrderQuery()
