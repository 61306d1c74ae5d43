"""Tokens shared through Redis: replicas renew once between them and use the same token.

Keys, under the store's prefix and the source's credential namespace:

- ``access``: the access token, expiring (PX) when every replica should stop sending it;
- ``refresh``: the rotated refresh token and its ``origin`` (token_file.py), as JSON;
- ``lock``: redis-py's lock, held by the one replica renewing.

A replica whose token ran out or was refused first looks for a newer one in ``access``;
only without one does it take the lock, look again (the replica it waited for may have
renewed), and renew: the rotated refresh token is written before the access token, and
both before the lock is let go. Redis that cannot be reached: a grant that does not
rotate (Adobe) is asked directly; a rotating one (HighLevel) is not renewed at all, since
a replica renewing alone would leave the others a spent refresh token in Redis.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from redis.exceptions import LockError, RedisError

from gateway.cache.connection import RedisConnection
from gateway.credentials.base import CredentialFailed, Grant
from gateway.credentials.keeper import Lease, usable_for
from gateway.credentials.token_file import Stored, origin_of, pick

log = logging.getLogger("gateway.credentials")


class RedisKeeper:
    """A :class:`~gateway.credentials.keeper.Keeper` over the cache's Redis connection."""

    def __init__(
        self,
        source: str,
        grant: Grant,
        store: RedisConnection,
        namespace: str,
        *,
        remember: Callable[[str], None],
        configured_refresh: str | None = None,
        timeout_s: float,
    ) -> None:
        self.source = source
        self.grant = grant
        self.store = store
        self._remember = remember
        self._configured = configured_refresh
        base = f"{store.prefix}cred:{namespace}"
        self._access, self._refresh, self._lock = base + "access", base + "refresh", base + "lock"
        #: a renewal takes at most the token endpoint's timeout; the lock outlives it, and
        #: a waiter outlives the lock (so a replica that died holding it delays, not blocks)
        self._hold_s = timeout_s + 5.0
        self._wait_s = self._hold_s + 1.0
        #: a rotated refresh token Redis could not take yet (this replica's alone)
        self._pending: Stored | None = None

    async def lease(self, refused: str | None) -> Lease:
        shared = await self._shared(refused)
        if shared is not None:
            return shared
        if not self.store.available():
            return await self._alone()
        lock = self.store.client.lock(
            self._lock, timeout=self._hold_s, blocking_timeout=self._wait_s, thread_local=False
        )
        try:
            acquired = await lock.acquire()
        except (RedisError, OSError):
            return await self._alone()
        if not acquired:
            shared = await self._shared(refused)
            if shared is not None:
                return shared
            raise CredentialFailed(
                self.source, "another replica holds the renewal lock", code=None, retriable=True
            )
        try:
            return await self._shared(refused) or await self._renew()
        finally:
            try:
                await lock.release()
            except (LockError, RedisError, OSError):
                log.warning("source %s: the renewal lock had expired before release", self.source)

    async def _shared(self, refused: str | None) -> Lease | None:
        """The token another replica (or this one) put in Redis, unless it is ``refused``."""

        async def read() -> tuple[bytes | None, int]:
            async with self.store.client.pipeline(transaction=True) as pipe:
                pipe.get(self._access)
                pipe.pttl(self._access)
                value, pttl = await pipe.execute()
            return value, int(pttl)

        absent: tuple[bytes | None, int] = (None, -2)
        value, pttl = await self.store.run(read, absent)
        if value is None or pttl <= 0:
            return None
        token = value.decode()
        if token == refused:
            return None
        self._remember(token)
        return Lease(token, pttl / 1000)

    async def _renew(self) -> Lease:
        refresh = await self._refresh_token() if self.grant.rotates else None
        issued = await self.grant.request(refresh)
        self._remember(issued.access_token)
        if issued.refresh_token is not None and self.grant.rotates:
            await self._keep(issued.refresh_token)
        usable_s = usable_for(issued.expires_in)
        millis = int(usable_s * 1000)
        if millis > 0:
            await self.store.run(
                lambda: self.store.client.set(self._access, issued.access_token, px=millis), None
            )
        log.info(
            "source %s: access token renewed at %s for every replica (lives %.0f s)",
            self.source,
            self.grant.url,
            issued.expires_in,
        )
        return Lease(issued.access_token, usable_s)

    async def _refresh_token(self) -> str:
        if self._pending is not None:
            await self._write(self._pending)
            if self._pending is not None:
                return self._pending.refresh_token
        if self._configured is None:
            raise CredentialFailed(self.source, "no refresh token", code=None, retriable=False)

        async def read() -> tuple[bool, bytes | None]:
            value = await self.store.client.get(self._refresh)
            return True, value if isinstance(value, bytes) else None

        unreached: tuple[bool, bytes | None] = (False, None)
        reached, value = await self.store.run(read, unreached)
        if not reached:
            raise self._unreachable()
        stored = None
        if value is not None:
            try:
                stored = Stored.decode(value)
            except ValueError:
                log.error("source %s: the refresh token in Redis cannot be read", self.source)
                raise CredentialFailed(
                    self.source, "the token store cannot be read", code=None, retriable=False
                ) from None
        refresh = pick(stored, self._configured, self.source)
        self._remember(refresh)
        return refresh

    async def _keep(self, refresh: str) -> None:
        assert self._configured is not None
        self._remember(refresh)
        await self._write(Stored(origin_of(self._configured), refresh))

    async def _write(self, stored: Stored) -> None:
        async def write() -> bool:
            await self.store.client.set(self._refresh, stored.encode())
            return True

        if await self.store.run(write, False):
            self._pending = None
            return
        # The presented token is spent: this replica holds the only valid one until Redis
        # takes it (tried again before the next renewal).
        self._pending = stored
        log.error(
            "source %s: the rotated refresh token cannot be written to Redis; this "
            "replica keeps it and writes it before its next renewal",
            self.source,
        )

    async def _alone(self) -> Lease:
        if self.grant.rotates:
            raise self._unreachable()
        issued = await self.grant.request(None)
        self._remember(issued.access_token)
        return Lease(issued.access_token, usable_for(issued.expires_in))

    def _unreachable(self) -> CredentialFailed:
        return CredentialFailed(
            self.source,
            "Redis, where the rotating refresh token is kept, cannot be reached",
            code=None,
            retriable=True,
        )
