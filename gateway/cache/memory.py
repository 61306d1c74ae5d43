"""The in-process store: a bounded least-recently-used map with per-entry expiry."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Callable


class MemoryStore:
    """At most ``max_entries`` entries; the least recently used go first, expired ones
    when they are next read. Per-entry expiry is why this is not ``functools.lru_cache``."""

    backend = "memory"
    healthy = True

    def __init__(self, max_entries: int, *, now: Callable[[], float] = time.monotonic) -> None:
        self.max_entries = max_entries
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
            del self._items[key]
            return None
        self._items.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl_s: float) -> None:
        if ttl_s <= 0:
            return
        self._items[key] = (self._now() + ttl_s, value)
        self._items.move_to_end(key)
        while len(self._items) > self.max_entries:
            self._items.popitem(last=False)

    async def aclose(self) -> None:
        self._items.clear()
