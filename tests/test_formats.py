"""One format per value type in every answer and export column: DateTime in RFC 3339 UTC
with six fractional digits, amounts with at least their currency's minor digits, never
fewer than the backend wrote and never rounded."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterator
from datetime import datetime
from decimal import Decimal
from typing import Any

from starlette.testclient import TestClient

from gateway.values import currency_exponent, with_minor_digits, write_decimal
from tests.conftest import SOURCE_OF, Simulators, codes, gateway_client, gql

MONEY = "amount currency"
ORDER = f"""source sourceId createdAt updatedAt
  price {{ subtotal {{ {MONEY} }} discount {{ {MONEY} }} tax {{ {MONEY} }}
          shipping {{ {MONEY} }} total {{ {MONEY} }} paid {{ {MONEY} }}
          outstanding {{ {MONEY} }} }}
  lineItems {{ unitPrice {{ {MONEY} }} discount {{ {MONEY} }} total {{ {MONEY} }}
              licenses {{ validUntil maintenanceUntil }} }}"""
DATETIME_KEYS = {"createdAt", "updatedAt", "validUntil", "maintenanceUntil"}
#: The one format: what pandas infers from the first value and then holds every value to
DATETIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%f%z"
DATETIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00")
AMOUNT = re.compile(r"-?\d+(\.(\d+))?")


def walk(value: Any, key: str = "") -> Iterator[tuple[str, Any]]:
    """Every (key, value) pair in a JSON answer, depth first."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield k, v
            yield from walk(v, k)
    elif isinstance(value, list):
        for v in value:
            yield from walk(v, key)


def assert_datetime(text: str) -> None:
    assert DATETIME.fullmatch(text), text
    datetime.strptime(text, DATETIME_FORMAT)


def assert_amount(amount: str, currency: str) -> None:
    found = AMOUNT.fullmatch(amount)
    assert found, amount  # plain digits: no exponent, no float
    digits = len(found.group(2) or "")
    assert digits >= currency_exponent(currency), (amount, currency)


def every_order(client: TestClient) -> list[dict[str, Any]]:
    nodes: list[dict[str, Any]] = []
    after: str | None = None
    for _ in range(100):
        body = gql(
            client,
            f"""query($after: String) {{ orders(first: 500, after: $after) {{
              nodes {{ {ORDER} }} pageInfo {{ hasNextPage endCursor }} }} }}""",
            {"after": after},
        )
        assert "errors" not in body, body["errors"]
        nodes += body["data"]["orders"]["nodes"]
        if not body["data"]["orders"]["pageInfo"]["hasNextPage"]:
            return nodes
        after = body["data"]["orders"]["pageInfo"]["endCursor"]
    raise AssertionError("paging did not end")


def test_every_datetime_and_amount_of_every_kind_has_one_format(client: TestClient) -> None:
    nodes = every_order(client)
    assert {n["source"] for n in nodes} == set(SOURCE_OF.values())
    datetimes = [v for k, v in walk(nodes) if k in DATETIME_KEYS and v is not None]
    amounts = [
        v for k, v in walk(nodes) if isinstance(v, dict) and set(v) == {"amount", "currency"}
    ]
    assert len(datetimes) > 2 * len(nodes) and len(amounts) > len(nodes)
    for text in datetimes:
        assert_datetime(text)
    # the precisions the backends write all arrive, in the one format
    assert any(t.endswith(".000000+00:00") for t in datetimes)  # whole seconds
    assert any(re.search(r"\.\d{3}000\+", t) and ".000000" not in t for t in datetimes)  # ms
    for money in amounts:
        assert_amount(money["amount"], money["currency"])
    # HighLevel writes 594.0 and 100 as JSON numbers: they read as USD does everywhere
    assert not [
        m
        for m in amounts
        if re.fullmatch(r"\d+(\.\d)?", m["amount"]) and currency_exponent(m["currency"]) > 1
    ]


def test_csv_and_ndjson_columns_have_one_format(client: TestClient) -> None:
    query = f"{{ orders {{ nodes {{ {ORDER} }} }} }}"
    response = client.get("/export", params={"query": query})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert len(rows) > 300
    columns = list(rows[0])
    dated = [c for c in columns if c.rsplit(".", 1)[-1] in DATETIME_KEYS]
    amounts = [c for c in columns if c.endswith(".amount")]
    assert {"createdAt", "updatedAt", "price.total.amount", "lineItems.unitPrice.amount"} <= set(
        dated + amounts
    )
    for row in rows:
        for column in dated:
            if row[column]:
                assert_datetime(row[column])
        for column in amounts:
            if row[column]:
                assert_amount(row[column], row[column.removesuffix("amount") + "currency"])
    ndjson = client.get("/export", params={"query": query, "format": "ndjson"})
    objects = [json.loads(line) for line in ndjson.text.splitlines()]
    assert len(objects) > 300
    for key, value in walk(objects):
        if key in DATETIME_KEYS and value is not None:
            assert_datetime(value)
        if isinstance(value, dict) and set(value) == {"amount", "currency"}:
            assert_amount(value["amount"], value["currency"])


ONE = """query($id: String!) { orderBySourceId(source: "hl-main", sourceId: $id) {
  createdAt price { total { amount currency } } } }"""


def test_amounts_get_their_currency_digits_and_keep_every_digit_sent(sims: Simulators) -> None:
    orders = sims.set.data["highlevel"].orders[:6]
    given = [
        (Decimal("594.0"), "USD", "594.00"),
        (100, "USD", "100.00"),
        (Decimal("444.475"), "USD", "444.475"),  # more than the minor unit: kept, not rounded
        (1500, "JPY", "1500"),  # ISO 4217 exponent 0
        (Decimal("1.5"), "KWD", "1.500"),  # exponent 3
        (Decimal("1E+2"), "EUR", "100.00"),  # a JSON 1e2: plain digits
    ]
    for order, (amount, currency, _) in zip(orders, given, strict=True):
        order["amount"], order["currency"] = amount, currency
    with gateway_client(sims.settings(["highlevel"])) as client:
        for order, (_, currency, expected) in zip(orders, given, strict=True):
            body = gql(client, ONE, {"id": order["_id"]})
            total = body["data"]["orderBySourceId"]["price"]["total"]
            assert total == {"amount": expected, "currency": currency}


def test_datetimes_keep_every_fractional_digit_a_backend_sent(sims: Simulators) -> None:
    orders = sims.set.data["highlevel"].orders
    orders[0]["createdAt"] = "2024-01-01T08:00:00.123456+02:00"
    orders[1]["createdAt"] = "2024-01-01T08:00:00Z"
    orders[2]["createdAt"] = "2024-01-01T08:00:00.1234567Z"  # more than a datetime holds
    with gateway_client(sims.settings(["highlevel"])) as client:
        micro, whole, finer = (gql(client, ONE, {"id": o["_id"]}) for o in orders[:3])
    assert micro["data"]["orderBySourceId"]["createdAt"] == "2024-01-01T06:00:00.123456+00:00"
    assert whole["data"]["orderBySourceId"]["createdAt"] == "2024-01-01T08:00:00.000000+00:00"
    # refused, not truncated: the order fails, and says so
    assert finer["data"]["orderBySourceId"] is None
    assert codes(finer) == ["BACKEND_ERROR"]


def test_padding_never_rounds_however_long_the_amount() -> None:
    # more digits than the decimal module's default precision (28): still exact
    long = Decimal("1234567890123456789012345678901.5")
    assert str(with_minor_digits(long, "USD")) == "1234567890123456789012345678901.50"
    assert str(with_minor_digits(Decimal("0.0000001"), "EUR")) == "1E-7"  # kept whole
    assert write_decimal(with_minor_digits(Decimal("0.0000001"), "EUR")) == "0.0000001"
