"""The live orders' metrics on the gateway's /metrics (docs/operations.md)."""

from __future__ import annotations

from typing import Final

from prometheus_client import Counter, Gauge

from gateway.telemetry.metrics import REGISTRY

SUBSCRIPTIONS: Final = Gauge(
    "gateway_subscriptions_active",
    "Subscriptions open now (every transport).",
    registry=REGISTRY,
    multiprocess_mode="livesum",
)
EVENTS: Final = Counter(
    "gateway_events",
    "Order events published, by source, type (CREATED, UPDATED, DELETED) and origin.",
    ["source", "type", "origin"],
    registry=REGISTRY,
)
WEBHOOKS: Final = Counter(
    "gateway_webhooks",
    "Webhook deliveries by source and outcome (accepted, duplicate, stale, bad_signature).",
    ["source", "outcome"],
    registry=REGISTRY,
)


def subscriptions_changed(by: int) -> None:
    SUBSCRIPTIONS.inc(by)


def event_published(source: str, type_: str, origin: str) -> None:
    EVENTS.labels(source, type_, origin).inc()


def webhook_received(source: str, outcome: str) -> None:
    WEBHOOKS.labels(source, outcome).inc()
