"""Zaveit reseller-marketplace payloads → unified objects (pure; no I/O).

Money arrives as JSON numbers in the order's ``currency.type``; they are parsed as
Decimal, so ``2339.71`` stays exactly 2339.71.
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
from gateway.values import boolean, money_major, status_of, text, utc_datetime, whole

#: this kind: its name in configs and its GraphQL SourceKind value
KIND = SourceKind(
    "zaveit",
    "Zaveit (reseller marketplace): one offering and edition per order.",
)

STATUSES: dict[str, OrderStatus] = {
    "accepted": OrderStatus.COMPLETED,
    "draft": OrderStatus.PENDING,
    "cancelled": OrderStatus.CANCELLED,
    "canceled": OrderStatus.CANCELLED,
}
#: Which of an account's addresses is the customer's address, in order of preference.
ADDRESS_PREFERENCE = ("postal", "official", "invoice", "visit", "delivery")

#: Order fields (GraphQL paths) no Zaveit order has: null (licenses: empty) whatever is
#: fetched, so a list answers them without loading each order.
NEVER_HAS = frozenset(
    {"price.tax", "price.shipping", "price.paid", "price.outstanding", "licenses"}
)
#: Customer fields no Zaveit account has (an account is an organisation).
CUSTOMER_NEVER_HAS = frozenset({"firstName", "lastName"})

#: What a list item answers (GraphQL paths): what it carries and what no order has;
#: anything else needs the full order.
SUMMARY_PATHS = NEVER_HAS | frozenset(
    {
        "number",
        "status",
        "sourceStatus",
        "createdAt",
        "currency",
        "price.currency",
        "price.total",
        "isTest",
    }
)


def status(value: Any) -> OrderStatus:
    return status_of(STATUSES, value)


def _address(addresses: Mapping[str, Any]) -> Address | None:
    for key in ADDRESS_PREFERENCE:
        a = addresses.get(key)
        if a:
            found = Address(
                line1=text(a.get("street")),
                line2=text(a.get("line2")),
                city=text(a.get("city")),
                postal_code=text(a.get("zip")),
                state=text(a.get("state")),
                country=text(a.get("country")),
            ).or_none()
            if found is not None:
                return found
    return None


def customer(source: str, data: Mapping[str, Any]) -> Customer:
    """An account (GET /v1/account/{id}, or an order's ``account_details``)."""
    email = data.get("email")
    name = text(data.get("name"))
    return Customer(
        source=source,
        kind=KIND,
        source_id=str(data.get("id") or data["_id"]),
        email=text(email.get("default")) if isinstance(email, Mapping) else text(email),
        name=name,
        # A marketplace account is an organisation (it has an organisation number).
        company=name,
        phone=text(data.get("phone")),
        address=_address(data.get("address") or {}),
    )


def _line_item(data: Mapping[str, Any], currency: str) -> LineItem:
    offering = text((data.get("offering") or {}).get("name"))
    edition = text((data.get("edition") or {}).get("name"))
    price = data.get("price") or {}
    subscription = data.get("subscription")
    return LineItem(
        id=str(data.get("id") or data["_id"]),
        quantity=whole(data.get("quantity"), 1),
        product_id=text((data.get("offering") or {}).get("id")),
        product_name=f"{offering} ({edition})" if offering and edition else offering or edition,
        discount=money_major(price.get("discount"), currency),
        total=money_major(price.get("total"), currency),
        subscription_id=text(
            subscription.get("id") if isinstance(subscription, Mapping) else subscription
        ),
    )


def order(source: str, data: Mapping[str, Any]) -> Order:
    currency = str(data["currency"]["type"])
    price = data.get("price") or {}
    account = data.get("account_details")
    account_id = text(data.get("account")) or (text(account.get("id")) if account else None)
    return Order(
        source=source,
        kind=KIND,
        source_id=str(data.get("id") or data["_id"]),
        number=text(data.get("number")),
        status=status(data.get("status")),
        source_status=text(data.get("status")),
        created_at=utc_datetime(data.get("created")),
        updated_at=utc_datetime(data.get("updated")),
        is_test=bool(boolean(data.get("test"))),
        currency=currency,
        price=Price(
            currency=currency,
            subtotal=money_major(price.get("subtotal"), currency),
            discount=money_major(price.get("discount"), currency),
            total=money_major(price.get("total"), currency),
        ),
        customer=customer(source, account) if account else None,
        customer_id=account_id,
        # A Zaveit order is one offering in one edition: one line.
        lines=Deferred(lambda: (_line_item(data, currency),)),
        raw=data,
    )


def summary(source: str, data: Mapping[str, Any]) -> Order:
    """An item of GET /v2/order/detailed: enough for lists; the rest loads on demand."""
    currency = str(data["currency"])
    buyer = data.get("customer") or {}
    return Order(
        source=source,
        kind=KIND,
        source_id=str(data["orderId"]),
        number=text(data.get("number")),
        status=status(data.get("status")),
        source_status=text(data.get("status")),
        created_at=utc_datetime((data.get("date") or {}).get("created")),
        is_test=bool(boolean(data.get("test"))),
        currency=currency,
        price=Price(currency=currency, total=money_major(data.get("totalPrice"), currency)),
        customer=Customer(
            source=source,
            kind=KIND,
            source_id=str(buyer["id"]),
            name=text(buyer.get("name")),
            company=text(buyer.get("name")),
            present=frozenset({"name", "company"}) | CUSTOMER_NEVER_HAS,
        )
        if buyer
        else None,
        customer_id=text(buyer.get("id")),
        present=SUMMARY_PATHS,
    )
