"""Live events across replicas (``[cache] backend = "redis"``): every change goes through
one Redis stream, which every replica reads and hands to its own subscribers, so each
subscriber on any replica gets each event once, under the same id (the stream entry's);
one poller per source across replicas holds a lease in Redis.

The stream holds the change (ids, status, times), sealed like every value in Redis, not
the order: the replica that published it read the order fresh (which stored it in the
shared cache); the others read it through their cache (``cache_ttl_s`` > 0: no backend
call) when they deliver it.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import orjson
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from gateway.domain import Order
from gateway.errors import GatewayError
from gateway.live.events import Change, Event, EventId, EventOrigin, EventType
from gateway.state.sealing import Sealer

log = logging.getLogger("gateway.live")

Found = Order | GatewayError | None
#: how long one XREAD waits (below the store's socket timeout)
BLOCK_MS = 200


class RedisFanout:
    def __init__(
        self,
        prefix: str,
        sealer: Sealer,
        url: str,
        *,
        retention_s: float,
        deliver: Callable[[Event], Awaitable[None]],
        read: Callable[[Change], Awaitable[Found]],
        now: Callable[[], float],
    ) -> None:
        self.prefix, self.sealer, self.retention_s = prefix, sealer, retention_s
        self.deliver, self.read, self.now = deliver, read, now
        self.stream = f"{prefix}live:events"
        # a client of its own: a blocking read must not hold, nor break, the cache's
        # connections (the cache's health is judged by what its own commands meet)
        self.client: aioredis.Redis = aioredis.Redis.from_url(
            url, socket_connect_timeout=0.5, socket_timeout=BLOCK_MS / 1000 + 2
        )
        self.replica = uuid.uuid4().hex
        #: orders this replica read for the entries it added, until its reader delivers them
        self._mine: dict[str, Found] = {}
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="live events from redis")

    async def aclose(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        await self.client.aclose()

    async def send(self, change: Change, order: Found) -> None:
        """Adds the change to the stream (trimmed to ``retention_s``)."""
        name = self.stream
        body = self.sealer.seal(name, _encode(change))
        horizon = int((self.now() - self.retention_s) * 1000)
        try:
            entry = await self.client.xadd(name, {"c": body}, minid=str(horizon), approximate=True)
        except (RedisError, OSError) as exc:
            log.error("live events: Redis refused the event (%s); not delivered", type(exc))
            return
        self._mine[entry.decode() if isinstance(entry, bytes) else str(entry)] = order

    async def _run(self) -> None:
        last = "$"
        while True:
            try:
                found: Any = await self.client.xread({self.stream: last}, block=BLOCK_MS)
            except (RedisError, OSError) as exc:
                log.warning("live events: cannot read from Redis (%s)", type(exc).__name__)
                await asyncio.sleep(1)
                continue
            for _stream, entries in found or []:
                for raw_id, fields in entries:
                    last = raw_id.decode() if isinstance(raw_id, bytes) else str(raw_id)
                    await self._one(last, fields)

    async def _one(self, entry: str, fields: dict[bytes, bytes]) -> None:
        opened = self.sealer.open(self.stream, fields.get(b"c", b""))
        if opened is None:
            log.warning("live events: an entry does not open with encryption_key; skipped")
            return
        change = _decode(opened)
        order = self._mine.pop(entry) if entry in self._mine else await self.read(change)
        await self.deliver(Event(EventId.parse(entry), change, order, self.now()))

    async def may_poll(self, source: str, interval_s: float) -> bool:
        """Whether this replica holds (or now takes) the source's polling lease."""
        key = f"{self.prefix}live:lease:{source}"
        ttl = max(1000, int(interval_s * 3000))
        client = self.client
        try:
            if await client.set(key, self.replica, nx=True, px=ttl):
                return True
            if await client.get(key) == self.replica.encode():
                await client.pexpire(key, ttl)
                return True
        except (RedisError, OSError):
            return False  # no lease without Redis: better no poller than one per replica
        return False


def _encode(change: Change) -> bytes:
    status, updated = change.state
    return orjson.dumps(
        {
            "type": change.type.value,
            "source": change.source,
            "id": change.source_id,
            "at": change.occurred_at.isoformat(),
            "origin": change.origin.value,
            "status": status,
            "updated": updated.isoformat() if updated else None,
        }
    )


def _decode(data: bytes) -> Change:
    d = orjson.loads(data)
    updated = datetime.fromisoformat(d["updated"]) if d["updated"] else None
    return Change(
        EventType(d["type"]),
        d["source"],
        d["id"],
        datetime.fromisoformat(d["at"]),
        EventOrigin(d["origin"]),
        (d["status"], updated),
    )
