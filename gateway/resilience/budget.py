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

Two classes of call share a budget: interactive (``/graphql``) and bulk (``/export``, and
every request of an API key with ``bulk = true``). While interactive traffic is present (a
call waiting, or one granted in the last window) bulk calls get at most ``bulk_share`` of
the limit per window, and none while an interactive call waits for the next free slot, so
that slot is the interactive call's; with no interactive traffic bulk uses the whole
budget.

The backend counts arrivals and this counts departures; latency that varies between two
calls would let the backend see one call too many in its window, so the window kept here
is 10% (at least 50 ms) longer.
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from bisect import bisect_right
from collections import deque
from collections.abc import Awaitable, Callable
from contextvars import ContextVar
from typing import Protocol

from gateway.clock import Clock
from gateway.errors import BackendRateLimited
from gateway.state.connection import RedisConnection
from gateway.telemetry.budget_wait import record_budget_wait

#: How long a call may wait for budget when that is longer than the source's rate_wait_s:
#: an export, which nobody watches live, waits its turn instead of failing (set per request).
PATIENCE: ContextVar[float] = ContextVar("gateway_budget_patience", default=0.0)
#: Whether the current request's calls are bulk (set per request: /export, a bulk key).
BULK: ContextVar[bool] = ContextVar("gateway_budget_bulk", default=False)
#: How much longer than its computed wait an interactive waiter keeps bulk calls off the
#: slot it waits for (it wakes, then asks)
_HOLD_S = 0.05


def bulk_cap(share: float, limit: int) -> int:
    """The bulk calls per window while interactive traffic is present."""
    return int(share * limit)


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
        bulk_share: float = 0.5,
    ) -> None:
        self.source = source
        self.limit = limit
        self.bulk_share = bulk_share
        self.window_s = padded(window_s)
        self.max_wait_s = max_wait_s
        self.clock = clock
        self.parts = parts
        self._sent: deque[float] = deque()
        self._bulk: deque[float] = deque()
        #: interactive traffic: present until, and waiting for a slot until
        self._interactive_until = 0.0
        self._waiting_until = 0.0
        self._blocked_until = 0.0
        #: after Redis was lost: until when, from when, when the shared window's calls
        #: left (as last seen, sorted), and how many more it may have held
        self._transition: tuple[float, float, list[float], int] = (0.0, 0.0, [], 0)

    @property
    def share(self) -> int | None:
        """The calls per window this process may make on its own."""
        if self.limit is None:
            return None
        return max(1, self.limit // max(1, self.parts()))

    def take(
        self, now: float | None = None, *, bulk: bool = False, max_wait_s: float = 0.0
    ) -> float:
        """Take a slot now (0.0), or the wait before one may be free. An interactive call
        that will wait (``max_wait_s``) keeps bulk calls off the slot it waits for."""
        now = self.clock.monotonic() if now is None else now
        if self._blocked_until > now:
            return self._blocked_until - now
        share = self.share
        if share is None:
            return 0.0
        sent, window = self._sent, self.window_s
        while sent and sent[0] <= now - window:
            sent.popleft()
        wait = 0.0
        if len(sent) >= share:
            wait = sent[-share] + window - now
        if not wait and now < self._transition[0]:
            wait = self._transition_wait(now, sent)
        if not bulk:
            self._interactive_until = now + window
            if wait and wait <= max_wait_s:
                self._waiting_until = max(self._waiting_until, now + wait + _HOLD_S)
        elif not wait:
            wait = self._bulk_wait(now, share)
        if wait:
            return wait
        sent.append(now)
        if bulk:
            self._bulk.append(now)
        return 0.0

    def _bulk_wait(self, now: float, share: int) -> float:
        if self._waiting_until > now:
            return self._waiting_until - now
        if self._interactive_until <= now:
            return 0.0
        queue, window = self._bulk, self.window_s
        while queue and queue[0] <= now - window:
            queue.popleft()
        cap = bulk_cap(self.bulk_share, share)
        if len(queue) < cap:
            return 0.0
        if cap == 0:
            return self._interactive_until - now
        return queue[-cap] + window - now

    def note(self, now: float | None = None, *, bulk: bool = False) -> None:
        """A call left on a slot the shared budget granted: kept so that this process
        knows its own calls of the last window should the shared budget go away."""
        if self.limit is not None:
            at = self.clock.monotonic() if now is None else now
            self._sent.append(at)
            if bulk:
                self._bulk.append(at)

    def sent_since(self, moment: float) -> list[float]:
        """This process's calls of the window after ``moment``."""
        return [t for t in self._sent if t > moment]

    def untake(self, at: float) -> None:
        """Give back the slot taken at ``at`` (the shared budget refused the call)."""
        with contextlib.suppress(ValueError):
            self._sent.remove(at)
        with contextlib.suppress(ValueError):
            self._bulk.remove(at)

    def fall_back(self, shared: list[float], unseen: int = 0) -> None:
        """The shared budget is gone. ``shared``: when the calls of its window left, as
        last seen (a heartbeat ago at most); ``unseen``: calls it held beyond those, taken
        as leaving now. Until they have all left the window, this process adds at most its
        share of the room they leave, so replicas falling back together stay within the
        limit; then its share of the budget."""
        if self.limit is None:
            return
        now = self.clock.monotonic()
        self._transition = (now + self.window_s, now, sorted(shared), unseen)

    def _transition_wait(self, now: float, sent: deque[float]) -> float:
        assert self.limit is not None
        until, since, shared, unseen = self._transition
        start = now - self.window_s
        first = bisect_right(shared, start)  # the shared calls still in the window
        room = max(0, self.limit - (len(shared) - first) - unseen) // max(1, self.parts())
        if sum(1 for t in sent if t > since) < room:
            return 0.0
        # the next change: a shared call leaving the window, or the transition's end
        return (shared[first] + self.window_s - now) if first < len(shared) else until - now

    async def acquire(self) -> None:
        bulk, patience = BULK.get(), allowed_wait(self.max_wait_s)

        async def take() -> float:
            return self.take(bulk=bulk, max_wait_s=patience)

        await wait_for_slot(self.source, take, self.max_wait_s, self.clock)

    async def block(self, seconds: float) -> None:
        self._blocked_until = max(self._blocked_until, self.clock.monotonic() + seconds)


async def wait_for_slot(
    source: str,
    take: Callable[[], Awaitable[float]] | Callable[[], float],
    max_wait_s: float,
    clock: Clock,
) -> None:
    """Ask ``take`` for a slot until it grants one (0.0) or ``max_wait_s`` would pass;
    the time waited is observed by class."""
    max_wait_s = allowed_wait(max_wait_s)
    waited = 0.0
    try:
        while True:
            answer = take()
            wait = answer if isinstance(answer, float) else await answer
            if wait <= 0:
                return
            if waited + wait > max_wait_s:
                raise rate_limited(source, wait)
            await clock.sleep(wait)
            waited += wait
    finally:
        record_budget_wait(source, BULK.get(), waited)


# KEYS: the sorted set of departures (ms), the blocked-until key (ms), the sorted set of
# bulk departures, interactive traffic present until (ms), an interactive call waiting
# until (ms). ARGV: limit (0: none), window ms, a unique member, 1 for a bulk call, the
# bulk cap, how long an interactive call will wait (ms). Answers the ms to wait (> 0),
# or, granted, minus the calls now in the window (a replica that loses Redis knows how
# much of the window was spent). Times are Redis's own clock, so processes on machines
# whose clocks differ share one window. The same rules as LocalBudget.take.
_TAKE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local limit, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local bulk = ARGV[4] == '1'
local blocked = tonumber(redis.call('GET', KEYS[2]) or '0')
if blocked > now then return blocked - now end
if limit <= 0 then return 0 end
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now - window)
local n = redis.call('ZCARD', KEYS[1])
local wait = 0
if n >= limit then
  local kth = redis.call('ZRANGE', KEYS[1], n - limit, n - limit, 'WITHSCORES')
  wait = math.max(1, tonumber(kth[2]) + window - now)
end
if not bulk then
  redis.call('SET', KEYS[4], now + window, 'PX', window + 1000)
  if wait > 0 and wait <= tonumber(ARGV[6]) then
    local hold = now + wait + 50
    if hold > tonumber(redis.call('GET', KEYS[5]) or '0') then
      redis.call('SET', KEYS[5], hold, 'PX', wait + 1050)
    end
  end
  if wait > 0 then return wait end
else
  if wait > 0 then return wait end
  local waiting = tonumber(redis.call('GET', KEYS[5]) or '0')
  if waiting > now then return waiting - now end
  local present = tonumber(redis.call('GET', KEYS[4]) or '0')
  if present > now then
    local cap = tonumber(ARGV[5])
    redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now - window)
    local b = redis.call('ZCARD', KEYS[3])
    if b >= cap then
      if cap <= 0 then return present - now end
      local kth = redis.call('ZRANGE', KEYS[3], b - cap, b - cap, 'WITHSCORES')
      return math.max(1, tonumber(kth[2]) + window - now)
    end
  end
  redis.call('ZADD', KEYS[3], now, ARGV[3])
  redis.call('PEXPIRE', KEYS[3], window + 1000)
end
redis.call('ZADD', KEYS[1], now, ARGV[3])
redis.call('PEXPIRE', KEYS[1], window + 1000)
return -(n + 1)
"""

# KEYS: the sorted set of departures. ARGV: a unique prefix, the window (ms), then the
# ages (ms) of calls a replica sent while it could not reach Redis: put in the window.
_MERGE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
for i = 3, #ARGV do
  redis.call('ZADD', KEYS[1], 'NX', now - tonumber(ARGV[i]), ARGV[1] .. i)
end
redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[2]) + 1000)
return #ARGV - 2
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
    (rate_limit divided by the replicas last seen alive), sharing the room the shared
    window's calls leave as they leave (LocalBudget.fall_back). When Redis answers again
    (empty, perhaps), the calls sent meanwhile are put back into the shared window, and
    for a window a call needs both a shared slot and one of this process's share, since
    another replica may not have put its own back yet.
    """

    def __init__(self, connection: RedisConnection, key: str, local: LocalBudget) -> None:
        self.connection = connection
        self.local = local
        local.parts = lambda: connection.replicas
        prefix = connection.prefix
        self._keys = [
            f"{prefix}budget:{key}",
            f"{prefix}blocked:{key}",
            f"{prefix}budget-bulk:{key}",
            f"{prefix}interactive:{key}",
            f"{prefix}interactive-waiting:{key}",
        ]
        self._take = connection.client.register_script(_TAKE)
        self._block = connection.client.register_script(_BLOCK)
        self._merge = connection.client.register_script(_MERGE)
        self._lost_at: float | None = None
        self._merging: asyncio.Task[None] | None = None
        #: calls in the shared window when Redis last answered (a call or a heartbeat),
        #: and when (this process's clock)
        self.seen, self._seen_at = 0, 0.0
        #: when the shared window's calls left, as of the last heartbeat
        self._snapshot: list[float] = []
        self._both_until = 0.0
        connection.listen(self._changed)
        connection.count_window(self._keys[0], int(local.window_s * 1000), self._saw)

    def _saw(self, ages_ms: list[int]) -> None:
        now = self.local.clock.monotonic()
        self._snapshot = [now - age / 1000 for age in ages_ms]
        self.seen, self._seen_at = len(ages_ms), now

    def _counted(self, seen: int) -> None:
        self.seen, self._seen_at = seen, self.local.clock.monotonic()

    @property
    def max_wait_s(self) -> float:
        return self.local.max_wait_s

    def _changed(self, found: bool) -> None:
        now = self.local.clock.monotonic()
        if not found:
            # the calls granted since the heartbeat's snapshot, as of the last answer
            start = self._seen_at - self.local.window_s
            known = sum(1 for t in self._snapshot if t > start)
            self.local.fall_back(self._snapshot, max(0, self.seen - known))
            self._lost_at = now
        elif self._lost_at is not None:
            # the calls sent without Redis go into the shared window, so that replicas
            # that kept Redis meanwhile (or found it first) count them
            sent = [now - t for t in self.local.sent_since(self._lost_at)]
            self._lost_at = None
            if sent:
                self._merging = asyncio.get_running_loop().create_task(self._put_back(sent))
        self._both_until = now + self.local.window_s

    async def _put_back(self, ages_s: list[float]) -> None:
        window_ms = int(self.local.window_s * 1000)
        args: list[str | int] = [uuid.uuid4().hex + ":", window_ms]
        args += [int(age * 1000) for age in ages_s]

        async def merge() -> int:
            count: int = await self._merge(keys=self._keys[:1], args=args)
            return count

        await self.connection.run(merge, 0)

    async def acquire(self) -> None:
        local = self.local
        window_ms = int(local.window_s * 1000)
        bulk, patience = BULK.get(), allowed_wait(local.max_wait_s)
        args: list[int | str] = [
            local.limit or 0,
            window_ms,
            "",
            1 if bulk else 0,
            bulk_cap(local.bulk_share, local.limit or 0),
            int(patience * 1000),
        ]

        async def ask() -> int:
            args[2] = uuid.uuid4().hex
            answer: int = await self._take(keys=self._keys, args=args)
            return answer

        async def take() -> float:
            if not self.connection.available():
                return local.take(bulk=bulk, max_wait_s=patience)
            now = local.clock.monotonic()
            both = now < self._both_until
            if both and (wait := local.take(now, bulk=bulk, max_wait_s=patience)) > 0:
                return wait
            answer = await self.connection.run(ask, None)
            if answer is None:  # lost just now: this process's own budget
                return 0.0 if both else local.take(bulk=bulk, max_wait_s=patience)
            if answer > 0:
                if not bulk:  # a bulk call may be held back from a window with room
                    self._counted(local.limit or 0)
                if both:
                    local.untake(now)
                return int(answer) / 1000
            self._counted(-int(answer))
            if not both:
                local.note(now, bulk=bulk)
            return 0.0

        await wait_for_slot(local.source, take, local.max_wait_s, local.clock)

    async def block(self, seconds: float) -> None:
        await self.local.block(seconds)
        millis = max(1, int(seconds * 1000))

        async def tell() -> int:
            answer: int = await self._block(keys=self._keys[1:2], args=[millis])
            return answer

        await self.connection.run(tell, 0)


def rate_limited(source: str, wait_s: float) -> BackendRateLimited:
    return BackendRateLimited(
        source,
        f"the source's rate budget is spent; retry in {wait_s:.1f} s",
        retry_after=wait_s,
    )


def build_budget(
    connection: RedisConnection | None,
    *,
    source: str,
    namespace: str,
    limit: int | None,
    window_s: float,
    max_wait_s: float,
    clock: Clock,
    workers: int = 1,
    bulk_share: float = 0.5,
) -> Budget | None:
    """A source's budget: shared through ``connection`` when the cache is Redis, else this
    process's share (``limit // workers``: the ``gateway serve --workers`` processes do not
    share memory); None when the source has no rate limit."""
    if not limit:
        return None
    local = LocalBudget(
        source, limit, window_s, max_wait_s, clock, parts=lambda: workers, bulk_share=bulk_share
    )
    if connection is not None:
        return RedisBudget(connection, namespace, local)
    return local
