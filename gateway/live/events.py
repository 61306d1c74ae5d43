"""One order event, as every transport and the schema see it."""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from gateway.domain import Order
from gateway.errors import BadUserInput, GatewayError

EVENTS_EXPIRED = "EVENTS_EXPIRED"
SUBSCRIPTION_LIMIT = "SUBSCRIPTION_LIMIT"
SUBSCRIBER_TOO_SLOW = "SUBSCRIBER_TOO_SLOW"


class EventType(enum.Enum):
    CREATED = "CREATED"
    UPDATED = "UPDATED"
    DELETED = "DELETED"


class EventOrigin(enum.Enum):
    WEBHOOK = "WEBHOOK"
    POLL = "POLL"


class EventsExpired(GatewayError):
    """A resume point older than what the gateway keeps: re-read with a query."""

    code = EVENTS_EXPIRED


class SubscriptionLimit(GatewayError):
    """Too many subscriptions for this client, or for the gateway."""

    code = SUBSCRIPTION_LIMIT


class SubscriberTooSlow(GatewayError):
    """A subscriber whose buffer filled: dropped, so that it never holds unbounded memory."""

    code = SUBSCRIBER_TOO_SLOW


@dataclass(frozen=True, slots=True)
class EventId:
    """Milliseconds since the epoch and a sequence within them: increasing per deployment
    (the form of a Redis stream entry id, written ``<ms>-<seq>``)."""

    ms: int
    seq: int

    def __str__(self) -> str:
        return f"{self.ms}-{self.seq}"

    @staticmethod
    def parse(text: str) -> EventId:
        ms, sep, seq = text.strip().partition("-")
        if not (sep and ms.isdigit() and seq.isdigit() and len(text) <= 40):
            raise BadUserInput("not an event id (Last-Event-ID must be an OrderEvent.id)")
        return EventId(int(ms), int(seq))

    def key(self) -> tuple[int, int]:
        return (self.ms, self.seq)


@dataclass(frozen=True, slots=True)
class Change:
    """What a poller or a webhook saw of one order, before it is an event."""

    type: EventType
    source: str
    source_id: str
    occurred_at: datetime
    origin: EventOrigin
    #: what identifies this state of the order: status and updatedAt as the backend says
    state: tuple[str | None, datetime | None]


@dataclass(frozen=True, slots=True)
class Event:
    """A published change; ``order`` is the order as read once when it was published
    (None for DELETED or when the backend no longer has it; the error when the read
    failed), so that any number of subscribers cost the backend nothing more."""

    id: EventId
    change: Change
    order: Order | GatewayError | None
    #: when it was published (wall clock, Unix seconds): retention counts from here
    at: float


def seen_now(now: Callable[[], float]) -> datetime:
    """When a change was seen, for a backend that does not say when it happened."""
    return datetime.fromtimestamp(now(), UTC)
