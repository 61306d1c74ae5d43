"""The cache's one interface: bytes by key with a time to live, in-process or in Redis.

What the HTTP seam stores is a backend's answer as it came (status and body bytes) with
the moment it was stored, so a hit is read by the same exact JSON decoder and normalizer
as a fresh answer, and nothing of any caller's answer shape is ever cached.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from gateway.state.connection import RedisConnection
    from gateway.state.sealing import Sealer

_MAGIC = b"GWC1"
_HEADER = struct.Struct("!4sdH")  # magic, stored at (Unix seconds), HTTP status


class Store(Protocol):
    """A shared map of bytes with per-entry expiry; failures are misses, never errors."""

    #: "memory" or "redis", as configured
    backend: str

    @property
    def healthy(self) -> bool:
        """False while the store cannot be reached (answers then come without it)."""
        ...

    @property
    def connection(self) -> RedisConnection | None:
        """The Redis connection under the store, for the other users of the same server
        (rate budgets, credentials); None for the memory store."""
        ...

    @property
    def sealer(self) -> Sealer | None:
        """What seals the values kept in Redis (the store's and the credentials'); None
        for the memory store, whose values never leave the process."""
        ...

    async def get(self, key: str) -> bytes | None: ...

    async def set(self, key: str, value: bytes, ttl_s: float) -> None: ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True, slots=True)
class Entry:
    """A backend answer as stored: when, with which status, and its body."""

    stored_at: float
    status: int
    content: bytes

    def encode(self) -> bytes:
        return _HEADER.pack(_MAGIC, self.stored_at, self.status) + self.content

    @staticmethod
    def decode(data: bytes) -> Entry:
        """Raises ValueError for bytes that are not an entry (another writer, a bad copy)."""
        if len(data) < _HEADER.size:
            raise ValueError("shorter than an entry's header")
        magic, stored_at, status = _HEADER.unpack_from(data)
        if magic != _MAGIC:
            raise ValueError("not a gateway cache entry")
        return Entry(stored_at, status, data[_HEADER.size :])
