"""One quota per client for every process sharing the Redis server.

The GCRA step of :mod:`gateway.quota.rate` as one atomic Lua script on Redis's own clock
(so replicas whose clocks differ share one window); one key per client, which expires
when the client's allowance is whole again. While Redis cannot be reached this process's
own table answers: a request is never refused or failed because Redis is down.
"""

from __future__ import annotations

from gateway.clock import Clock
from gateway.quota.rate import WINDOW_US, LocalQuota, interval_us
from gateway.state.connection import RedisConnection

# KEYS: the client's TAT (µs). ARGV: interval µs, window µs, and optionally now (µs; a
# test's clock), else Redis's TIME. Answers 0 (admitted) or the µs to wait.
_TAKE = """
local now
if ARGV[3] then
  now = tonumber(ARGV[3])
else
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000000 + tonumber(t[2])
end
local interval, window = tonumber(ARGV[1]), tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then tat = now end
local after = tat + interval
if after - now > window then return after - window - now end
redis.call('SET', KEYS[1], string.format('%.0f', after), 'PX', math.ceil((after - now) / 1000))
return 0
"""


class RedisQuota:
    """Client quotas in Redis, with ``local`` standing in while Redis is away."""

    def __init__(
        self, connection: RedisConnection, local: LocalQuota, clock: Clock | None = None
    ) -> None:
        self.store = connection
        self.local = local
        #: None: Redis's own clock (a test passes its own)
        self.clock = clock
        self._prefix = f"{connection.prefix}quota:"
        self._take = connection.client.register_script(_TAKE)

    async def take(self, identity: str, per_minute: int) -> float:
        """0.0 when the request is admitted (and counted), else the seconds to wait."""
        args = [interval_us(per_minute), WINDOW_US]
        if self.clock is not None:
            args.append(self.local.now_us())

        async def ask() -> int:
            answer: int = await self._take(keys=[self._prefix + identity], args=args)
            return answer

        answer = await self.store.run(ask, None)
        if answer is None:  # Redis cannot be reached: this process's own table
            return self.local.take(identity, per_minute)
        return int(answer) / 1_000_000
