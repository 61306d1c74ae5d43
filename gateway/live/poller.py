"""A source's poller: every ``poll_interval_s``, one look at the newest orders (one list
call per stream, whatever the number of subscribers); an unseen id is CREATED, a seen one
whose status or updatedAt changed is UPDATED."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import TYPE_CHECKING

from gateway.cache.fresh import FRESH
from gateway.domain import Order, OrderQuery
from gateway.errors import GatewayError
from gateway.live.events import Change, EventOrigin, EventType, seen_now
from gateway.sources.base import Source

if TYPE_CHECKING:
    from gateway.live.hub import LiveOrders

log = logging.getLogger("gateway.live")

#: the newest orders looked at per stream and round
PAGE = 50


class Poller:
    def __init__(self, hub: LiveOrders, source: Source, interval_s: float) -> None:
        self.hub, self.source, self.interval_s = hub, source, interval_s
        #: completed rounds (the first one only learns what exists)
        self.rounds = 0
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name=f"poll {self.source.name}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _run(self) -> None:
        while True:
            try:
                await self.poll()
            except GatewayError as exc:  # the backend's trouble: try again next round
                log.warning("polling source %s failed: %s", self.source.name, exc.message)
            except Exception:
                log.exception("polling source %s failed", self.source.name)
            await asyncio.sleep(self.interval_s)

    async def poll(self) -> None:
        """One round: read the newest orders of each stream and publish what changed."""
        if not await self.hub.may_poll(self.source.name, self.interval_s):
            return  # another replica holds this source's lease
        query = OrderQuery()
        size = min(self.source.list_page_size, PAGE)
        token = FRESH.set(True)
        try:
            pages = [
                await self.source.list_orders(stream, query, 0, size)
                for stream in self.source.streams(query)
            ]
        finally:
            FRESH.reset(token)
        learning = self.rounds == 0
        for page in pages:
            for order in reversed(page.orders):  # oldest first: events in the order they happened
                await self._look(order, learning)
        self.rounds += 1

    async def _look(self, order: Order, learning: bool) -> None:
        name, state = order.source, (order.source_status, order.updated_at)
        known = self.hub.known(name, order.source_id)
        if learning:
            if known is None:
                self.hub.remember(name, order.source_id, state)
            return
        if known == state:
            return
        created = known is None
        when = (order.created_at if created else order.updated_at) or None
        change = Change(
            EventType.CREATED if created else EventType.UPDATED,
            name,
            order.source_id,
            when or seen_now(self.hub.now),
            EventOrigin.POLL,
            state,
        )
        await self.hub.publish(change)
