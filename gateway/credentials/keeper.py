"""Where a source's tokens live between renewals: this process (and ``token_store`` for a
rotated refresh token), or Redis (redis_keeper.py) so replicas renew once and share.

A keeper is asked for a lease when the token in hand is missing, about to run out or
refused; one renewal at a time per source is renewing.py's job, not the keeper's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from gateway.credentials.base import CredentialFailed, Grant
from gateway.credentials.token_file import Stored, TokenFile, origin_of, pick

log = logging.getLogger("gateway.credentials")

#: A token is renewed this share of its life before it runs out, at most MARGIN_MAX_S
#: before: time for a call in flight to arrive, and for clocks that differ.
MARGIN_SHARE = 0.1
MARGIN_MAX_S = 60.0


def usable_for(expires_in: float) -> float:
    """Seconds a token that lives ``expires_in`` is sent before it is renewed."""
    return expires_in - min(MARGIN_MAX_S, expires_in * MARGIN_SHARE)


@dataclass(frozen=True, slots=True)
class Lease:
    """An access token and how many seconds from now it may be sent."""

    token: str
    usable_s: float

    def __repr__(self) -> str:
        return f"Lease(usable_s={self.usable_s:.1f})"


class Keeper(Protocol):
    source: str
    grant: Grant

    async def lease(self, refused: str | None) -> Lease:
        """A token other than ``refused``: one already shared, else a renewal's. Raises
        CredentialFailed."""
        ...


class LocalKeeper:
    """Tokens of this process alone; a rotated refresh token kept in ``token_file``
    before the access token that came with it is used."""

    def __init__(
        self,
        source: str,
        grant: Grant,
        *,
        remember: Callable[[str], None],
        configured_refresh: str | None = None,
        token_file: TokenFile | None = None,
        key: str = "",
    ) -> None:
        self.source = source
        self.grant = grant
        self._remember = remember
        self._configured = configured_refresh
        self._file = token_file
        self._key = key
        #: the refresh token to present next, once one was read or rotated
        self._refresh: str | None = None
        #: rotations since the configured token (Stored.generation)
        self._generation = 0

    async def lease(self, refused: str | None) -> Lease:
        issued = await self.grant.request(self._refresh_token() if self.grant.rotates else None)
        self._remember(issued.access_token)
        if issued.refresh_token is not None and self.grant.rotates:
            self._keep(issued.refresh_token)
        log.info(
            "source %s: access token renewed at %s (lives %.0f s)",
            self.source,
            self.grant.url,
            issued.expires_in,
        )
        return Lease(issued.access_token, usable_for(issued.expires_in))

    def _refresh_token(self) -> str | None:
        if self._refresh is not None or self._configured is None:
            return self._refresh
        stored = None
        if self._file is not None:
            try:
                stored = self._file.read(self._key)
            except (OSError, ValueError) as exc:
                log.error(
                    "source %s: token_store %s cannot be read (%s)",
                    self.source,
                    self._file.path,
                    type(exc).__name__,
                )
                raise CredentialFailed(
                    self.source, "the token store cannot be read", code=None, retriable=False
                ) from None
        self._refresh = pick(stored, self._configured, self.source)
        if stored is not None and self._refresh == stored.refresh_token:
            self._generation = stored.generation
        self._remember(self._refresh)
        return self._refresh

    def _keep(self, refresh: str) -> None:
        self._refresh = refresh
        self._generation += 1
        self._remember(refresh)
        if self._file is None or self._configured is None:
            return
        stored = Stored(origin_of(self._configured), refresh, self._generation)
        try:
            self._file.write(self._key, stored)
        except OSError as exc:
            # The presented token is spent: this process holds the only valid one now.
            log.error(
                "source %s: the rotated refresh token cannot be written to %s (%s); a "
                "restart before this is fixed would present a spent one",
                self.source,
                self._file.path,
                exc.strerror or type(exc).__name__,
            )


def token_file(path: str | None) -> TokenFile | None:
    return TokenFile(Path(path)) if path else None
