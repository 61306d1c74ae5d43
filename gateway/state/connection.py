"""The one connection to Redis: its client, whether it answers, and the replicas it saw.

Everything that talks to Redis (the store, the rate budgets, the credentials keeper) goes
through one :class:`RedisConnection`, so they agree on whether Redis is there:

- An operation that fails (refused, reset, or slower than ``timeout_s``: a frozen Redis
  stalls nobody for longer) marks Redis lost, logs it once, and is answered by the
  caller's fallback. While lost, nobody asks Redis: every operation answers its fallback
  at once.
- A watcher alone asks again, every ``probe_s``, on fresh connections (the pooled ones
  died with the server: reusing them one by one is what made a restarted Redis look lost
  again and again). When Redis answers, it is used again; the log says so once.
- A failure of an operation that started before Redis was found again is a leftover of
  the outage, not a new one: it does not mark Redis lost again (no flapping).
- While Redis answers, the watcher registers this process every ``heartbeat_s`` in a
  sorted set of replicas with their expiry, and keeps how many are alive: without Redis,
  each rate budget falls back to its share (``rate_limit / replicas``), so replicas that
  lost Redis together never send more than the whole budget between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError

log = logging.getLogger("gateway.cache")

T = TypeVar("T")

# KEYS: the replicas' sorted set, then rate budgets' windows (budget.py). ARGV: this
# replica's id, its registration's life (ms), then each window's length (ms). Scores are
# Redis's own clock (the replicas': expiry times). Answers how many replicas are alive,
# then for each window the ages (ms) of the calls it holds.
_REGISTER = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local ttl = tonumber(ARGV[2])
redis.call('ZADD', KEYS[1], now + ttl, ARGV[1])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
redis.call('PEXPIRE', KEYS[1], ttl * 2)
local counts = {redis.call('ZCARD', KEYS[1])}
for i = 2, #KEYS do
  local start = now - tonumber(ARGV[i + 1])
  local scores = redis.call('ZRANGEBYSCORE', KEYS[i], start, '+inf', 'WITHSCORES')
  local ages = {}
  for j = 2, #scores, 2 do ages[#ages + 1] = now - tonumber(scores[j]) end
  counts[i] = ages
end
return counts
"""


def describe(url: str) -> str:
    """The URL without its credentials, for log lines."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}:{parts.port or 6379}{parts.path}"


class RedisConnection:
    """redis-py's asyncio client with the health, reconnection and replica count every
    user of the same server shares. ``start`` in the serving loop, ``aclose`` at the end."""

    def __init__(
        self,
        url: str,
        *,
        prefix: str = "gw:",
        timeout_s: float = 0.5,
        probe_s: float = 0.25,
        heartbeat_s: float = 1.0,
        replicas_at_least: int = 1,
    ) -> None:
        self.prefix = prefix
        #: bounded socket timeouts and one retry, on a broken connection only: a pooled
        #: connection that a restarted Redis dropped is opened anew at once (a refused
        #: connect costs nothing), a timeout is not tried again: the watcher, not the
        #: caller, decides when to try a silent Redis again
        self.client: aioredis.Redis = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
            retry=Retry(NoBackoff(), 1, supported_errors=(RedisConnectionError,)),
        )
        self.where = describe(url)
        self.probe_s = probe_s
        self.heartbeat_s = heartbeat_s
        #: how long a registration outlives its last heartbeat
        self.registration_s = max(3.0, heartbeat_s * 3)
        #: this process in the replicas' set (random: says nothing about the host)
        self.replica_id = uuid.uuid4().hex
        self._replicas_key = prefix + "replicas"
        self._register = self.client.register_script(_REGISTER)
        self._floor = max(1, replicas_at_least)
        self._replicas = self._floor
        self._settle_until = 0.0
        self._healthy = True
        #: counts recoveries; an operation remembers the one it started in
        self._generation = 0
        self._lost = asyncio.Event()
        self._watcher: asyncio.Task[None] | None = None
        #: called with True when Redis answers again, False when it is lost
        self._listeners: list[Callable[[bool], None]] = []
        #: rate windows read at each heartbeat: (key, window ms, told the calls' ages)
        self._windows: list[tuple[str, int, Callable[[list[int]], None]]] = []
        #: when Redis was last lost and last found again (time.monotonic(); for tests)
        self.lost_at: float | None = None
        self.found_at: float | None = None

    @property
    def healthy(self) -> bool:
        """Whether Redis answered the last operation (as the watcher keeps checking)."""
        return self._healthy

    @property
    def replicas(self) -> int:
        """The replicas alive when Redis last answered (this one included; at least 1)."""
        return self._replicas

    def available(self) -> bool:
        """Whether to ask Redis now (not while it is lost: the watcher asks for everyone)."""
        return self._healthy

    def listen(self, listener: Callable[[bool], None]) -> None:
        """``listener(True)`` when Redis answers again, ``listener(False)`` when lost."""
        self._listeners.append(listener)

    def count_window(self, key: str, window_ms: int, told: Callable[[list[int]], None]) -> None:
        """At each heartbeat, ``told`` the ages (ms) of the calls the sorted set ``key``
        holds in the last ``window_ms`` (a budget that loses Redis knows when they leave)."""
        self._windows.append((key, window_ms, told))

    async def start(self) -> None:
        """Register this replica (a first sign of life in the log if Redis is down) and
        start the watcher."""
        await self.beat()
        if self._watcher is None:
            self._watcher = asyncio.create_task(self._watch(), name="redis-watcher")

    async def run(self, operation: Callable[[], Awaitable[T]], fallback: T) -> T:
        """``operation`` against Redis, or ``fallback`` when Redis cannot answer."""
        if not self._healthy:
            return fallback
        generation = self._generation
        try:
            return await operation()
        except (RedisError, OSError) as exc:
            if generation == self._generation:
                self.lose(exc)
            return fallback

    def lose(self, exc: BaseException) -> None:
        """Redis failed an operation: nobody asks it until the watcher finds it again."""
        if not self._healthy:
            return
        self._healthy = False
        self.lost_at = time.monotonic()
        log.error(
            "cache: Redis at %s cannot be reached (%s); answering without it, each rate "
            "budget at its share for %d replica(s)",
            self.where,
            type(exc).__name__,
            self._replicas,
        )
        self._lost.set()
        self._tell(False)

    async def _watch(self) -> None:
        while True:
            if self._healthy:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._lost.wait(), self.heartbeat_s)
                if self._healthy:
                    await self.beat()
                continue
            await asyncio.sleep(self.probe_s)
            await self.probe()

    async def probe(self) -> bool:
        """Ask a lost Redis again, on new connections; whether it answered."""
        try:
            await self.client.connection_pool.disconnect()
            await self.client.ping()
            counts = await self._registered()
        except (RedisError, OSError):
            return False
        # A restarted Redis has forgotten the replicas: until they had time to register
        # again, the count found before stands (a share is never taken too large)
        self._settle_until = time.monotonic() + self.registration_s
        self._counted(counts)
        self._generation += 1
        self._lost.clear()
        self._healthy = True
        self.found_at = time.monotonic()
        log.warning("cache: Redis at %s answers again; using it", self.where)
        self._tell(True)
        return True

    async def beat(self) -> None:
        """Register this replica now, and count the replicas and the rate windows."""
        counts = await self.run(self._registered, None)
        if counts is not None:
            self._counted(counts)

    async def _registered(self) -> list[Any]:
        windows = self._windows
        counts: list[Any] = await self._register(
            keys=[self._replicas_key, *(key for key, _, _ in windows)],
            args=[
                self.replica_id,
                int(self.registration_s * 1000),
                *(window_ms for _, window_ms, _ in windows),
            ],
        )
        return counts

    def _counted(self, counts: list[Any]) -> None:
        replicas = max(self._floor, int(counts[0]))
        if time.monotonic() < self._settle_until:
            replicas = max(replicas, self._replicas)
        self._replicas = replicas
        for (_, _, told), ages in zip(self._windows, counts[1:], strict=False):
            told([int(age) for age in ages])

    def _tell(self, found: bool) -> None:
        for listener in self._listeners:
            listener(found)

    async def aclose(self) -> None:
        if self._watcher is not None:
            self._watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._watcher
            self._watcher = None
        if self._healthy:  # leave the replicas' set at once, not when the entry expires
            await self.run(lambda: self.client.zrem(self._replicas_key, self.replica_id), 0)
        await self.client.aclose()
