"""HighLevel (LeadConnector) payments-order payloads → unified objects (pure; no I/O).

Amounts are JSON numbers in major units (100 is 100.00 USD), read as exact Decimals.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.domain import (
    Address,
    Customer,
    Deferred,
    LineItem,
    Order,
    OrderStatus,
    Price,
    SourceKind,
)
from gateway.values import (
    boolean,
    decimal_of,
    full_name,
    money_major,
    status_of,
    text,
    utc_datetime,
    whole,
)

#: this kind: its name in configs and its GraphQL SourceKind value
KIND = SourceKind(
    "highlevel",
    "HighLevel (LeadConnector) payments: the orders of one location.",
)

STATUSES: dict[str, OrderStatus] = {
    "completed": OrderStatus.COMPLETED,
    "pending": OrderStatus.PENDING,
    "cancelled": OrderStatus.CANCELLED,
    "canceled": OrderStatus.CANCELLED,
    "refunded": OrderStatus.REFUNDED,
}

#: Order fields (GraphQL paths) no HighLevel order has: null (licenses: empty) whatever
#: is fetched, so a list answers them without loading each order.
NEVER_HAS = frozenset({"number", "price.paid", "price.outstanding", "licenses"})
#: Customer fields no HighLevel contact has: none (a contact may have every one).
CUSTOMER_NEVER_HAS: frozenset[str] = frozenset()

#: What a list item answers (GraphQL paths): what it carries and what no order has;
#: anything else needs the full order.
SUMMARY_PATHS = NEVER_HAS | frozenset(
    {
        "status",
        "sourceStatus",
        "createdAt",
        "updatedAt",
        "currency",
        "isTest",
        "price.currency",
        "price.total",
        "price.subtotal",
        "price.discount",
    }
)


def status(value: Any) -> OrderStatus:
    return status_of(STATUSES, value)


def _is_test(data: Mapping[str, Any]) -> bool:
    return boolean(data.get("liveMode")) is False or bool(boolean(data.get("markAsTest")))


def contact(source: str, data: Mapping[str, Any]) -> Customer:
    """GET /contacts/{id} → ``{"contact": {...}}``; pass the inner object."""
    first, last = text(data.get("firstName")), text(data.get("lastName"))
    return Customer(
        source=source,
        kind=KIND,
        source_id=str(data["id"]),
        email=text(data.get("email")),
        first_name=first,
        last_name=last,
        name=text(data.get("contactName")) or full_name(first, last),
        company=text(data.get("companyName")),
        phone=text(data.get("phone")),
        address=Address(
            line1=text(data.get("address1")),
            city=text(data.get("city")),
            postal_code=text(data.get("postalCode")),
            state=text(data.get("state")),
            country=text(data.get("country")),
        ).or_none(),
    )


def _snapshot(source: str, contact_id: str, data: Mapping[str, Any]) -> Customer:
    """The order's ``contactSnapshot``: only what it says, marked as partial."""
    email = text(data.get("email"))
    # The snapshot's *_lower_case names are not the names as written: not used.
    last_name = text(data.get("last_name"))
    company = text(data.get("company_name"))
    known = {"email": email, "lastName": last_name, "company": company}
    return Customer(
        source=source,
        kind=KIND,
        source_id=contact_id,
        email=email,
        last_name=last_name,
        company=company,
        present=frozenset(k for k, v in known.items() if v is not None),
    )


def _line_item(data: Mapping[str, Any], currency: str) -> LineItem:
    price = data.get("price") or {}
    product = data.get("product") or {}
    quantity = whole(data["qty"] if data.get("qty") is not None else data.get("quantity"), 1)
    unit = price.get("amount")
    line_currency = text(price.get("currency")) or currency
    return LineItem(
        id=str(data["_id"]),
        quantity=quantity,
        product_id=text(product.get("_id")),
        product_name=text(data.get("name")) or text(product.get("name")),
        sku=text(price.get("sku")) or text(product.get("sku")),
        unit_price=money_major(unit, line_currency),
        total=money_major(decimal_of(unit) * quantity, line_currency) if unit is not None else None,
    )


def _header(source: str, data: Mapping[str, Any]) -> dict[str, Any]:
    """What an order and a list item both carry, under the same keys."""
    return {
        "source": source,
        "kind": KIND,
        "source_id": str(data["_id"]),
        "status": status(data.get("status")),
        "source_status": text(data.get("status")),
        "created_at": utc_datetime(data.get("createdAt")),
        "updated_at": utc_datetime(data.get("updatedAt")),
        "is_test": _is_test(data),
        "currency": str(data["currency"]),
        "customer_id": text(data.get("contactId")),
    }


def order(source: str, data: Mapping[str, Any]) -> Order:
    currency = str(data["currency"])
    summary = data.get("amountSummary") or {}
    contact_id = text(data.get("contactId"))
    snapshot = data.get("contactSnapshot")
    return Order(
        **_header(source, data),
        price=Price(
            currency=currency,
            subtotal=money_major(summary.get("subtotal"), currency),
            discount=money_major(summary.get("discount"), currency),
            tax=money_major(summary.get("tax"), currency),
            shipping=money_major(summary.get("shipping"), currency),
            total=money_major(data.get("amount"), currency),
        ),
        customer=_snapshot(source, contact_id, snapshot)
        if contact_id and isinstance(snapshot, Mapping)
        else None,
        lines=Deferred(lambda: tuple(_line_item(i, currency) for i in data.get("items") or ())),
        raw=data,
    )


def summary(source: str, data: Mapping[str, Any]) -> Order:
    """An item of GET /payments/orders: flatter, with contactName and contactEmail."""
    currency = str(data["currency"])
    contact_id = text(data.get("contactId"))
    return Order(
        **_header(source, data),
        price=Price(
            currency=currency,
            subtotal=money_major(data.get("subtotal"), currency),
            discount=money_major(data.get("discount"), currency),
            total=money_major(data.get("amount"), currency),
        ),
        customer=Customer(
            source=source,
            kind=KIND,
            source_id=contact_id,
            name=text(data.get("contactName")),
            email=text(data.get("contactEmail")),
            present=frozenset({"name", "email"}),
        )
        if contact_id
        else None,
        present=SUMMARY_PATHS,
    )
