"""The Redis store: one cache (and rate budgets) shared by every worker and replica.

Every value it stores is sealed (sealing.py); one that does not open is a miss.
Redis being down never fails a request: every operation that cannot reach it is a miss,
and the connection (gateway/state/connection.py) says so once, stops asking until Redis
answers again, and then uses it again without a restart.
"""

from __future__ import annotations

import logging

from gateway.state.connection import RedisConnection, describe
from gateway.state.sealing import Sealer

__all__ = ["RedisStore", "describe"]

log = logging.getLogger("gateway.cache")


class RedisStore:
    """A :class:`~gateway.cache.store.Store` over the shared :class:`RedisConnection`."""

    backend = "redis"

    def __init__(self, connection: RedisConnection, *, sealer: Sealer) -> None:
        #: the connection, for the other users of the same server (budgets, credentials)
        self.connection = connection
        self.prefix = connection.prefix
        self.client = connection.client
        #: what seals every value this store and the credentials keep (sealing.py)
        self.sealer = sealer
        self._unopened = False

    @property
    def healthy(self) -> bool:
        return self.connection.healthy

    async def get(self, key: str) -> bytes | None:
        name = self.prefix + key

        async def read() -> bytes | None:
            value = await self.client.get(name)
            return value if isinstance(value, bytes) else None

        sealed = await self.connection.run(read, None)
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
        await self.connection.run(lambda: self.client.set(name, sealed, px=millis), None)

    async def aclose(self) -> None:
        await self.connection.aclose()
