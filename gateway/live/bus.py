"""The event bus: publish events, keep them ``retention_s`` for resuming, hand them to
subscribers through bounded buffers.

:class:`EventBus` is the interface; :class:`MemoryBus` keeps events in this process (a
Redis Streams bus can implement the same four methods for every replica).
"""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Protocol

from gateway.live import metrics
from gateway.live.events import (
    Event,
    EventId,
    EventsExpired,
    SubscriberTooSlow,
    SubscriptionLimit,
)

#: what a subscriber's queue holds after it overflowed
_DROPPED = object()


class Subscription:
    """One subscriber's events: the missed ones it resumed from, then live ones through a
    queue of at most ``buffer`` events. Iterate it; close it when done."""

    def __init__(self, bus: MemoryBus, client: str, backlog: list[Event], buffer: int) -> None:
        self._bus, self.client = bus, client
        self._backlog = deque(backlog)
        self._queue: asyncio.Queue[object] = asyncio.Queue(maxsize=buffer)
        self.closed = False

    def offer(self, event: Event) -> bool:
        """Queue a live event; False (and dropped) when the buffer is full."""
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            while not self._queue.empty():  # frees the buffer now, not when it is read
                self._queue.get_nowait()
            self._queue.put_nowait(_DROPPED)
            return False
        return True

    def __aiter__(self) -> AsyncIterator[Event]:
        return self

    async def __anext__(self) -> Event:
        if self._backlog:
            return self._backlog.popleft()
        if self.closed and self._queue.empty():
            raise StopAsyncIteration
        item = await self._queue.get()
        if item is _DROPPED:
            raise SubscriberTooSlow(
                f"this subscriber fell {self._queue.maxsize} events behind and was dropped;"
                " subscribe again (SSE: with Last-Event-ID) to resume"
            )
        assert isinstance(item, Event)
        return item

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self._bus.leave(self)


class EventBus(Protocol):
    """Where events are published and subscribed to."""

    async def publish(self, event: Event) -> None: ...

    def next_id(self) -> EventId: ...

    def subscribe(self, client: str, after: str | None) -> Subscription: ...

    def leave(self, subscription: Subscription) -> None: ...


class MemoryBus:
    """Events of this process, kept ``retention_s``; at most ``per_client``
    subscriptions per client and ``total`` in all, each buffering ``buffer`` events."""

    def __init__(
        self,
        *,
        retention_s: float,
        per_client: int,
        total: int,
        buffer: int,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.retention_s, self.per_client, self.total, self.buffer = (
            retention_s,
            per_client,
            total,
            buffer,
        )
        self.now = now
        self._events: deque[Event] = deque()
        self._subscribers: set[Subscription] = set()
        self._per_client: dict[str, int] = {}
        # ids before this one were never kept here (another process, or pruned)
        self._first = EventId(int(now() * 1000), 0)
        self._last = EventId(0, 0)

    def next_id(self) -> EventId:
        ms = int(self.now() * 1000)
        last = self._last
        self._last = EventId(ms, 0) if ms > last.ms else EventId(last.ms, last.seq + 1)
        return self._last

    async def publish(self, event: Event) -> None:
        self._events.append(event)
        self._prune()
        for subscriber in list(self._subscribers):
            if not subscriber.offer(event):
                self.leave(subscriber)

    def _prune(self) -> None:
        horizon = self.now() - self.retention_s
        while self._events and self._events[0].at < horizon:
            gone = self._events.popleft()
            self._first = EventId(gone.id.ms, gone.id.seq + 1)

    def subscribe(self, client: str, after: str | None) -> Subscription:
        if len(self._subscribers) >= self.total:
            raise SubscriptionLimit(
                f"the gateway serves at most {self.total} subscriptions; try again later"
            )
        if self._per_client.get(client, 0) >= self.per_client:
            raise SubscriptionLimit(
                f"at most {self.per_client} subscriptions per client"
                " ([security.limits] max_subscriptions_per_client)"
            )
        backlog: list[Event] = []
        if after is not None:
            since = EventId.parse(after).key()
            self._prune()
            if since < (self._first.ms, self._first.seq - 1):
                raise EventsExpired(
                    f"events after {after} are no longer kept (retention {self.retention_s:g}"
                    " s); read the orders again with a query, then subscribe"
                )
            backlog = [e for e in self._events if e.id.key() > since]
        subscription = Subscription(self, client, backlog, self.buffer)
        self._subscribers.add(subscription)
        self._per_client[client] = self._per_client.get(client, 0) + 1
        metrics.subscriptions_changed(1)
        return subscription

    def leave(self, subscription: Subscription) -> None:
        if subscription not in self._subscribers:
            return
        self._subscribers.discard(subscription)
        left = self._per_client.get(subscription.client, 1) - 1
        if left:
            self._per_client[subscription.client] = left
        else:
            self._per_client.pop(subscription.client, None)
        metrics.subscriptions_changed(-1)

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def retained(self) -> list[Event]:
        self._prune()
        return list(self._events)
