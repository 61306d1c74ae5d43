"""Live orders (docs/live.md): subscriptions over SSE, multipart and WebSocket, fed by
HighLevel's signed webhooks and by polling, against the gateway on a loopback port over
the simulators."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import queue
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from starlette.applications import Starlette

from gateway.app import create_app
from gateway.config import settings_from_mapping
from gateway.live.bus import MemoryBus
from gateway.live.events import (
    Change,
    Event,
    EventOrigin,
    EventsExpired,
    EventType,
    SubscriberTooSlow,
    SubscriptionLimit,
)
from gateway.simulators import BackgroundServer
from gateway.sources.highlevel import webhooks as hl
from tests.conftest import Simulators

EVENTS = """subscription Live($filter: OrderEventFilter) {
  orderEvents(filter: $filter) {
    id type source sourceId origin occurredAt
    order { sourceId status customer { email } }
  }
}"""
DEADLINE_S = 20.0


def until(condition: Callable[[], Any], what: str) -> Any:
    """Polls ``condition`` until it is truthy (a generous bound; never a fixed sleep)."""
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.01)
    raise AssertionError(f"timed out waiting for {what}")


class Gateway:
    def __init__(self, app: Starlette) -> None:
        self.app = app
        self.server = BackgroundServer(app, lifespan="on").start()
        self.url = self.server.base_url

    @property
    def subscribers(self) -> int:
        return int(self.app.state.live.bus.subscribers)

    def webhook(self, order: dict[str, Any], type_: str) -> httpx.Response:
        return hl.send(f"{self.url}/webhooks/hl-main", order, type_)


@pytest.fixture
def gateway(sims: Simulators, request: pytest.FixtureRequest) -> Iterator[Gateway]:
    overrides = getattr(request, "param", {})
    conf = sims.config(["highlevel"], {"hl-main": overrides.get("source", {})})
    conf.update({k: v for k, v in overrides.items() if k != "source"})
    gw = Gateway(create_app(settings_from_mapping(conf)))
    yield gw
    assert gw.server.stop(), "the gateway did not stop by itself (a stream left open?)"


class SSE:
    """One graphql-sse connection read in a thread: each event's id and payload."""

    def __init__(
        self,
        gw: Gateway,
        *,
        headers: dict[str, str] | None = None,
        variables: dict[str, Any] | None = None,
    ) -> None:
        self.events: queue.Queue[tuple[str | None, dict[str, Any]]] = queue.Queue()
        self.closed = threading.Event()
        self._stop = threading.Event()
        body = {"query": EVENTS, "variables": variables or {}}
        sent = {"accept": "text/event-stream", **(headers or {})}
        self._thread = threading.Thread(target=self._read, args=(gw.url, body, sent))
        self._thread.daemon = True
        self._thread.start()

    def _read(self, url: str, body: dict[str, Any], headers: dict[str, str]) -> None:
        try:
            with (
                httpx.Client(timeout=DEADLINE_S) as client,
                client.stream("POST", f"{url}/graphql", json=body, headers=headers) as response,
            ):
                self._response = response
                event_id: str | None = None
                for line in response.iter_lines():
                    if line.startswith("id: "):
                        event_id = line[4:]
                    elif line.startswith("data: ") and line != "data: ":
                        self.events.put((event_id, json.loads(line[6:])))
                        event_id = None
        except (httpx.HTTPError, RuntimeError):
            if not self._stop.is_set():  # closed by close(): the end asked for
                raise
        finally:
            self.closed.set()

    def next(self) -> tuple[str | None, dict[str, Any]]:
        return self.events.get(timeout=DEADLINE_S)

    def close(self) -> None:
        """Closes the connection now (the server then ends the subscription): a stream
        left open would keep its gateway, and that gateway's pollers, from stopping."""
        self._stop.set()
        response = getattr(self, "_response", None)
        if response is not None:
            response.close()
        self._thread.join(timeout=DEADLINE_S)


def test_sse_receives_created_then_updated_with_the_orders_fields(
    gateway: Gateway, sims: Simulators
) -> None:
    stream = SSE(gateway)
    until(lambda: gateway.subscribers == 1, "the subscription")
    orders = sims.set.data["highlevel"].orders
    order = hl.new_order(orders)
    assert gateway.webhook(order, "OrderCreate").status_code == 200
    first_id, first = stream.next()
    hl.change_status(orders, order["_id"], "completed")
    assert gateway.webhook(order, "OrderStatusUpdate").status_code == 200
    second_id, second = stream.next()

    created, updated = first["data"]["orderEvents"], second["data"]["orderEvents"]
    assert (created["type"], updated["type"]) == ("CREATED", "UPDATED")
    assert created["id"] == first_id and updated["id"] == second_id
    assert created["source"] == "hl-main" and created["sourceId"] == order["_id"]
    assert created["origin"] == "WEBHOOK"
    assert created["order"]["status"] == "PENDING"
    assert updated["order"]["status"] == "COMPLETED"
    contact = sims.set.data["highlevel"].contacts[order["contactId"]]
    assert created["order"]["customer"]["email"] == contact["email"]
    assert datetime.fromisoformat(created["occurredAt"]) == datetime.fromisoformat(
        order["createdAt"].replace("Z", "+00:00")
    )
    assert stream.events.empty()  # once each
    stream.close()


def test_last_event_id_replays_exactly_the_missed_events(
    gateway: Gateway, sims: Simulators
) -> None:
    orders = sims.set.data["highlevel"].orders
    stream = SSE(gateway)
    until(lambda: gateway.subscribers == 1, "the subscription")
    order = hl.new_order(orders)
    gateway.webhook(order, "OrderCreate")
    seen_id, _ = stream.next()
    stream.close()
    # the next event ends the closed reader; the connection is then gone
    missed = []
    for status in ("processing", "completed"):
        hl.change_status(orders, order["_id"], status)
        gateway.webhook(order, "OrderStatusUpdate")
        missed.append(status)
    until(lambda: len(gateway.app.state.live.bus.retained()) == 3, "three events kept")
    until(lambda: gateway.subscribers == 0, "the first connection to end")

    again = SSE(gateway, headers={"last-event-id": str(seen_id)})
    replayed = [again.next(), again.next()]
    assert [p["data"]["orderEvents"]["type"] for _, p in replayed] == ["UPDATED", "UPDATED"]
    kept = [str(e.id) for e in gateway.app.state.live.bus.retained()]
    assert [i for i, _ in replayed] == kept[1:]
    until(lambda: gateway.subscribers == 1, "the resumed subscription")
    assert again.events.empty()
    again.close()


@pytest.mark.parametrize(
    "gateway",
    [
        {
            "security": {
                "require_auth": True,
                "api_keys": [
                    {"name": "no-pii", "key": "key-without-pii", "scopes": ["orders:read"]}
                ],
            }
        }
    ],
    indirect=True,
)
def test_a_key_without_pii_read_gets_events_with_the_email_null(
    gateway: Gateway, sims: Simulators
) -> None:
    anonymous = httpx.post(
        f"{gateway.url}/graphql",
        json={"query": EVENTS},
        headers={"accept": "text/event-stream"},
    )
    assert anonymous.status_code == 401
    stream = SSE(gateway, headers={"authorization": "Bearer key-without-pii"})
    until(lambda: gateway.subscribers == 1, "the subscription")
    order = hl.new_order(sims.set.data["highlevel"].orders)
    gateway.webhook(order, "OrderCreate")
    _, payload = stream.next()
    event = payload["data"]["orderEvents"]
    assert event["sourceId"] == order["_id"]
    assert event["order"]["customer"]["email"] is None
    assert [e["extensions"]["code"] for e in payload["errors"]] == ["FORBIDDEN"]
    stream.close()


def test_webhooks_signed_unsigned_stale_and_replayed(gateway: Gateway, sims: Simulators) -> None:
    url = f"{gateway.url}/webhooks/hl-main"
    bus = gateway.app.state.live.bus
    order = hl.new_order(sims.set.data["highlevel"].orders)
    raw = hl.body(order, "OrderCreate")

    unsigned = httpx.post(url, content=raw)
    forged = httpx.post(url, content=raw, headers={"x-ghl-signature": hl.sign(raw + b" ")})
    garbage = httpx.post(url, content=raw, headers={"x-ghl-signature": "not base64!"})
    assert [r.status_code for r in (unsigned, forged, garbage)] == [401, 401, 401]
    assert bus.retained() == []

    signed = httpx.post(url, content=raw, headers={"x-ghl-signature": hl.sign(raw)})
    assert signed.status_code == 200
    assert signed.json()["message"] == "accepted"
    until(lambda: len(bus.retained()) == 1, "the event")
    replayed = httpx.post(url, content=raw, headers={"x-ghl-signature": hl.sign(raw)})
    assert (replayed.status_code, replayed.json()["message"]) == (
        200,
        "dropped: webhookId seen before",
    )
    old = hl.body(order, "OrderStatusUpdate", at=datetime.now(UTC) - timedelta(minutes=6))
    stale = httpx.post(url, content=old, headers={"x-ghl-signature": hl.sign(old)})
    assert (stale.status_code, stale.json()["message"]) == (
        200,
        "dropped: timestamp more than 5 minutes off",
    )
    unknown = httpx.post(f"{gateway.url}/webhooks/nowhere", content=raw)
    assert unknown.status_code == 404
    assert len(bus.retained()) == 1

    text = httpx.get(f"{gateway.url}/metrics").text
    for outcome, count in (("accepted", 1), ("duplicate", 1), ("stale", 1)):
        line = f'gateway_webhooks_total{{outcome="{outcome}",source="hl-main"}}'
        assert _metric(text, line) >= count
    assert _metric(text, 'gateway_webhooks_total{outcome="bad_signature",source="hl-main"}') >= 3
    events = 'gateway_events_total{origin="WEBHOOK",source="hl-main",type="CREATED"}'
    assert _metric(text, events) >= 1


def text_of(gw: Gateway, series: str) -> float:
    return _metric(httpx.get(f"{gw.url}/metrics").text, series)


def _metric(text: str, series: str) -> float:
    for line in text.splitlines():
        if line.startswith(series + " "):
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{series} not in /metrics")


@pytest.mark.parametrize("gateway", [{"source": {"poll_interval_s": 0.05}}], indirect=True)
def test_two_hundred_subscribers_cost_one_list_call_per_poll(
    gateway: Gateway, sims: Simulators
) -> None:
    live = gateway.app.state.live
    poller = live.pollers["hl-main"]
    until(lambda: poller.rounds >= 1, "the first poll (it learns what exists)")
    subscriptions = [live.bus.subscribe(f"client-{i}", None) for i in range(200)]
    orders = sims.set.data["highlevel"].orders
    order = hl.new_order(orders)
    until(lambda: len(live.bus.retained()) == 1, "the poller's CREATED")
    hl.change_status(orders, order["_id"], "completed")
    until(lambda: len(live.bus.retained()) == 2, "the poller's UPDATED")
    rounds = poller.rounds
    lists = [
        r for r in sims.log.of("highlevel", "/payments/orders") if r.path == "/payments/orders"
    ]
    # one list call per round, whatever the number of subscribers (one may be in flight)
    assert rounds <= len(lists) <= rounds + 1
    reads = [r for r in sims.log.of("highlevel") if r.path.endswith(order["_id"])]
    assert len(reads) == 2  # the order read once per event, not once per subscriber
    events = [e for e in live.bus.retained()]
    assert [(e.change.type, e.change.origin) for e in events] == [
        (EventType.CREATED, EventOrigin.POLL),
        (EventType.UPDATED, EventOrigin.POLL),
    ]
    assert [e.order.source_status for e in events] == ["pending", "completed"]
    for sub in subscriptions:
        assert sub._queue.qsize() == 2  # every subscriber has both events
        sub.close()
    assert live.bus.subscribers == 0


@pytest.mark.parametrize("gateway", [{"source": {"poll_interval_s": 0.05}}], indirect=True)
def test_a_change_a_webhook_announced_is_not_announced_again_by_the_poller(
    gateway: Gateway, sims: Simulators
) -> None:
    live = gateway.app.state.live
    poller = live.pollers["hl-main"]
    until(lambda: poller.rounds >= 1, "the first poll")
    orders = sims.set.data["highlevel"].orders
    order = hl.new_order(orders)
    gateway.webhook(order, "OrderCreate")  # the poller may see the order first: one event
    until(lambda: len(live.bus.retained()) == 1, "the CREATED event")
    hl.change_status(orders, order["_id"], "refunded")
    gateway.webhook(order, "OrderStatusUpdate")
    until(lambda: len(live.bus.retained()) == 2, "the UPDATED event")
    after = poller.rounds
    until(lambda: poller.rounds >= after + 2, "two more polls")
    events = live.bus.retained()
    assert [e.change.type for e in events] == [EventType.CREATED, EventType.UPDATED]
    assert text_of(gateway, 'gateway_webhooks_total{outcome="accepted",source="hl-main"}') >= 2


def _event(bus: MemoryBus, n: int) -> Event:
    change = Change(
        EventType.UPDATED,
        "hl-main",
        f"o{n}",
        datetime(2026, 12, 1, tzinfo=UTC),
        EventOrigin.POLL,
        ("completed", None),
    )
    return Event(bus.next_id(), change, None, bus.now())


async def test_events_older_than_retention_expire() -> None:
    clock = [1_800_000_000.0]
    bus = MemoryBus(retention_s=3600, per_client=20, total=100, buffer=10, now=lambda: clock[0])
    first = _event(bus, 1)
    await bus.publish(first)
    clock[0] += 10
    second = _event(bus, 2)
    await bus.publish(second)
    resumed = bus.subscribe("a", str(first.id))
    assert [e.id for e in [await resumed.__anext__()]] == [second.id]
    resumed.close()
    clock[0] += 3600 - 5  # the first is gone, the second still kept
    with pytest.raises(EventsExpired) as caught:
        bus.subscribe("a", "1-0")
    assert caught.value.code == "EVENTS_EXPIRED"
    with pytest.raises(EventsExpired):
        bus.subscribe("a", _before(first))
    assert bus.subscribe("a", str(first.id)) is not None  # nothing after it was lost


def _before(event: Event) -> str:
    return f"{event.id.ms - 1}-0"


async def test_a_slow_subscriber_is_dropped_and_limits_hold() -> None:
    bus = MemoryBus(retention_s=60, per_client=2, total=3, buffer=2)
    slow = bus.subscribe("a", None)
    for n in range(3):
        await bus.publish(_event(bus, n))
    assert bus.subscribers == 0  # dropped at the third event, its buffer freed
    with pytest.raises(SubscriberTooSlow) as caught:
        await slow.__anext__()
    assert caught.value.code == "SUBSCRIBER_TOO_SLOW"
    bus.subscribe("a", None)
    bus.subscribe("a", None)
    with pytest.raises(SubscriptionLimit, match="per client"):
        bus.subscribe("a", None)
    bus.subscribe("b", None)
    with pytest.raises(SubscriptionLimit, match="at most 3 subscriptions"):
        bus.subscribe("c", None)


def test_sse_resume_from_an_expired_id_is_events_expired(gateway: Gateway) -> None:
    stream = SSE(gateway, headers={"last-event-id": "1-0"})
    _, payload = stream.next()
    assert [e["extensions"]["code"] for e in payload["errors"]] == ["EVENTS_EXPIRED"]
    until(stream.closed.is_set, "the stream to end")
    assert gateway.subscribers == 0


def test_multipart_subscription_delivers_events(gateway: Gateway, sims: Simulators) -> None:
    parts: queue.Queue[dict[str, Any]] = queue.Queue()

    def read() -> None:
        with (
            httpx.Client(timeout=DEADLINE_S) as client,
            client.stream(
                "POST",
                f"{gateway.url}/graphql",
                json={"query": EVENTS},
                headers={"accept": "multipart/mixed;subscriptionSpec=1.0,application/json"},
            ) as response,
        ):
            assert "subscriptionSpec=1.0" in response.headers["content-type"]
            for line in response.iter_lines():
                if line.startswith("{") and "payload" in line:
                    parts.put(json.loads(line))
                    return

    threading.Thread(target=read, daemon=True).start()
    until(lambda: gateway.subscribers == 1, "the subscription")
    order = hl.new_order(sims.set.data["highlevel"].orders)
    gateway.webhook(order, "OrderCreate")
    part = parts.get(timeout=DEADLINE_S)
    event = part["payload"]["data"]["orderEvents"]
    assert (event["type"], event["sourceId"]) == ("CREATED", order["_id"])
    assert "\x00eventId" not in part["payload"]


_RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
_RSA_PUBLIC = (
    _RSA.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)


@pytest.mark.parametrize(
    "gateway",
    [{"source": {"webhook_public_key": None, "webhook_rsa_public_key": _RSA_PUBLIC}}],
    indirect=True,
)
def test_the_older_rsa_signature_is_checked_with_its_own_key(
    gateway: Gateway, sims: Simulators
) -> None:
    url = f"{gateway.url}/webhooks/hl-main"
    order = hl.new_order(sims.set.data["highlevel"].orders)
    raw = hl.body(order, "OrderCreate")
    signature = base64.b64encode(_RSA.sign(raw, padding.PKCS1v15(), hashes.SHA256())).decode()
    # an Ed25519 signature with no Ed25519 key configured proves nothing
    assert (
        httpx.post(url, content=raw, headers={"x-ghl-signature": hl.sign(raw)}).status_code == 401
    )
    tampered = raw.replace(b"OrderCreate", b"OrderCreatf")
    assert (
        httpx.post(url, content=tampered, headers={"x-wh-signature": signature}).status_code == 401
    )
    accepted = httpx.post(url, content=raw, headers={"x-wh-signature": signature})
    assert (accepted.status_code, accepted.json()["message"]) == (200, "accepted")
    until(lambda: len(gateway.app.state.live.bus.retained()) == 1, "the event")
    [event] = gateway.app.state.live.bus.retained()
    assert (event.change.type, event.change.source_id) == (EventType.CREATED, order["_id"])


def test_webhook_bodies_are_never_logged(
    gateway: Gateway, sims: Simulators, caplog: pytest.LogCaptureFixture
) -> None:
    order = hl.new_order(sims.set.data["highlevel"].orders)
    raw = hl.body(order, "OrderCreate")
    with caplog.at_level("DEBUG"):
        httpx.post(f"{gateway.url}/webhooks/hl-main", content=raw)  # unsigned: logged as such
        gateway.webhook(order, "OrderCreate")
        until(lambda: len(gateway.app.state.live.bus.retained()) == 1, "the event")
    email = order["contactSnapshot"]["email"]
    assert "bad or missing signature" in caplog.text
    assert email not in caplog.text and order["_id"] not in caplog.text


def test_demo_live_changes_orders_and_sends_signed_webhooks(
    gateway: Gateway, sims: Simulators
) -> None:
    from gateway.cli import _live_changes

    port = int(gateway.url.rsplit(":", 1)[1])
    bus = gateway.app.state.live.bus

    async def run() -> None:
        task = asyncio.create_task(_live_changes(sims.set, port, 0.01))
        await asyncio.to_thread(until, lambda: len(bus.retained()) >= 2, "two events")
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(run())
    first, second = bus.retained()[:2]
    assert (first.change.type, second.change.type) == (EventType.CREATED, EventType.UPDATED)
    assert first.change.source_id == second.change.source_id  # the new order, then changed
    assert {first.change.origin, second.change.origin} == {EventOrigin.WEBHOOK}
