"""The Redis store: one cache (and rate budgets) shared by every worker and replica.

Redis being down never fails a request: every operation that cannot reach it is a miss,
and the connection (gateway/cache/connection.py) says so once, stops asking until Redis
answers again, and then uses it again without a restart.
"""

from __future__ import annotations

from gateway.cache.connection import RedisConnection, describe

__all__ = ["RedisStore", "describe"]


class RedisStore:
    """A :class:`~gateway.cache.store.Store` over the shared :class:`RedisConnection`."""

    backend = "redis"

    def __init__(self, connection: RedisConnection) -> None:
        #: the connection, for the other users of the same server (budgets, credentials)
        self.connection = connection
        self.prefix = connection.prefix
        self.client = connection.client

    @property
    def healthy(self) -> bool:
        return self.connection.healthy

    async def get(self, key: str) -> bytes | None:
        async def read() -> bytes | None:
            value = await self.client.get(self.prefix + key)
            return value if isinstance(value, bytes) else None

        return await self.connection.run(read, None)

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        millis = max(1, int(ttl_s * 1000))
        await self.connection.run(
            lambda: self.client.set(self.prefix + key, value, px=millis), None
        )

    async def aclose(self) -> None:
        await self.connection.aclose()
