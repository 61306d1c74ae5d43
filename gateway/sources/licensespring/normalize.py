"""LicenseSpring Management API payloads → unified objects (pure; no I/O)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gateway.domain import (
    Address,
    Customer,
    Deferred,
    License,
    LicenseFeature,
    LicenseUser,
    LineItem,
    Order,
    OrderStatus,
    SourceKind,
)
from gateway.values import boolean, full_name, integer, text, utc_datetime

#: this kind: its name in configs and its GraphQL SourceKind value
KIND = SourceKind(
    "licensespring",
    "LicenseSpring (software licensing): orders with their licences.",
)

#: Order fields (GraphQL paths) no LicenseSpring order has: it carries no status, prices
#: or currency. Its list gives complete orders, so no call is saved; said for every kind.
NEVER_HAS = frozenset({"sourceStatus", "currency", "price"})
#: Customer fields no LicenseSpring customer has: none.
CUSTOMER_NEVER_HAS: frozenset[str] = frozenset()


def customer(source: str, data: Mapping[str, Any]) -> Customer:
    first, last = text(data.get("first_name")), text(data.get("last_name"))
    address = Address(
        line1=text(data.get("address")),
        city=text(data.get("city")),
        postal_code=text(data.get("postcode")),
        state=text(data.get("state")),
        country=text(data.get("country")),
    )
    return Customer(
        source=source,
        kind=KIND,
        source_id=str(data["id"]),
        email=text(data.get("email")),
        first_name=first,
        last_name=last,
        name=full_name(first, last),
        company=text(data.get("company_name")),
        phone=text(data.get("phone")),
        address=address.or_none(),
    )


def _feature(data: Mapping[str, Any]) -> LicenseFeature:
    product_feature = data.get("product_feature") or {}
    return LicenseFeature(
        code=str(product_feature["code"]),
        name=text(product_feature.get("name")),
        feature_type=text(product_feature.get("feature_type")),
        # The licence's own limits override the product feature's defaults.
        max_consumption=integer(
            data.get("max_consumption", product_feature.get("max_consumption"))
        ),
        total_consumptions=integer(data.get("total_consumptions")),
    )


def _user(data: Mapping[str, Any]) -> LicenseUser:
    # `email` may carry a suffix that makes it unique per licence; `true_email` is the address.
    return LicenseUser(
        email=text(data.get("true_email")) or text(data.get("email")),
        first_name=text(data.get("first_name")),
        last_name=text(data.get("last_name")),
    )


def license_(source: str, data: Mapping[str, Any]) -> License:
    users = data.get("license_users")
    if users is None and data.get("license_user"):
        users = [data["license_user"]]
    embedded = data.get("customer")
    return License(
        source=source,
        kind=KIND,
        source_id=str(data["id"]),
        key=text(data.get("license_key")),
        license_type=text(data.get("license_type")),
        status=text(data.get("status")),
        active=boolean(data.get("active")),
        enabled=boolean(data.get("enabled")),
        is_trial=boolean(data.get("is_trial")),
        max_activations=integer(data.get("max_activations")),
        times_activated=integer(data.get("times_activated")),
        valid_until=utc_datetime(data.get("validity_period")),
        maintenance_until=utc_datetime(data.get("maintenance_period")),
        features=tuple(_feature(f) for f in data.get("product_features") or ()),
        users=tuple(_user(u) for u in users or ()),
        customer=customer(source, embedded) if embedded else None,
        order_id=None if data.get("order") is None else str(data["order"]),
    )


def _line_item(source: str, data: Mapping[str, Any]) -> LineItem:
    licenses = tuple(license_(source, lic) for lic in data.get("licenses") or ())
    product = (
        next((lic.get("product") for lic in data.get("licenses") or () if lic.get("product")), None)
        or {}
    )
    product_id = data.get("product_id", data.get("product"))
    return LineItem(
        id=str(data["id"]),
        # An order item has no quantity of its own: each licence is one unit.
        quantity=len(licenses),
        product_id=None if product_id is None else str(product_id),
        product_name=text(product.get("product_name")),
        sku=text(product.get("short_code")),
        licenses=licenses,
    )


def order(source: str, data: Mapping[str, Any]) -> Order:
    embedded = data.get("customer")
    buyer = customer(source, embedded) if embedded else None
    return Order(
        source=source,
        kind=KIND,
        source_id=str(data["id"]),
        number=text(data.get("store_id")),
        # LicenseSpring orders carry no status: an order that exists was placed.
        status=OrderStatus.COMPLETED,
        source_status=None,
        created_at=utc_datetime(data.get("created_at")),
        updated_at=utc_datetime(data.get("updated_at")),
        is_test=bool(boolean(data.get("is_test"))),
        customer=buyer,
        customer_id=buyer.source_id if buyer else None,
        lines=Deferred(lambda: tuple(_line_item(source, i) for i in data.get("order_items") or ())),
        raw=data,
    )
