"""A source's cache policy, and the store it uses, built from config."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from gateway.cache.memory import MemoryStore
from gateway.cache.redis import RedisStore
from gateway.cache.store import Store
from gateway.clock import Clock, SystemClock
from gateway.state.connection import RedisConnection
from gateway.state.sealing import Sealer

if TYPE_CHECKING:
    from gateway.config import CacheSettings


@dataclass(frozen=True)
class CachePolicy:
    """How long a source's answers are fresh, and how long after that they may still
    answer for a backend that fails (``stale_s``)."""

    store: Store
    ttl_s: float
    stale_s: float
    #: keys of this source start with it: its name and a digest of where it points, so
    #: two configurations sharing one Redis never read each other's answers
    namespace: str

    #: the wall clock, in Unix seconds (entries carry when they were stored)
    now: Callable[[], float] = time.time

    @property
    def keep_s(self) -> float:
        return self.ttl_s + self.stale_s

    def age(self, stored_at: float) -> float:
        return max(0.0, self.now() - stored_at)

    def key(self, path: str, query: str) -> str:
        """A call's key: its path and query hashed. Keys are listed in clear by anyone who
        can read the store, and both may hold what a client typed (an id that is an email
        or a national code, an email to look up); values are sealed, names cannot be."""
        called = f"{path}?{query}".encode()
        return self.namespace + hashlib.sha256(called).hexdigest()[:32]


def open_store(
    backend: str,
    url: str | None,
    max_entries: int,
    *,
    sealer: Sealer | None = None,
    workers: int = 1,
    clock: Clock | None = None,
) -> Store:
    """The configured store (``[cache]``); a Redis store connects on first use (its
    connection's ``start`` registers the replica). ``workers``: the processes of this
    `gateway serve`, each a replica of its own; ``clock`` times the memory store's entries
    (Redis expires its own).

    Only Redis seals what it holds: the memory store is this process's own memory, where
    the answers it decodes are in clear anyway (and the key with them)."""
    if backend == "redis" and url:
        if sealer is None:
            raise ValueError('backend = "redis" needs an encryption key')
        return RedisStore(RedisConnection(url, replicas_at_least=workers), sealer=sealer)
    if clock is None or isinstance(clock, SystemClock):
        return MemoryStore(max_entries)
    return MemoryStore(max_entries, now=clock.monotonic)


def wall_seconds(clock: Clock) -> Callable[[], float]:
    """Unix seconds by ``clock`` (:attr:`CachePolicy.now`): ``time.time`` itself for the
    system clock, which a cache hit asks on every call."""
    if isinstance(clock, SystemClock):
        return time.time
    return lambda: clock.wall().timestamp()


def sealer_for(settings: CacheSettings) -> Sealer | None:
    """The ``[cache]`` encryption keys, ready to seal; None without a key."""
    if not settings.encryption_key:
        return None
    return Sealer.configured(settings.encryption_key, settings.encryption_key_previous)


def namespace(source: str, kind: str, base_url: str, identity: list[str]) -> str:
    """Keys of a source: its name, then a digest of where it points and whose account it
    reads (its credentials), so that configurations sharing one Redis never read each
    other's answers."""
    seen = "\x00".join([kind, base_url, *sorted(identity)])
    return f"{source}:{hashlib.sha256(seen.encode()).hexdigest()[:16]}:"
