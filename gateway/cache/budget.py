"""A source's rate budget: at most ``limit`` calls in any ``window_s``, in this process or,
with Redis, across every worker and replica.

A call takes the earliest free slot and waits for it, at most ``max_wait_s``; a call whose
slot is further away fails at once with BACKEND_RATE_LIMITED and how long to wait, instead
of queueing behind a backlog its client will not wait for. A backend's 429 closes the
budget until its Retry-After has passed, for every process sharing it, so a storm of 429s
does not become a storm of retries.

The backend counts arrivals and this counts departures; latency that varies between two
calls would let the backend see one call too many in its window, so the window kept here
is 10% (at least 50 ms) longer.
"""

from __future__ import annotations

import uuid
from collections import deque
from typing import Protocol

from gateway.cache.redis import RedisStore
from gateway.errors import BackendRateLimited
from gateway.resilience import Clock


def padded(window_s: float) -> float:
    return window_s + max(0.05, window_s * 0.1)


class Budget(Protocol):
    @property
    def max_wait_s(self) -> float:
        """The longest a call waits for a slot."""
        ...

    async def acquire(self) -> None:
        """Wait for a slot; raises BackendRateLimited when none is free soon enough."""
        ...

    async def block(self, seconds: float) -> None:
        """No call before ``seconds`` from now (the backend's Retry-After)."""
        ...


class LocalBudget:
    """The budget of this process: a sliding window of the slots taken."""

    def __init__(
        self, source: str, limit: int | None, window_s: float, max_wait_s: float, clock: Clock
    ) -> None:
        self.source = source
        self.limit = limit
        self.window_s = padded(window_s)
        self.max_wait_s = max_wait_s
        self.clock = clock
        self._slots: deque[float] = deque()
        self._blocked_until = 0.0

    def reserve(self) -> float:
        """The wait before this call may go, its slot taken; raises when too long."""
        now = self.clock.monotonic()
        slot = max(now, self._blocked_until)
        if self.limit is not None:
            slots = self._slots
            while slots and slots[0] <= now - self.window_s:
                slots.popleft()
            if len(slots) >= self.limit:
                slot = max(slot, slots[-self.limit] + self.window_s)
        wait = slot - now
        if wait > self.max_wait_s:
            raise rate_limited(self.source, wait)
        if self.limit is not None:
            self._slots.append(slot)
        return wait

    async def acquire(self) -> None:
        wait = self.reserve()
        if wait > 0:
            await self.clock.sleep(wait)

    async def block(self, seconds: float) -> None:
        self._blocked_until = max(self._blocked_until, self.clock.monotonic() + seconds)


# KEYS: the sorted set of slots (ms), the blocked-until key (ms). ARGV: limit (0: none),
# window ms, max wait ms, a unique member. Slots are Redis's own clock, so processes on
# machines whose clocks differ still share one window.
_ACQUIRE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit, window, maxwait = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local slot = now
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > slot then slot = blocked end
if limit > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  local n = redis.call('ZCARD', KEYS[1])
  if n >= limit then
    local kth = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
    local free = tonumber(kth[2]) + window
    if free > slot then slot = free end
  end
end
if slot - now > maxwait then return {0, slot - now} end
if limit > 0 then
  redis.call('ZADD', KEYS[1], slot, ARGV[4])
  redis.call('PEXPIRE', KEYS[1], slot - now + window + 1000)
end
return {1, slot - now}
"""

_BLOCK = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local untl = now + tonumber(ARGV[1])
local cur = tonumber(redis.call('GET', KEYS[1]) or '0')
if untl > cur then redis.call('SET', KEYS[1], untl, 'PX', tonumber(ARGV[1]) + 1000) end
return untl
"""


class RedisBudget:
    """One budget for every process that shares the Redis server (an atomic Lua script);
    while Redis cannot be reached, this process's own budget stands in."""

    def __init__(self, store: RedisStore, key: str, local: LocalBudget) -> None:
        self.store = store
        self.local = local
        self._keys = [f"{store.prefix}budget:{key}", f"{store.prefix}blocked:{key}"]
        self._acquire = store.client.register_script(_ACQUIRE)
        self._block = store.client.register_script(_BLOCK)

    @property
    def max_wait_s(self) -> float:
        return self.local.max_wait_s

    async def acquire(self) -> None:
        local = self.local

        async def ask() -> list[int]:
            args: list[int | str] = [
                local.limit or 0,
                int(local.window_s * 1000),
                int(local.max_wait_s * 1000),
                uuid.uuid4().hex,
            ]
            answer: list[int] = await self._acquire(keys=self._keys, args=args)
            return answer

        answer: list[int] = await self.store.run(ask, [])
        if not answer:
            await local.acquire()
            return
        granted, wait_ms = int(answer[0]), int(answer[1])
        if not granted:
            raise rate_limited(local.source, wait_ms / 1000)
        if wait_ms > 0:
            await local.clock.sleep(wait_ms / 1000)

    async def block(self, seconds: float) -> None:
        await self.local.block(seconds)
        millis = max(1, int(seconds * 1000))

        async def tell() -> int:
            answer: int = await self._block(keys=self._keys[1:], args=[millis])
            return answer

        await self.store.run(tell, 0)


def rate_limited(source: str, wait_s: float) -> BackendRateLimited:
    return BackendRateLimited(
        source,
        f"the source's rate budget is spent; retry in {wait_s:.1f} s",
        retry_after=wait_s,
    )
