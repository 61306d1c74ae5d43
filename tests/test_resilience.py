"""A slow or broken backend costs only its own fields: retries, breaker, limits, faults."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from gateway.config import settings_from_mapping
from gateway.resilience.budget import LocalBudget
from gateway.resilience.retry import parse_retry_after
from gateway.simulators import BackgroundServer, SimulatorSet, demo_config
from tests.conftest import SHIPPED, Simulators, codes, gateway_client, gql

EPOCH = datetime(2026, 11, 23, tzinfo=UTC)


class FakeClock:
    """Time that passes only when something sleeps; every sleep is recorded."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return EPOCH + timedelta(seconds=self.now)

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


SEEDS = """{
  ls: orderBySourceId(source: "licensing", sourceId: "1593781720493279") { sourceId }
  zv: orderBySourceId(source: "reseller", sourceId: "order-id-1") { sourceId }
  hg: orderBySourceId(source: "eu-shop", sourceId: "123") { sourceId }
  ad: orderBySourceId(source: "adobe", sourceId: "9876543210/0123456789") { sourceId }
  hl: orderBySourceId(source: "hl-main", sourceId: "653f5e0cde5a1314e62a837c") { sourceId }
}"""


def by_path(body: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {e["path"][0]: e for e in body.get("errors", [])}


def test_five_sources_four_of_them_misbehaving(sims: Simulators) -> None:
    faults = sims.set.faults
    faults.set("licensespring", "status=500")
    faults.set("hamgam", "hang")
    faults.set("zaveit", "garbage")
    faults.set("highlevel", "rate-limit=1;times=1")
    clock = FakeClock()
    settings = sims.settings(overrides={"eu-shop": {"timeout_s": 0.3, "retries": 1}})
    with gateway_client(settings, clock) as client:
        response = client.post("/graphql", json={"query": SEEDS})
    assert response.status_code == 200
    body = response.json()
    assert body["data"] == {
        "ls": None,
        "zv": None,
        "hg": None,
        "ad": {"sourceId": "9876543210/0123456789"},
        "hl": {"sourceId": "653f5e0cde5a1314e62a837c"},
    }
    errors = by_path(body)
    assert set(errors) == {"ls", "zv", "hg"}
    assert errors["ls"]["extensions"] == {
        "code": "BACKEND_ERROR",
        "source": "licensing",
        "httpStatus": 500,
    }
    assert errors["hg"]["extensions"] == {"code": "BACKEND_TIMEOUT", "source": "eu-shop"}
    assert errors["zv"]["extensions"] == {
        "code": "BACKEND_ERROR",
        "source": "reseller",
        "httpStatus": 200,
    }
    assert "not JSON" in errors["zv"]["message"]
    calls = Counter(e.mount for e in sims.log.entries)
    # 500 and a garbage 200 are not retried; the hang costs timeout x (1 + retries);
    # the 429 is retried once after the Retry-After it named.
    assert calls == {"licensespring": 1, "zaveit": 1, "hamgam": 2, "adobe_vip": 1, "highlevel": 2}
    assert 1.0 in clock.sleeps
    assert len(clock.sleeps) == 2 and all(0 <= s <= 1.0 for s in clock.sleeps)


def test_a_failing_source_leaves_the_merged_list_to_the_others(sims: Simulators) -> None:
    sims.set.faults.set("zaveit", "status=503")
    with gateway_client(sims.settings(SHIPPED), FakeClock()) as client:
        body = gql(client, "{ orders(first: 40) { nodes { source } pageInfo { hasNextPage } } }")
    sources = {n["source"] for n in body["data"]["orders"]["nodes"]}
    assert sources == {"licensing", "eu-shop", "adobe", "hl-main"}
    (error,) = body["errors"]
    assert error["path"] == ["orders"]
    assert error["extensions"] == {
        "code": "BACKEND_UNAVAILABLE",
        "source": "reseller",
        "httpStatus": 503,
    }
    assert len(sims.log.of("zaveit")) == 3  # retried twice (the default), then given up


def test_client_errors_are_never_retried(sims: Simulators) -> None:
    sims.set.faults.set("hamgam", "status=400")
    with gateway_client(sims.settings(), FakeClock()) as client:
        body = gql(client, '{ orderBySourceId(source: "eu-shop", sourceId: "123") { id } }')
    assert body["errors"][0]["extensions"]["httpStatus"] == 400
    assert len(sims.log.of("hamgam")) == 1


def test_retry_after_is_capped(sims: Simulators) -> None:
    sims.set.faults.set("hamgam", "rate-limit=120;times=1")
    clock = FakeClock()
    settings = sims.settings(overrides={"eu-shop": {"retry_after_cap_s": 5}})
    with gateway_client(settings, clock) as client:
        body = gql(client, '{ orderBySourceId(source: "eu-shop", sourceId: "123") { number } }')
    assert body["data"]["orderBySourceId"] == {"number": "HG-2024-000123"}
    assert clock.sleeps == [5.0]


def test_retry_after_as_seconds_or_http_date() -> None:
    now = datetime(2015, 10, 21, 7, 27, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now) == 60.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None and parse_retry_after(None, now) is None


def test_adobe_retry_reuses_correlation_id_with_a_fresh_request_id(sims: Simulators) -> None:
    sims.set.faults.set("adobe_vip", "status=503;times=1")
    with gateway_client(sims.settings(), FakeClock()) as client:
        body = gql(
            client,
            '{ orderBySourceId(source: "adobe", sourceId: "9876543210/0123456789") { sourceId } }',
        )
    assert "errors" not in body
    first, second = sims.log.of("adobe_vip")
    assert first.headers["x-correlation-id"] == second.headers["x-correlation-id"]
    assert first.headers["x-request-id"] != second.headers["x-request-id"]


def test_circuit_breaker_opens_answers_at_once_then_a_trial_decides(sims: Simulators) -> None:
    sims.set.faults.set("hamgam", "status=503")
    clock = FakeClock()
    settings = sims.settings(
        overrides={"eu-shop": {"retries": 0, "breaker_threshold": 2, "breaker_cooldown_s": 30}}
    )
    one = '{ orderBySourceId(source: "eu-shop", sourceId: "123") { number } }'
    health = "{ sources { name healthy } }"
    with gateway_client(settings, clock) as client:
        for _ in range(2):
            assert codes(gql(client, one)) == ["BACKEND_UNAVAILABLE"]
        assert len(sims.log.of("hamgam")) == 2
        body = gql(client, one)
        assert (
            codes(body) == ["BACKEND_UNAVAILABLE"]
            and "circuit open" in body["errors"][0]["message"]
        )
        assert len(sims.log.of("hamgam")) == 2  # the open circuit called nobody
        healthy = {s["name"]: s["healthy"] for s in gql(client, health)["data"]["sources"]}
        assert healthy["eu-shop"] is False and healthy["adobe"] is True
        ready = client.get("/readyz")  # an open circuit is reported, the replica serves
        assert ready.status_code == 200 and ready.json()["sources"]["eu-shop"]["healthy"] is False

        clock.now += 31  # cool-down over; the trial still fails: open again at once
        assert codes(gql(client, one)) == ["BACKEND_UNAVAILABLE"]
        assert len(sims.log.of("hamgam")) == 3
        assert "circuit open" in gql(client, one)["errors"][0]["message"]
        assert len(sims.log.of("hamgam")) == 3

        sims.set.faults.clear()
        clock.now += 31  # the next trial succeeds and closes the circuit
        assert gql(client, one)["data"]["orderBySourceId"] == {"number": "HG-2024-000123"}
        assert gql(client, one)["data"]["orderBySourceId"] == {"number": "HG-2024-000123"}
        healthy = {s["name"]: s["healthy"] for s in gql(client, health)["data"]["sources"]}
        assert healthy["eu-shop"] is True
        assert client.get("/readyz").json()["sources"]["eu-shop"]["healthy"] is True


def test_a_malformed_payload_fails_only_that_object(
    sims: Simulators, caplog: pytest.LogCaptureFixture
) -> None:
    orders = sims.set.data["hamgam"].orders
    broken = {**next(o for o in orders if o["id"] == 123), "id": 124, "total": "lots"}
    orders.append(broken)
    with caplog.at_level(logging.WARNING), gateway_client(sims.settings()) as client:
        body = gql(
            client,
            """{ a: orderBySourceId(source: "eu-shop", sourceId: "123") { number }
            b: orderBySourceId(source: "eu-shop", sourceId: "124") { number } }""",
        )
    assert body["data"] == {"a": {"number": "HG-2024-000123"}, "b": None}
    (error,) = body["errors"]
    assert error["extensions"] == {"code": "BACKEND_ERROR", "source": "eu-shop"}
    logged = caplog.text
    assert "eu-shop" in logged and "order 124" in logged
    assert "0012345678" not in logged and "Ahmadi" not in logged


def test_a_misshapen_line_item_costs_only_the_line_items(
    sims: Simulators, caplog: pytest.LogCaptureFixture
) -> None:
    orders = sims.set.data["hamgam"].orders
    good = next(o for o in orders if o["id"] == 123)
    items = [{**good["items"][0], "quantity": "1.5"}, *good["items"][1:]]
    orders.append({**good, "id": 124, "items": items})
    with caplog.at_level(logging.WARNING), gateway_client(sims.settings()) as client:
        body = gql(
            client,
            """{ a: orderBySourceId(source: "eu-shop", sourceId: "124") { number price {
                 total { amount } } }
            b: orderBySourceId(source: "eu-shop", sourceId: "124") { number lineItems { sku } }
            c: orderBySourceId(source: "eu-shop", sourceId: "123") { lineItems { quantity } } }""",
        )
    # Items are read only where selected: `a` is whole; `b` loses what it could not read.
    assert body["data"]["a"] == {
        "number": "HG-2024-000123",
        "price": {"total": {"amount": "1850.00"}},  # the shop's sample: total 185000 (EUR cents)
    }
    assert body["data"]["b"] is None
    assert [i["quantity"] for i in body["data"]["c"]["lineItems"]] == [
        i["quantity"] for i in good["items"]
    ]
    (error,) = body["errors"]
    assert error["path"] == ["b", "lineItems"]
    assert error["extensions"] == {"code": "BACKEND_ERROR", "source": "eu-shop"}
    assert "order 124" in error["message"] and "1.5" not in error["message"]
    assert "order 124" in caplog.text and "expected a whole number" in caplog.text


def test_a_misshapen_line_item_in_a_list_fails_its_source_only_when_items_are_asked(
    sims: Simulators,
) -> None:
    newest = sims.set.data["hamgam"].orders[0]
    newest["items"][0]["total"] = "lots"
    with gateway_client(sims.settings(SHIPPED)) as client:
        plain = gql(client, "{ orders(first: 60) { nodes { source sourceId } } }")
        detailed = gql(
            client, "{ orders(first: 60) { nodes { source lineItems { __typename } } } }"
        )
    assert "errors" not in plain
    assert str(newest["id"]) in {n["sourceId"] for n in plain["data"]["orders"]["nodes"]}
    listed = {n["source"] for n in detailed["data"]["orders"]["nodes"]}
    assert listed == {"licensing", "reseller", "adobe", "hl-main"}
    (error,) = detailed["errors"]
    assert error["path"] == ["orders"]
    assert error["extensions"] == {"code": "BACKEND_ERROR", "source": "eu-shop"}


def test_a_failed_customer_never_nulls_its_order(sims: Simulators) -> None:
    sims.set.faults.set("highlevel", "status=500;path=/contacts")
    with gateway_client(sims.settings(), FakeClock()) as client:
        body = gql(
            client,
            """{ orderBySourceId(source: "hl-main", sourceId:
            "653f5e0cde5a1314e62a837c") { sourceId customer { phone } } }""",
        )
    assert body["data"]["orderBySourceId"] == {
        "sourceId": "653f5e0cde5a1314e62a837c",
        "customer": None,
    }
    (error,) = body["errors"]
    assert error["path"] == ["orderBySourceId", "customer"]
    assert error["extensions"]["source"] == "hl-main"


async def test_rate_limiter_never_exceeds_its_window() -> None:
    clock = FakeClock()
    limiter = LocalBudget("hl-main", 100, 10.0, 30.0, clock)
    sent: list[float] = []

    async def call() -> None:
        await limiter.acquire()
        sent.append(clock.monotonic())

    await asyncio.gather(*(call() for _ in range(250)))
    assert len(sent) == 250
    assert max(sum(1 for t in sent if s <= t < s + 10.0) for s in sent) <= 100
    assert sent[99] == sent[0] and sent[100] - sent[0] >= 11.0  # 10 s plus its guard


def test_highlevel_bursts_queue_instead_of_drawing_429s() -> None:
    # A real HighLevel simulator limiting 5 requests per second, and the gateway told the
    # same: a query needing 1 list call plus up to 12 contact calls never sees a 429.
    simulators = SimulatorSet(options={"highlevel": {"rate_limit": (5, 1.0)}})
    server = BackgroundServer(simulators.app()).start()
    try:
        conf = demo_config(server.base_url, ["highlevel"])
        conf["sources"]["hl-main"].update(rate_limit=5, rate_window_s=1.0, rate_wait_s=5, retries=0)
        with gateway_client(settings_from_mapping(conf)) as client:
            body = gql(client, "{ orders(first: 12) { nodes { customer { phone } } } }")
        assert "errors" not in body
        assert all(n["customer"]["phone"] for n in body["data"]["orders"]["nodes"])
        assert len(simulators.log.of("highlevel")) > 5
    finally:
        server.stop()


@pytest.mark.parametrize("transport", ["aiohttp", "httpx-aiohttp", "httpx"])
def test_every_http_transport_reports_transport_failures_alike(
    sims: Simulators, transport: str
) -> None:
    # A closed port (refused), a hang (timeout) and a 429 with Retry-After, through each
    # `[performance] http_transport`: the same codes and messages reach the client.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]  # closed again when the block ends
    sims.set.faults.set("hamgam", "hang")
    sims.set.faults.set("zaveit", "rate-limit=2;times=1")
    conf = sims.config(
        overrides={
            "licensing": {"base_url": f"http://127.0.0.1:{closed}", "retries": 0},
            "eu-shop": {"timeout_s": 0.3, "retries": 0},
        }
    )
    conf["performance"] = {"http_transport": transport}
    clock = FakeClock()
    with gateway_client(settings_from_mapping(conf), clock) as client:
        body = client.post("/graphql", json={"query": SEEDS}).json()
    errors = by_path(body)
    assert set(errors) == {"ls", "hg"}, body
    assert errors["ls"]["extensions"] == {"code": "BACKEND_UNAVAILABLE", "source": "licensing"}
    assert errors["ls"]["message"].endswith("cannot reach the backend (connection refused)")
    assert errors["hg"]["extensions"] == {"code": "BACKEND_TIMEOUT", "source": "eu-shop"}
    assert body["data"]["zv"] == {"sourceId": "order-id-1"}
    assert clock.sleeps == [2.0]  # Retry-After read through every transport
