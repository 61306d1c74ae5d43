"""Live orders of one gateway process: changes become events (once each), read once,
published on the bus; the pollers of the sources that poll."""

from __future__ import annotations

import asyncio
import logging
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from datetime import datetime

from gateway.cache.fresh import FRESH
from gateway.cache.store import Store
from gateway.domain import Order
from gateway.errors import GatewayError
from gateway.live import metrics
from gateway.live.bus import EventBus
from gateway.live.events import Change, Event, EventType
from gateway.live.poller import Poller
from gateway.live.redis_fanout import RedisFanout
from gateway.sources.base import Source

log = logging.getLogger("gateway.live")

#: orders whose last announced state is remembered, per source (the oldest forgotten)
REMEMBERED = 10_000

State = tuple[str | None, datetime | None]


class LiveOrders:
    """Turns changes into events: a change already announced (the same status and
    updatedAt, from a webhook or the poller) is not announced again."""

    def __init__(
        self,
        bus: EventBus,
        sources: Mapping[str, Source],
        poll_intervals: Mapping[str, float],
        *,
        now: Callable[[], float] = time.time,
    ) -> None:
        self.bus, self.sources, self.now = bus, sources, now
        self._announced: dict[str, OrderedDict[str, State]] = {n: OrderedDict() for n in sources}
        self.pollers = {
            name: Poller(self, sources[name], interval)
            for name, interval in poll_intervals.items()
            if interval > 0 and name in sources
        }
        self._tasks: set[asyncio.Task[object]] = set()
        #: with Redis: the stream every replica delivers from, and the pollers' leases
        self.fanout: RedisFanout | None = None

    def share_through(self, store: Store, url: str, retention_s: float) -> None:
        """Events through Redis to every replica; one poller per source across them (a
        store without Redis under it: this process's alone)."""
        if store.connection is None or store.sealer is None:
            return
        self.fanout = RedisFanout(
            store.connection.prefix,
            store.sealer,
            url,
            retention_s=retention_s,
            deliver=self._deliver,
            read=self._shared,
            now=self.now,
        )

    def start(self) -> None:
        if self.fanout is not None:
            self.fanout.start()
        for poller in self.pollers.values():
            poller.start()

    async def aclose(self) -> None:
        for poller in self.pollers.values():
            await poller.stop()
        if self.fanout is not None:
            await self.fanout.aclose()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    def known(self, source: str, source_id: str) -> State | None:
        return self._announced[source].get(source_id)

    def remember(self, source: str, source_id: str, state: State) -> None:
        seen = self._announced[source]
        seen[source_id] = state
        seen.move_to_end(source_id)
        while len(seen) > REMEMBERED:
            seen.popitem(last=False)

    def publish_soon(self, change: Change) -> None:
        """Publish without waiting for the order's read (a webhook answers at once)."""
        task: asyncio.Task[object] = asyncio.create_task(self.publish(change))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def publish(self, change: Change) -> Event | None:
        """The event for ``change``, published; None when it was announced already."""
        state: State = change.state
        known = self.known(change.source, change.source_id)
        if change.type is not EventType.DELETED and known == state:
            return None
        self.remember(change.source, change.source_id, state)
        order: Order | GatewayError | None = None
        if change.type is not EventType.DELETED:
            order = await self._read(change.source, change.source_id)
        metrics.event_published(change.source, change.type.value, change.origin.value)
        if self.fanout is not None:  # every replica's reader delivers it, this one's too
            await self.fanout.send(change, order)
            return None
        event = Event(self.bus.next_id(), change, order, self.now())
        await self.bus.publish(event)
        return event

    async def may_poll(self, source: str, interval_s: float) -> bool:
        """Whether this process polls ``source`` now (with Redis: the one lease holder)."""
        return self.fanout is None or await self.fanout.may_poll(source, interval_s)

    async def _deliver(self, event: Event) -> None:
        change = event.change
        self.remember(change.source, change.source_id, change.state)
        await self.bus.publish(event)

    async def _shared(self, change: Change) -> Order | GatewayError | None:
        """Another replica's event's order, through the shared cache (its publisher's
        fresh read stored it there)."""
        if change.type is EventType.DELETED or change.source not in self.sources:
            return None
        [found] = await self.sources[change.source].get_orders([change.source_id])
        if isinstance(found, GatewayError) or found is None or isinstance(found, Order):
            return found
        return GatewayError("the order could not be read")

    async def _read(self, source: str, source_id: str) -> Order | GatewayError | None:
        """The order as the backend has it now, read once for every subscriber; the read
        also replaces its cached copy."""
        token = FRESH.set(True)
        try:
            [found] = await self.sources[source].get_orders([source_id])
        finally:
            FRESH.reset(token)
        if isinstance(found, GatewayError) or found is None or isinstance(found, Order):
            return found
        log.error("reading order for an event failed", exc_info=found)
        return GatewayError("the order could not be read")
