"""Tokens shared through Redis: replicas renew once between them and use the same token.

Keys, under the store's prefix and the source's credential namespace (the source's name
and a digest: nothing personal), each value sealed with ``[cache] encryption_key``:

- ``access``: the access token, expiring (PX) when every replica should stop sending it;
- ``refresh``: the rotated refresh token, its ``origin`` and ``generation``
  (token_file.py), as JSON; it expires after REFRESH_TTL_S without a rotation;
- ``lock``: redis-py's lock, held by the one replica renewing (not sealed: it holds a
  random lock token, nothing of anyone's).

A replica whose token ran out or was refused first looks for a newer one in ``access``;
only without one does it take the lock, look again (the replica it waited for may have
renewed), and renew: the rotated refresh token is written before the access token, and
both before the lock is let go. Redis that cannot be reached: a grant that does not
rotate (Adobe) is asked directly; a rotating one (HighLevel) is not renewed at all, since
a replica renewing alone would leave the others a spent refresh token in Redis.

The newest rotated refresh token is never only in Redis. Each replica keeps the newest it
has seen (its own rotations, and the record it reads each time it looks for a shared
access token) in memory, and in ``token_store`` when that is set. A Redis that lost the
record (restarted empty, evicted, expired) gets it written back; one that holds an older
generation (restored from an old dump) is overwritten; and a replica never presents a
refresh token older than the newest it has seen, so it never presents a spent one that it
knows to be spent. (What it cannot know: a rotation by another replica whose record Redis
lost before this replica read it. Every replica reads the record whenever it takes up a
shared access token, so that needs a replica renewing on a 401 alone and Redis losing
its record within that token's lifetime.)
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from redis.exceptions import LockError, RedisError

from gateway.credentials.base import CredentialFailed, Grant
from gateway.credentials.keeper import Lease, usable_for
from gateway.credentials.token_file import Stored, TokenFile, origin_of, pick
from gateway.state.connection import RedisConnection
from gateway.state.sealing import Sealer

log = logging.getLogger("gateway.credentials")

#: How long a refresh token record stays in Redis without a rotation: HighLevel's own
#: life of an unused refresh token (a year), past which presenting it could not work
#: anyway. Every rotation and every write-back sets it again.
REFRESH_TTL_S = 365 * 86_400

#: What _read_refresh says of a record: absent, one that does not open, or the record.
_ABSENT = "absent"
_SEALED_ELSEWHERE = "unopened"


class RedisKeeper:
    """A :class:`~gateway.credentials.keeper.Keeper` over the cache's Redis connection."""

    def __init__(
        self,
        source: str,
        grant: Grant,
        connection: RedisConnection,
        namespace: str,
        *,
        sealer: Sealer,
        remember: Callable[[str], None],
        configured_refresh: str | None = None,
        timeout_s: float,
        token_file: TokenFile | None = None,
    ) -> None:
        self.source = source
        self.grant = grant
        self.connection = connection
        #: seals the tokens kept in Redis (the cache's sealer: gateway/state/sealing.py)
        self.sealer = sealer
        self._remember = remember
        self._configured = configured_refresh
        self._origin = origin_of(configured_refresh) if configured_refresh else ""
        base = f"{connection.prefix}cred:{namespace}"
        self._access, self._refresh, self._lock = base + "access", base + "refresh", base + "lock"
        #: a renewal takes at most the token endpoint's timeout; the lock outlives it, and
        #: a waiter outlives the lock (so a replica that died holding it delays, not blocks)
        self._hold_s = timeout_s + 5.0
        self._wait_s = self._hold_s + 1.0
        #: ``token_store``: this replica's copy of the newest, read once at first use
        self._file = token_file
        self._file_key = namespace
        self._file_read = token_file is None
        #: the newest rotated refresh token this replica has seen (of its configured one)
        self._newest: Stored | None = None

    async def lease(self, refused: str | None) -> Lease:
        shared = await self._shared(refused)
        if shared is not None:
            return shared
        if not self.connection.available():
            return await self._alone()
        lock = self.connection.client.lock(
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
        """The token another replica (or this one) put in Redis, unless it is ``refused``.
        Learns the refresh token record on the way, and writes it back if Redis lost it."""
        rotates = self.grant.rotates and self._configured is not None

        async def read() -> tuple[bytes | None, int, bytes | None]:
            async with self.connection.client.pipeline(transaction=True) as pipe:
                pipe.get(self._access)
                pipe.pttl(self._access)
                if rotates:
                    pipe.get(self._refresh)
                found = await pipe.execute()
            return found[0], int(found[1]), found[2] if rotates else None

        reply = await self.connection.run(read, None)
        if reply is None:
            return None
        value, pttl, refresh = reply
        if rotates:
            await self._learn(refresh)
        if value is None or pttl <= 0:
            return None
        opened = self.sealer.open(self._access, value)
        if opened is None:
            return None  # sealed with a key this replica does not have: renewed instead
        token = opened.decode()
        if token == refused:
            return None
        self._remember(token)
        return Lease(token, pttl / 1000)

    async def _renew(self) -> Lease:
        presented = await self._refresh_token() if self.grant.rotates else None
        issued = await self.grant.request(presented.refresh_token if presented else None)
        self._remember(issued.access_token)
        if issued.refresh_token is not None and presented is not None:
            await self._keep(Stored(self._origin, issued.refresh_token, presented.generation + 1))
        usable_s = usable_for(issued.expires_in)
        millis = int(usable_s * 1000)
        if millis > 0:
            sealed = self.sealer.seal(self._access, issued.access_token.encode())
            await self.connection.run(
                lambda: self.connection.client.set(self._access, sealed, px=millis), None
            )
        log.info(
            "source %s: access token renewed at %s for every replica (lives %.0f s)",
            self.source,
            self.grant.url,
            issued.expires_in,
        )
        return Lease(issued.access_token, usable_s)

    async def _refresh_token(self) -> Stored:
        """The refresh token to present (under the lock): the newest of Redis's record and
        what this replica has seen; Redis gets the newest back when it has less."""
        if self._configured is None:
            raise CredentialFailed(self.source, "no refresh token", code=None, retriable=False)

        async def read() -> tuple[bool, bytes | None]:
            value = await self.connection.client.get(self._refresh)
            return True, value if isinstance(value, bytes) else None

        unreached: tuple[bool, bytes | None] = (False, None)
        reached, value = await self.connection.run(read, unreached)
        if not reached:
            raise self._unreachable()
        found = self._open_refresh(value)
        if found == _SEALED_ELSEWHERE:
            # Possibly newer than anything here (a replica with another key rotated it):
            # presenting an older one would spend nothing but could be refused; say so.
            log.error(
                "source %s: the refresh token in Redis does not open with this replica's "
                "encryption_key (replicas with different keys?); not renewing",
                self.source,
            )
            raise CredentialFailed(
                self.source,
                "the refresh token in Redis is sealed with another encryption key",
                code=None,
                retriable=False,
            )
        stored = found if isinstance(found, Stored) else None
        newest = self._seen()
        if stored is not None and stored.origin == self._origin and not newest.newer_than(stored):
            self._adopt(stored)
            return stored
        if newest.generation > 0:
            # Redis lost the record, or holds an older one (restored from an old dump)
            log.warning(
                "source %s: Redis %s the rotated refresh token; writing back the newest "
                "this replica has seen",
                self.source,
                "had lost" if stored is None else "held an older",
            )
            await self._write(newest)
            return newest
        if stored is not None:
            pick(stored, self._configured, self.source)  # says why the configured one goes
        return newest  # the configured token, generation 0

    def _seen(self) -> Stored:
        """The newest refresh token this replica knows: memory, else ``token_store``,
        else the configured one (generation 0)."""
        if not self._file_read and self._file is not None:
            self._file_read = True
            try:
                stored = self._file.read(self._file_key)
            except (OSError, ValueError) as exc:
                log.error(
                    "source %s: token_store %s cannot be read (%s); going by Redis",
                    self.source,
                    self._file.path,
                    type(exc).__name__,
                )
                stored = None
            if stored is not None and stored.origin == self._origin:
                self._adopt(self._counted(stored), keep_file=False)
        if self._newest is not None:
            return self._newest
        assert self._configured is not None
        return Stored(self._origin, self._configured, 0)

    def _counted(self, stored: Stored) -> Stored:
        """A record written before generations were counted says 0 even when rotated."""
        if stored.generation == 0 and stored.refresh_token != self._configured:
            return Stored(stored.origin, stored.refresh_token, 1)
        return stored

    def _open_refresh(self, value: bytes | None) -> Stored | str:
        if value is None:
            return _ABSENT
        opened = self.sealer.open(self._refresh, value)
        if opened is None and value.startswith(b"{"):
            opened = value  # written in clear by a version before sealing: taken once
        if opened is None:
            return _SEALED_ELSEWHERE
        try:
            return self._counted(Stored.decode(opened))
        except ValueError:
            log.error("source %s: the refresh token in Redis cannot be read", self.source)
            raise CredentialFailed(
                self.source, "the token store cannot be read", code=None, retriable=False
            ) from None

    async def _learn(self, value: bytes | None) -> None:
        """Takes in the record another replica wrote; gives Redis back one it lost."""
        try:
            found = self._open_refresh(value)
        except CredentialFailed:
            return  # said when a renewal needs it
        if isinstance(found, Stored):
            if found.origin == self._origin and found.newer_than(self._seen()):
                self._adopt(found)
            return
        if found == _ABSENT and self._seen().generation > 0:
            newest = self._seen()
            sealed = self.sealer.seal(self._refresh, newest.encode())
            millis = REFRESH_TTL_S * 1000

            # NX: a replica renewing now (under the lock) may have just written a newer one
            async def write_back() -> bool:
                return bool(
                    await self.connection.client.set(self._refresh, sealed, px=millis, nx=True)
                )

            if await self.connection.run(write_back, False):
                log.warning(
                    "source %s: Redis had lost the rotated refresh token; written back",
                    self.source,
                )

    def _adopt(self, stored: Stored, *, keep_file: bool = True) -> None:
        """``stored`` becomes the newest this replica has seen (and its token_store's)."""
        self._newest = stored
        self._remember(stored.refresh_token)
        if keep_file and self._file is not None:
            try:
                self._file.write(self._file_key, stored)
            except OSError as exc:
                log.error(
                    "source %s: the rotated refresh token cannot be written to %s (%s)",
                    self.source,
                    self._file.path,
                    exc.strerror or type(exc).__name__,
                )

    async def _keep(self, stored: Stored) -> None:
        self._adopt(stored)
        await self._write(stored)

    async def _write(self, stored: Stored) -> None:
        sealed = self.sealer.seal(self._refresh, stored.encode())
        millis = REFRESH_TTL_S * 1000

        async def write() -> bool:
            await self.connection.client.set(self._refresh, sealed, px=millis)
            return True

        if await self.connection.run(write, False):
            return
        # The presented token is spent: this replica holds the only valid one (in memory,
        # and token_store when set) until Redis takes it, before the next renewal.
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
