"""The in-process store: a bounded least-recently-used map with per-entry expiry."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from gateway.state.connection import RedisConnection
    from gateway.state.sealing import Sealer

#: What the memory store holds at most, whatever the entry count: entries are backend
#: pages and documents of any size, so a count alone does not bound memory.
MAX_BYTES = 256 * 1024 * 1024


class MemoryStore:
    """At most ``max_entries`` entries and ``max_bytes`` of values; the least recently used
    go first, expired ones when they are next read; a value over a sixteenth of
    ``max_bytes`` is not kept. Per-entry expiry is why this is not ``functools.lru_cache``."""

    backend = "memory"
    healthy = True
    connection: RedisConnection | None = None
    sealer: Sealer | None = None

    def __init__(
        self,
        max_entries: int,
        *,
        max_bytes: int = MAX_BYTES,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self.size = 0
        self._now = now
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()

    def __len__(self) -> int:
        return len(self._items)

    async def get(self, key: str) -> bytes | None:
        item = self._items.get(key)
        if item is None:
            return None
        expires, value = item
        if expires <= self._now():
            self._drop(key)
            return None
        self._items.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        if ttl_s <= 0 or len(value) > self.max_bytes // 16:
            return
        self._drop(key)
        self._items[key] = (self._now() + ttl_s, value)
        self.size += len(value)
        while len(self._items) > self.max_entries or self.size > self.max_bytes:
            _, (_, old) = self._items.popitem(last=False)
            self.size -= len(old)

    def _drop(self, key: str) -> None:
        item = self._items.pop(key, None)
        if item is not None:
            self.size -= len(item[1])

    async def aclose(self) -> None:
        self._items.clear()
        self.size = 0
