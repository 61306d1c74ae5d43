"""Hamgam web-shop payloads → unified objects (pure; no I/O).

Every amount is an integer in the currency's smallest unit; the currency comes from the
source's config because the payloads name none.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.domain import Customer, Deferred, LineItem, Order, OrderStatus, Price, SourceKind
from gateway.values import boolean, full_name, money_minor, status_of, text, utc_datetime, whole

#: this kind: its name in configs and its GraphQL SourceKind value
KIND = SourceKind(
    "hamgam",
    "Hamgam (web shop): amounts in minor units of the source's configured currency.",
)

#: Hamgam's status names (unconfirmed by its docs; docs/backends.md) → the unified status.
STATUSES: dict[str, OrderStatus] = {
    "pending": OrderStatus.PENDING,
    "processing": OrderStatus.PROCESSING,
    # Shipped is on its way, not yet delivered: still being fulfilled.
    "shipped": OrderStatus.PROCESSING,
    "delivered": OrderStatus.COMPLETED,
    "completed": OrderStatus.COMPLETED,
    "cancelled": OrderStatus.CANCELLED,
    "canceled": OrderStatus.CANCELLED,
    "refunded": OrderStatus.REFUNDED,
    "failed": OrderStatus.FAILED,
}


#: Order fields (GraphQL paths) no Hamgam order has: null (licenses: empty).
NEVER_HAS = frozenset({"price.tax", "licenses"})
#: Customer fields no Hamgam customer has: an order's customer summary answers them.
CUSTOMER_NEVER_HAS = frozenset({"company", "address"})


def status(value: Any) -> OrderStatus:
    return status_of(STATUSES, value)


def customer(source: str, data: Mapping[str, Any]) -> Customer:
    """From GET /api/customers/{id}; ``national_code`` is never read."""
    first, last = text(data.get("first_name")), text(data.get("last_name"))
    return Customer(
        source=source,
        kind=KIND,
        source_id=str(data["id"]),
        email=text(data.get("email")),
        first_name=first,
        last_name=last,
        name=full_name(first, last),
        phone=text(data.get("mobile_number")),
    )


def _customer_summary(source: str, data: Mapping[str, Any]) -> Customer:
    """The order's ``customer_data``: only a display name."""
    return Customer(
        source=source,
        kind=KIND,
        source_id=str(data["id"]),
        name=text(data.get("full_name")),
        present=frozenset({"name"}) | CUSTOMER_NEVER_HAS,
    )


def _line_item(data: Mapping[str, Any], currency: str) -> LineItem:
    product = data.get("product_data") or {}
    return LineItem(
        id=str(data["id"]),
        quantity=whole(data["quantity"]),
        product_id=None if data.get("product") is None else str(data["product"]),
        product_name=text(data.get("product_name")) or text(product.get("name")),
        sku=text(product.get("sku")),
        unit_price=money_minor(data.get("unit_price"), currency),
        discount=money_minor(data.get("discount"), currency),
        total=money_minor(data.get("total"), currency),
    )


def order(source: str, data: Mapping[str, Any], currency: str) -> Order:
    buyer = data.get("customer_data")
    return Order(
        source=source,
        kind=KIND,
        source_id=str(data["id"]),
        number=text(data.get("key")),
        status=status(data.get("status")),
        source_status=text(data.get("status")),
        created_at=utc_datetime(data.get("created_at")),
        updated_at=utc_datetime(data.get("updated_at")),
        is_test=bool(boolean((data.get("extra") or {}).get("is_test"))),
        currency=currency,
        price=Price(
            currency=currency,
            subtotal=money_minor(data.get("subtotal"), currency),
            discount=money_minor(data.get("total_discount"), currency),
            shipping=money_minor(data.get("shipping_cost"), currency),
            total=money_minor(data.get("total"), currency),
            paid=money_minor(data.get("amount_paid"), currency),
            outstanding=money_minor(data.get("amount_outstanding"), currency),
        ),
        customer=_customer_summary(source, buyer) if buyer else None,
        customer_id=str(buyer["id"]) if buyer else None,
        lines=Deferred(lambda: tuple(_line_item(i, currency) for i in data.get("items") or ())),
        raw=data,
    )
