"""A source's rate budget: at most ``limit`` calls in any ``window_s``, in this process or,
with Redis, across every worker and replica.

A call is granted a slot only at the moment it leaves, when fewer than ``limit`` calls left
in the last window; otherwise it sleeps until the oldest of them falls out of the window
and asks again, for at most ``max_wait_s`` in all, then fails with BACKEND_RATE_LIMITED
and how long to wait, instead of queueing behind a backlog its client will not wait for.
Granting at departure (not reserving slots ahead) keeps the count exact however late an
overloaded process gets round to sending. A backend's 429 closes the budget until its
Retry-After has passed, for every process sharing it, so a storm of 429s does not become
a storm of retries.

The backend counts arrivals and this counts departures; latency that varies between two
calls would let the backend see one call too many in its window, so the window kept here
is 10% (at least 50 ms) longer.
"""

from __future__ import annotations

import contextlib
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Protocol

from gateway.cache.connection import RedisConnection
from gateway.errors import BackendRateLimited
from gateway.resilience import Clock

#: How long a call may wait for budget when that is longer than the source's rate_wait_s:
#: an export, which nobody watches live, waits its turn instead of failing (set per request).
PATIENCE: ContextVar[float] = ContextVar("gateway_budget_patience", default=0.0)


def allowed_wait(max_wait_s: float) -> float:
    """The longest the current request's call may wait for budget."""
    return max(max_wait_s, PATIENCE.get())


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
    """The budget of this process: a sliding window of the calls that left.

    ``parts`` says among how many processes the budget is split when they cannot share
    it (``--workers N`` with the memory cache; replicas that lost Redis): this process
    then takes at most ``limit // parts()`` (at least 1) calls per window.
    """

    def __init__(
        self,
        source: str,
        limit: int | None,
        window_s: float,
        max_wait_s: float,
        clock: Clock,
        parts: Callable[[], int] = lambda: 1,
    ) -> None:
        self.source = source
        self.limit = limit
        self.window_s = padded(window_s)
        self.max_wait_s = max_wait_s
        self.clock = clock
        self.parts = parts
        self._sent: deque[float] = deque()
        self._blocked_until = 0.0
        #: after Redis was lost: until when, from when, and how many calls of its own
        #: this process may add to what the shared window already held
        self._transition = (0.0, 0.0, 0)

    @property
    def share(self) -> int | None:
        """The calls per window this process may make on its own."""
        if self.limit is None:
            return None
        return max(1, self.limit // max(1, self.parts()))

    def take(self, now: float | None = None) -> float:
        """Take a slot now (0.0), or the wait before one may be free."""
        now = self.clock.monotonic() if now is None else now
        if self._blocked_until > now:
            return self._blocked_until - now
        share = self.share
        if share is not None:
            sent = self._sent
            while sent and sent[0] <= now - self.window_s:
                sent.popleft()
            if len(sent) >= share:
                return sent[-share] + self.window_s - now
            until, since, allowance = self._transition
            if now < until and sum(1 for t in sent if t > since) >= allowance:
                return until - now
            sent.append(now)
        return 0.0

    def note(self, now: float | None = None) -> None:
        """A call left on a slot the shared budget granted: kept so that this process
        knows its own calls of the last window should the shared budget go away."""
        if self.limit is not None:
            self._sent.append(self.clock.monotonic() if now is None else now)

    def untake(self, at: float) -> None:
        """Give back the slot taken at ``at`` (the shared budget refused the call)."""
        with contextlib.suppress(ValueError):
            self._sent.remove(at)

    def fall_back(self, seen: int) -> None:
        """The shared budget is gone; it held ``seen`` calls in its window when it last
        answered. Until those have left the window, this process adds at most its share
        of what remained, so replicas falling back together stay within the limit."""
        if self.limit is None:
            return
        now = self.clock.monotonic()
        left = max(0, self.limit - seen) // max(1, self.parts())
        self._transition = (now + self.window_s, now, left)

    async def acquire(self) -> None:
        async def take() -> float:
            return self.take()

        await wait_for_slot(self.source, take, self.max_wait_s, self.clock)

    async def block(self, seconds: float) -> None:
        self._blocked_until = max(self._blocked_until, self.clock.monotonic() + seconds)


async def wait_for_slot(
    source: str,
    take: Callable[[], Awaitable[float]] | Callable[[], float],
    max_wait_s: float,
    clock: Clock,
) -> None:
    """Ask ``take`` for a slot until it grants one (0.0) or ``max_wait_s`` would pass."""
    max_wait_s = allowed_wait(max_wait_s)
    waited = 0.0
    while True:
        answer = take()
        wait = answer if isinstance(answer, float) else await answer
        if wait <= 0:
            return
        if waited + wait > max_wait_s:
            raise rate_limited(source, wait)
        await clock.sleep(wait)
        waited += wait


# KEYS: the sorted set of departures (ms), the blocked-until key (ms). ARGV: limit (0:
# none), window ms, a unique member. Answers the ms to wait (> 0), or, granted, minus the
# calls now in the window (a replica that loses Redis knows how much of the window was
# spent). Times are Redis's own clock, so processes on machines whose clocks differ share
# one window.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then return blocked - now end
if limit > 0 then
  redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
  local n = redis.call('ZCARD', KEYS[1])
  if n >= limit then
    local kth = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
    return math.max(1, tonumber(kth[2]) + window - now)
  end
  redis.call('ZADD', KEYS[1], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[1], window + 1000)
  return -(n + 1)
end
return 0
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
    """One budget for every process that shares the Redis server (an atomic Lua script).

    While Redis cannot be reached, this process's own budget stands in at its share
    (rate_limit divided by the replicas last seen alive); for a window after Redis lost
    and after it came back (empty, perhaps), a call needs both the shared slot and one
    of this process's share, since the calls sent meanwhile are in no shared window.
    """

    def __init__(self, connection: RedisConnection, key: str, local: LocalBudget) -> None:
        self.connection = connection
        self.local = local
        local.parts = lambda: connection.replicas
        prefix = connection.prefix
        self._keys = [f"{prefix}budget:{key}", f"{prefix}blocked:{key}"]
        self._take = connection.client.register_script(_TAKE)
        self._block = connection.client.register_script(_BLOCK)
        #: calls in the shared window when Redis last answered (a call or a heartbeat)
        self.seen = 0
        self._both_until = 0.0
        connection.listen(self._changed)
        connection.count_window(self._keys[0], int(local.window_s * 1000), self._saw)

    def _saw(self, count: int) -> None:
        self.seen = count

    @property
    def max_wait_s(self) -> float:
        return self.local.max_wait_s

    def _changed(self, found: bool) -> None:
        if not found:
            self.local.fall_back(self.seen)
        self._both_until = self.local.clock.monotonic() + self.local.window_s

    async def acquire(self) -> None:
        local = self.local
        window_ms = int(local.window_s * 1000)

        async def ask() -> int:
            args: list[int | str] = [local.limit or 0, window_ms, uuid.uuid4().hex]
            answer: int = await self._take(keys=self._keys, args=args)
            return answer

        async def take() -> float:
            if not self.connection.available():
                return local.take()
            now = local.clock.monotonic()
            both = now < self._both_until
            if both and (wait := local.take(now)) > 0:
                return wait
            answer = await self.connection.run(ask, None)
            if answer is None:  # lost just now: this process's own budget
                return 0.0 if both else local.take()
            if answer > 0:
                self.seen = local.limit or 0
                if both:
                    local.untake(now)
                return int(answer) / 1000
            self.seen = -int(answer)
            if not both:
                local.note(now)
            return 0.0

        await wait_for_slot(local.source, take, local.max_wait_s, local.clock)

    async def block(self, seconds: float) -> None:
        await self.local.block(seconds)
        millis = max(1, int(seconds * 1000))

        async def tell() -> int:
            answer: int = await self._block(keys=self._keys[1:], args=[millis])
            return answer

        await self.connection.run(tell, 0)


def rate_limited(source: str, wait_s: float) -> BackendRateLimited:
    return BackendRateLimited(
        source,
        f"the source's rate budget is spent; retry in {wait_s:.1f} s",
        retry_after=wait_s,
    )
