"""Each kind's normalizer on the seed documents' own example payloads, field by field."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest

from gateway.domain import Address, Money, OrderStatus
from gateway.redact import scrub_payload
from gateway.sources.adobe_vip import normalize as adobe
from gateway.sources.adobe_vip.simulator import SEED_ORDERS, _with_prices
from gateway.sources.hamgam import normalize as hamgam
from gateway.sources.hamgam.simulator import SEED_CUSTOMER
from gateway.sources.hamgam.simulator import SEED_ORDER as HAMGAM_ORDER
from gateway.sources.highlevel import normalize as highlevel
from gateway.sources.highlevel.simulator import SEED_CONTACT
from gateway.sources.highlevel.simulator import SEED_ORDER as HL_ORDER
from gateway.sources.http import parse_json
from gateway.sources.licensespring import normalize as licensespring
from gateway.sources.licensespring.simulator import SEED_ORDER as LS_ORDER
from gateway.sources.zaveit import normalize as zaveit
from gateway.sources.zaveit.simulator import SEED_ORDER as ZAVEIT_ORDER
from gateway.values import ValueProblem, money_minor, utc_datetime, whole


def as_received(payload: object) -> object:
    """The payload as the client parses it off the wire (floats as exact Decimals)."""
    from gateway.encoding import dumps

    return parse_json(dumps(payload))


def test_licensespring_seed_order() -> None:
    o = licensespring.order("licensing", as_received(LS_ORDER))  # type: ignore[arg-type]
    assert (o.source, o.kind, o.source_id) == (
        "licensing",
        licensespring.KIND,
        "1593781720493279",
    )
    assert o.number == "d2d2dce02c844d4492c9d48758aa143a"
    assert o.status is OrderStatus.COMPLETED and o.source_status is None
    assert o.created_at == datetime(2020, 7, 3, 13, 8, 40, tzinfo=UTC)
    assert o.updated_at == datetime(2020, 7, 3, 13, 8, 40, tzinfo=UTC)
    assert o.is_test is False and o.currency is None and o.price is None
    assert o.customer is not None and o.customer.present is None
    seed_email = LS_ORDER["customer"]["email"]  # the seed's own (obfuscated) address
    assert (o.customer.source_id, o.customer.email) == ("620", seed_email)
    assert o.customer.first_name is None and o.customer.name is None
    assert o.customer.address is None and o.customer_id == "620"
    (item,) = o.line_items
    assert (item.id, item.product_id, item.product_name, item.sku, item.quantity) == (
        "1593781720493299",
        "1584723961091234",
        "mch",
        "code1",
        1,
    )
    assert item.unit_price is None and item.total is None
    (lic,) = item.licenses
    assert lic.source_id == "1593781720493289" and lic.key is None
    assert (lic.license_type, lic.status, lic.active, lic.enabled, lic.is_trial) == (
        "perpetual",
        "Inactive",
        False,
        True,
        True,
    )
    assert (lic.max_activations, lic.times_activated) == (5, 0)
    assert lic.valid_until == datetime(2020, 9, 30, tzinfo=UTC)
    # docs/bi.md: a date-only value is midnight UTC that day.
    assert lic.maintenance_until == datetime(2021, 1, 10, tzinfo=UTC)
    assert [
        (f.code, f.name, f.feature_type, f.max_consumption, f.total_consumptions)
        for f in lic.features
    ] == [("f5", "Feature 5", "activation", 0, 0), ("f2", "Feature 2", "consumption", 5, 0)]
    true_email = LS_ORDER["order_items"][0]["licenses"][0]["license_users"][0]["true_email"]
    assert [(u.email, u.first_name, u.last_name) for u in lic.users] == [
        (true_email, "John", "Doe")
    ]
    assert lic.customer is not None and lic.customer.source_id == "620"
    assert lic.order_id == "1593781720493279"
    # raw keeps the payload as received; what leaves the gateway is redacted.
    assert o.raw is not None and o.raw["store_id"] == "d2d2dce02c844d4492c9d48758aa143a"
    shown = json.dumps(scrub_payload(o.raw), default=str)
    assert "initial_password" not in shown and "4q3dg7!_" not in shown
    assert '"store_id": "d2d2dce02c844d4492c9d48758aa143a"' in shown


def test_hamgam_seed_order_in_minor_units() -> None:
    o = hamgam.order("eu-shop", as_received(HAMGAM_ORDER), "EUR")  # type: ignore[arg-type]
    assert (o.source_id, o.number, o.status, o.source_status) == (
        "123",
        "HG-2024-000123",
        OrderStatus.COMPLETED,
        "delivered",
    )
    # +03:30 local time is converted to UTC.
    assert o.created_at == datetime(2024, 3, 1, 10, 15, tzinfo=UTC)
    assert o.updated_at == datetime(2024, 3, 3, 5, 30, tzinfo=UTC)
    assert o.currency == "EUR" and o.price is not None
    p = o.price
    assert (p.subtotal, p.discount, p.shipping, p.total, p.paid, p.outstanding, p.tax) == (
        Money(Decimal("2000.00"), "EUR"),
        Money(Decimal("150.00"), "EUR"),
        Money(Decimal("500.00"), "EUR"),
        Money(Decimal("1850.00"), "EUR"),
        Money(Decimal("1000.00"), "EUR"),
        Money(Decimal("850.00"), "EUR"),
        None,
    )
    assert str(p.total.amount) == "1850.00"  # type: ignore[union-attr]
    assert [
        (i.id, i.product_id, i.product_name, i.sku, i.quantity, i.unit_price, i.discount, i.total)
        for i in o.line_items
    ] == [
        (
            "9001",
            "77",
            "Walnut desk lamp",
            "LAMP-W",
            2,
            Money(Decimal("500.00"), "EUR"),
            Money(Decimal("100.00"), "EUR"),
            Money(Decimal("900.00"), "EUR"),
        ),
        (
            "9002",
            "78",
            "Linen shade",
            "SHADE-L",
            1,
            Money(Decimal("500.00"), "EUR"),
            Money(Decimal("50.00"), "EUR"),
            Money(Decimal("450.00"), "EUR"),
        ),
    ]
    assert o.customer_id == "45" and o.customer is not None
    assert o.customer.name == "Sara Ahmadi" and o.customer.present == frozenset(
        {"name", "company", "address"}
    )
    shown = scrub_payload(o.raw)
    assert "billing_national_code" not in shown and shown["billing_first_name"] == "Sara"
    assert "0012345678" not in json.dumps(shown, default=str)


def test_hamgam_customer_never_reads_national_code() -> None:
    c = hamgam.customer("eu-shop", SEED_CUSTOMER)
    assert (c.source_id, c.email, c.first_name, c.last_name, c.name, c.phone) == (
        "45",
        "sara.ahmadi@example.ir",
        "Sara",
        "Ahmadi",
        "Sara Ahmadi",
        "+989121234567",
    )
    assert "0012345678" not in repr(c)


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("pending", OrderStatus.PENDING),
        ("processing", OrderStatus.PROCESSING),
        ("shipped", OrderStatus.PROCESSING),
        ("delivered", OrderStatus.COMPLETED),
        ("cancelled", OrderStatus.CANCELLED),
        ("refunded", OrderStatus.REFUNDED),
        ("on-hold", OrderStatus.UNKNOWN),
    ],
)
def test_hamgam_status_names(status: str, expected: OrderStatus) -> None:
    o = hamgam.order("s", {**HAMGAM_ORDER, "status": status}, "EUR")
    assert o.status is expected and o.source_status == status


def test_zaveit_seed_order_exact_floats() -> None:
    o = zaveit.order("reseller", as_received(ZAVEIT_ORDER))  # type: ignore[arg-type]
    assert (o.source_id, o.number, o.status, o.source_status) == (
        "order-id-1",
        "00000001",
        OrderStatus.COMPLETED,
        "accepted",
    )
    assert o.created_at == datetime(2025, 6, 20, 8, 27, 58, 763000, tzinfo=UTC)
    assert o.updated_at == datetime(2025, 6, 20, 8, 28, 56, 736000, tzinfo=UTC)
    assert o.currency == "NOK" and o.price is not None
    assert o.price.subtotal == Money(Decimal("1871.77"), "NOK")
    assert o.price.discount == Money(Decimal("467.94"), "NOK")
    assert o.price.total == Money(Decimal("1871.77"), "NOK")
    (line,) = o.line_items
    assert (line.id, line.product_name, line.quantity) == (
        "order-id-1",
        "Example Offering (Standard)",
        1,
    )
    assert line.total == Money(Decimal("1871.77"), "NOK")
    c = o.customer
    assert c is not None and c.present is None and o.customer_id == "account-id-1"
    assert (c.source_id, c.email, c.name, c.company) == (
        "account-id-1",
        "user@example.com",
        "Example Account",
        "Example Account",
    )
    assert c.address == Address(
        line1="Example Street 1", city="Example City", postal_code="0001", country="NO"
    )


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("accepted", OrderStatus.COMPLETED),
        ("draft", OrderStatus.PENDING),
        ("archived", OrderStatus.UNKNOWN),
    ],
)
def test_zaveit_statuses(status: str, expected: OrderStatus) -> None:
    assert zaveit.order("r", {**ZAVEIT_ORDER, "status": status}).status is expected


def test_adobe_seed_orders() -> None:
    first, second = (adobe.order("adobe", o) for o in SEED_ORDERS)
    assert (first.source_id, first.number, first.status, first.source_status) == (
        "9876543210/0123456789",
        "0123456789",
        OrderStatus.COMPLETED,
        "1000",
    )
    assert first.created_at == datetime(2019, 5, 2, 22, 49, 54, tzinfo=UTC)
    assert first.currency == "USD" and first.price is None  # no fetch-price in the seed
    assert first.customer_id == "9876543210" and first.customer is None
    (line,) = first.line_items
    assert (line.id, line.sku, line.quantity, line.status, line.subscription_id) == (
        "4",
        "80004567EA01A12",
        1,
        OrderStatus.COMPLETED,
        "86756309",
    )
    assert [
        (li.id, li.sku, li.quantity, li.status, li.subscription_id) for li in second.line_items
    ] == [
        ("1", "80004567CA01A12", 1, OrderStatus.PENDING, None),
        ("2", "80004561CA02A12", 11, OrderStatus.PENDING, None),
    ]


def test_adobe_prices_when_fetched() -> None:
    o = adobe.order("adobe", as_received(_with_prices(SEED_ORDERS[1])))  # type: ignore[arg-type]
    assert o.price is not None and o.price.total == Money(Decimal("120.00"), "USD")
    assert [li.total for li in o.line_items] == [
        Money(Decimal("10.00"), "USD"),
        Money(Decimal("110.00"), "USD"),
    ]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("1000", OrderStatus.COMPLETED),
        ("1002", OrderStatus.PENDING),
        ("1009", OrderStatus.PENDING),
        ("1008", OrderStatus.CANCELLED),
        ("1004", OrderStatus.FAILED),
        ("1020", OrderStatus.FAILED),
        ("1022", OrderStatus.FAILED),
        ("1024", OrderStatus.FAILED),
        ("1026", OrderStatus.FAILED),
        ("1234", OrderStatus.UNKNOWN),
    ],
)
def test_adobe_status_codes(code: str, expected: OrderStatus) -> None:
    o = adobe.order("a", {**SEED_ORDERS[0], "status": code})
    assert o.status is expected and o.source_status == code


def test_adobe_customer() -> None:
    from gateway.sources.adobe_vip.simulator import sample_data

    payload = sample_data().customers["9876543210"]
    c = adobe.customer("adobe", payload)
    contact = payload["companyProfile"]["contacts"][0]
    assert (c.source_id, c.company, c.name) == ("9876543210",) + (
        payload["companyProfile"]["companyName"],
    ) * 2
    assert (c.email, c.first_name, c.last_name) == (
        contact["email"],
        contact["firstName"],
        contact["lastName"],
    )
    assert c.address is not None and c.address.city == payload["companyProfile"]["address"]["city"]


def test_highlevel_seed_order() -> None:
    o = highlevel.order("hl-main", as_received(HL_ORDER))  # type: ignore[arg-type]
    assert (o.source_id, o.status, o.source_status) == (
        "653f5e0cde5a1314e62a837c",
        OrderStatus.COMPLETED,
        "completed",
    )
    assert o.created_at == datetime(2023, 11, 20, 10, 23, 36, 515000, tzinfo=UTC)
    assert o.updated_at == datetime(2024, 1, 23, 9, 57, 4, 846000, tzinfo=UTC)
    assert o.is_test is True  # liveMode: false
    assert o.price is not None and (o.price.subtotal, o.price.discount, o.price.total) == (
        Money(Decimal("100"), "USD"),
        Money(Decimal("5"), "USD"),
        Money(Decimal("100"), "USD"),
    )
    (item,) = o.line_items
    assert (item.id, item.product_id, item.product_name, item.quantity, item.unit_price) == (
        "61dd33e88058b9f967ca79dc",
        "61dd33e88058b9f967ca79de",
        "Sample Product",
        1,
        Money(Decimal("100"), "USD"),
    )
    assert o.customer_id == "XPLSw2SVagl12LMDeTmQ" and o.customer is not None
    assert (o.customer.email, o.customer.last_name, o.customer.company) == (
        "anish+11@hoopai.com",
        "Mcclain",
        "Jordan and Cox Trading",
    )
    assert o.customer.present == frozenset({"email", "lastName", "company"})


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        ("completed", OrderStatus.COMPLETED),
        ("pending", OrderStatus.PENDING),
        ("cancelled", OrderStatus.CANCELLED),
        ("canceled", OrderStatus.CANCELLED),
        ("refunded", OrderStatus.REFUNDED),
        ("partially_paid", OrderStatus.UNKNOWN),
    ],
)
def test_highlevel_statuses(status: str, expected: OrderStatus) -> None:
    o = highlevel.order("h", {**HL_ORDER, "status": status})
    assert o.status is expected and o.source_status == status


def test_highlevel_live_and_test_flags() -> None:
    assert highlevel.order("h", {**HL_ORDER, "liveMode": True}).is_test is False
    assert highlevel.order("h", {**HL_ORDER, "liveMode": True, "markAsTest": True}).is_test


def test_highlevel_contact() -> None:
    c = highlevel.contact("hl-main", SEED_CONTACT)
    assert (c.source_id, c.email, c.first_name, c.last_name, c.name, c.company, c.phone) == (
        "XPLSw2SVagl12LMDeTmQ",
        "anish+11@hoopai.com",
        "Rogan",
        "Mcclain",
        "Rogan Mcclain",
        "Jordan and Cox Trading",
        "+18888888888",
    )
    assert c.address == Address(
        line1="3535 1st St N", city="Dolomite", postal_code="35061", state="AL", country="US"
    )


@pytest.mark.parametrize(
    ("minor", "currency", "amount"),
    [
        (150000, "EUR", "1500.00"),
        (150000, "JPY", "150000"),
        (1234, "KWD", "1.234"),
        (5, "USD", "0.05"),
        (-250, "USD", "-2.50"),
    ],
)
def test_minor_units_by_currency_exponent(minor: int, currency: str, amount: str) -> None:
    money = money_minor(minor, currency)
    assert money is not None and str(money.amount) == amount and money.currency == currency


def test_float_literals_stay_exact() -> None:
    bom = b"\xef\xbb\xbf"
    parsed = parse_json(bom + b'{"a": 0.1, "b": 2339.710, "c": 1E-3, "d": 123456789012345678901}')
    assert {k: str(v) for k, v in parsed.items()} == {
        "a": "0.1",
        "b": "2339.710",  # the payload's own digits: the trailing zero stays
        "c": "0.001",
        "d": "123456789012345678901",
    }
    assert isinstance(parsed["b"], Decimal) and isinstance(parsed["d"], int)


@pytest.mark.parametrize("body", [b"[NaN]", b'{"a": 1', b"\xff", b""])
def test_what_is_not_json_is_a_value_error(body: bytes) -> None:
    with pytest.raises(ValueError):
        parse_json(body)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, 3), (0, 0), (Decimal("2"), 2), ("4", 4), (None, 1)],
)
def test_quantities_are_whole_and_zero_stays_zero(value: Any, expected: int) -> None:
    assert whole(value, 1) == expected


@pytest.mark.parametrize("value", [Decimal("1.5"), "1.5", "many", True, Decimal("NaN"), None])
def test_a_quantity_is_never_truncated_or_guessed(value: Any) -> None:
    with pytest.raises(ValueProblem):
        whole(value)


def test_bad_values_are_shape_errors() -> None:
    with pytest.raises(ValueProblem):
        money_minor("12.5", "USD")
    with pytest.raises(ValueProblem):
        utc_datetime("yesterday")
    with pytest.raises(ValueProblem):
        hamgam.order("s", {**HAMGAM_ORDER, "total": "lots"}, "EUR")
