"""Adobe VIP Marketplace payloads → unified objects (pure; no I/O).

An Adobe order only exists under its customer, so its ``sourceId`` is
``<customer-id>/<order-id>``. Order and line statuses are numeric codes.
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
from gateway.values import money_major, status_of, text, utc_datetime, whole

#: this kind: its name in configs and its GraphQL SourceKind value
KIND = SourceKind(
    "adobe_vip",
    "Adobe VIP Marketplace: orders under customers; numeric status codes.",
)

#: Order fields (GraphQL paths) no Adobe order has: Adobe prices an order only by its
#: lines' partner prices and says nothing of when it changed. Its list gives complete
#: orders, so no call is saved; said for every kind.
NEVER_HAS = frozenset(
    {
        "updatedAt",
        "price.subtotal",
        "price.discount",
        "price.tax",
        "price.shipping",
        "price.paid",
        "price.outstanding",
        "licenses",
    }
)
#: Customer fields no Adobe customer has: none.
CUSTOMER_NEVER_HAS: frozenset[str] = frozenset()

STATUSES: dict[str, OrderStatus] = {
    "1000": OrderStatus.COMPLETED,
    "1002": OrderStatus.PENDING,
    "1009": OrderStatus.PENDING,
    "1008": OrderStatus.CANCELLED,
    "1004": OrderStatus.FAILED,
    "1020": OrderStatus.FAILED,
    "1022": OrderStatus.FAILED,
    "1024": OrderStatus.FAILED,
    "1026": OrderStatus.FAILED,
}


def status(value: Any) -> OrderStatus:
    return status_of(STATUSES, value)


def source_id(customer_id: str, order_id: str) -> str:
    return f"{customer_id}/{order_id}"


def split_source_id(value: str) -> tuple[str, str] | None:
    customer_id, sep, order_id = value.partition("/")
    return (customer_id, order_id) if sep and customer_id and order_id else None


def customer(source: str, data: Mapping[str, Any]) -> Customer:
    """GET /v3/customers/{id}: the company, its address and its first contact."""
    profile = data.get("companyProfile") or {}
    address = profile.get("address") or {}
    contacts = profile.get("contacts") or []
    contact = contacts[0] if contacts else {}
    return Customer(
        source=source,
        kind=KIND,
        source_id=str(data["customerId"]),
        email=text(contact.get("email")),
        first_name=text(contact.get("firstName")),
        last_name=text(contact.get("lastName")),
        # The customer is a company; its name is the one the partner sees.
        name=text(profile.get("companyName")),
        company=text(profile.get("companyName")),
        phone=text(contact.get("phoneNumber")) or text(address.get("phoneNumber")),
        address=Address(
            line1=text(address.get("addressLine1")),
            line2=text(address.get("addressLine2")),
            city=text(address.get("city")),
            postal_code=text(address.get("postalCode")),
            state=text(address.get("region")),
            country=text(address.get("country")),
        ).or_none(),
    )


def contact_emails(data: Mapping[str, Any]) -> list[str]:
    contacts = (data.get("companyProfile") or {}).get("contacts") or []
    return [str(c["email"]) for c in contacts if c.get("email")]


def _line_item(data: Mapping[str, Any], currency: str) -> LineItem:
    line_currency = text(data.get("currencyCode")) or currency
    pricing = data.get("pricing") or {}
    return LineItem(
        id=str(data["extLineItemNumber"]),
        quantity=whole(data["quantity"]),
        sku=text(data.get("offerId")),
        status=status(data.get("status")),
        subscription_id=text(data.get("subscriptionId")),
        unit_price=money_major(pricing.get("partnerPrice"), line_currency),
        total=money_major(pricing.get("lineItemPartnerPrice"), line_currency),
    )


def _price(data: Mapping[str, Any], currency: str) -> Price | None:
    summaries = data.get("pricingSummary") or []
    summary = next((s for s in summaries if s.get("currencyCode", currency) == currency), None)
    if summary is None:
        return None  # Adobe sends prices only when asked (fetch-price=true)
    return Price(
        currency=currency, total=money_major(summary.get("totalLineItemPartnerPrice"), currency)
    )


def order(source: str, data: Mapping[str, Any]) -> Order:
    currency = str(data["currencyCode"])
    customer_id = str(data["customerId"])
    return Order(
        source=source,
        kind=KIND,
        source_id=source_id(customer_id, str(data["orderId"])),
        number=text(data.get("orderId")),
        status=status(data.get("status")),
        source_status=text(data.get("status")),
        created_at=utc_datetime(data.get("creationDate")),
        currency=currency,
        price=_price(data, currency),
        customer_id=customer_id,
        lines=Deferred(lambda: tuple(_line_item(i, currency) for i in data.get("lineItems") or ())),
        raw=data,
    )
