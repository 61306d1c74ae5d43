"""The Redis store: one cache (and rate budgets) shared by every worker and replica.

Every value it stores is sealed (sealing.py); one that does not open is a miss.
Redis being down never fails a request: every operation that cannot reach it is a miss,
the log says so once, and for a second after a failure Redis is not even asked (so a
dead server costs no connect timeout per backend call). It is asked again after that,
so a Redis that comes back is used without a restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar
from urllib.parse import urlsplit

import redis.asyncio as aioredis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError

from gateway.cache.sealing import Sealer

log = logging.getLogger("gateway.cache")

T = TypeVar("T")

#: After a failure Redis is left alone this long before it is tried again.
RETRY_AFTER_S = 1.0


def describe(url: str) -> str:
    """The URL without its credentials, for log lines."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    return f"{parts.scheme}://{host}:{parts.port or 6379}{parts.path}"


class RedisStore:
    """A :class:`~gateway.cache.store.Store` over redis-py's asyncio client."""

    backend = "redis"

    def __init__(
        self,
        url: str,
        *,
        sealer: Sealer,
        prefix: str = "gw:",
        timeout_s: float = 0.5,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.prefix = prefix
        #: what seals every value this store and the credentials keep (sealing.py)
        self.sealer = sealer
        #: the client, for the other users of the same server (rate budgets, credentials)
        self.client: aioredis.Redis = aioredis.Redis.from_url(
            url,
            socket_connect_timeout=timeout_s,
            socket_timeout=timeout_s,
            retry=Retry(NoBackoff(), 0),
        )
        self._where = describe(url)
        self._now = now
        self._healthy = True
        self._quiet_until = 0.0
        self._unopened = False

    @property
    def healthy(self) -> bool:
        return self._healthy

    def available(self) -> bool:
        """Whether to ask Redis now: always while healthy, once a second while not."""
        return self._healthy or self._now() >= self._quiet_until

    async def run(self, operation: Callable[[], Awaitable[T]], fallback: T) -> T:
        """``operation`` against Redis, or ``fallback`` when Redis cannot answer."""
        if not self.available():
            return fallback
        try:
            result = await operation()
        except (RedisError, OSError) as exc:
            self._quiet_until = self._now() + RETRY_AFTER_S
            if self._healthy:
                self._healthy = False
                log.error(
                    "cache: Redis at %s cannot be reached (%s); answering without it",
                    self._where,
                    type(exc).__name__,
                )
            return fallback
        if not self._healthy:
            self._healthy = True
            log.warning("cache: Redis at %s answers again; using it", self._where)
        return result

    async def get(self, key: str) -> bytes | None:
        name = self.prefix + key

        async def read() -> bytes | None:
            value = await self.client.get(name)
            return value if isinstance(value, bytes) else None

        sealed = await self.run(read, None)
        if sealed is None:
            return None
        value = self.sealer.open(name, sealed)
        if value is None and not self._unopened:
            self._unopened = True  # said once: a wrong key would say it for every read
            log.warning(
                "cache: a value in Redis does not open with encryption_key (sealed with "
                "another key, from before sealing, or changed); read as a miss"
            )
        return value

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        millis = max(1, int(ttl_s * 1000))
        name = self.prefix + key
        sealed = self.sealer.seal(name, value)
        await self.run(lambda: self.client.set(name, sealed, px=millis), None)

    async def aclose(self) -> None:
        await self.client.aclose()
