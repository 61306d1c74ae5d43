"""One source's renewing credential: one renewal at a time, everyone else waits for it.

The token in hand is returned at once while it is usable (no await on the hot path).
When it is missing, about to run out, or was refused, the first caller starts the
renewal as a task of its own and every caller after it, until it lands, waits on the same
task: exactly one call to the keeper, and one outcome (token or failure) for all of them.
A task rather than a lock held by the first caller: a caller that goes away (its client
disconnected) never abandons a renewal halfway, when a rotated refresh token may already
be spent at the token endpoint while its successor is still on the way.
"""

from __future__ import annotations

import asyncio
import contextlib

from gateway.clock import Clock
from gateway.credentials.base import CredentialFailed
from gateway.credentials.keeper import Keeper

#: After a refusal (the endpoint says these credentials are wrong: a person must fix
#: them), callers get the same answer this long without the endpoint being asked again.
REFUSAL_HOLD_S = 5.0


class RenewingCredential:
    """A :class:`~gateway.credentials.base.Credential` over a keeper."""

    def __init__(self, keeper: Keeper, clock: Clock) -> None:
        self.keeper = keeper
        self.source = keeper.source
        self._clock = clock
        self._token: str | None = None
        self._usable_until = 0.0
        self._renewal: asyncio.Task[str] | None = None
        self._refusal: CredentialFailed | None = None
        self._refused_until = 0.0

    async def token(self) -> str:
        token = self._token
        if token is not None and self._renewal is None and self._usable():
            return token
        return await self._renewed(token)

    async def renew(self, refused: str) -> str:
        return await self._renewed(refused)

    async def _renewed(self, stale: str | None) -> str:
        task = self._renewal
        if task is None:
            token = self._token
            if token is not None and token != stale and self._usable():
                return token  # renewed by another caller since this one's token went stale
            if self._refusal is not None and self._clock.monotonic() < self._refused_until:
                raise self._refusal.again()
            task = self._renewal = asyncio.create_task(self._renew(stale))
            task.add_done_callback(self._landed)
        return await asyncio.shield(task)

    def _usable(self) -> bool:
        return self._clock.monotonic() < self._usable_until

    async def _renew(self, stale: str | None) -> str:
        started = self._clock.monotonic()
        try:
            lease = await self.keeper.lease(stale)
        except CredentialFailed as exc:
            if not exc.retriable:
                self._refusal, self._refused_until = exc, started + REFUSAL_HOLD_S
            raise
        self._refusal = None
        self._token, self._usable_until = lease.token, started + lease.usable_s
        return lease.token

    def _landed(self, task: asyncio.Task[str]) -> None:
        if self._renewal is task:
            self._renewal = None
        if not task.cancelled():
            task.exception()  # retrieved: its waiters may all have gone away

    async def aclose(self) -> None:
        task = self._renewal
        if task is not None:
            # Let a renewal in flight land, so a rotated refresh token is stored.
            with contextlib.suppress(Exception):
                await asyncio.wait_for(asyncio.shield(task), timeout=15)
        await self.keeper.grant.aclose()
