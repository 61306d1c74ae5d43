"""A source's renewing credential, kept where the ``[cache]`` backend says."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from gateway.cache.policy import namespace
from gateway.cache.store import Store
from gateway.clock import Clock
from gateway.credentials.base import Grant
from gateway.credentials.keeper import Keeper, LocalKeeper, token_file
from gateway.credentials.redis_keeper import RedisKeeper
from gateway.credentials.renewing import RenewingCredential


@dataclass(frozen=True)
class TokenGrant:
    """What a kind's token endpoint needs: the grant, whose client it is, and for a
    rotating refresh token the configured one and where rotated ones go without Redis."""

    grant: Grant
    client_id: str
    refresh_token: str | None = None
    token_store: str | None = None


def renewing(
    source: str,
    grant: Grant,
    *,
    client_id: str,
    cache: Store | None,
    clock: Clock,
    remember: Callable[[str], None],
    timeout_s: float,
    configured_refresh: str | None = None,
    token_store: str | None = None,
) -> RenewingCredential:
    """Shared through Redis when the cache is Redis (``token_store``, when set, then
    holds this replica's copy of the newest refresh token); else this process's, with a
    rotated refresh token in ``token_store``."""
    # whose tokens they are: two configurations sharing one Redis or one file never
    # present each other's
    space = namespace(source, "token", grant.url, [client_id])
    keeper: Keeper
    connection = cache.connection if cache is not None else None
    sealer = cache.sealer if cache is not None else None
    if connection is not None and sealer is not None:
        keeper = RedisKeeper(
            source,
            grant,
            connection,
            space,
            sealer=sealer,
            remember=remember,
            configured_refresh=configured_refresh,
            timeout_s=timeout_s,
            token_file=token_file(token_store),
        )
    else:
        keeper = LocalKeeper(
            source,
            grant,
            remember=remember,
            configured_refresh=configured_refresh,
            token_file=token_file(token_store),
            key=space,
        )
    return RenewingCredential(keeper, clock)
