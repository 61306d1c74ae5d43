"""Per-request DataLoaders keyed by (source, id).

A batch is grouped by source and each source is asked once for all its keys; a key's
failure rejects only that key. Loaders are built per request (aiodataloader binds the
running loop) and die with it, so nothing leaks between callers.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Coroutine, Mapping, Sequence
from functools import cached_property
from typing import Any, TypeVar

from aiodataloader import DataLoader

from gateway.compat import fast_paths
from gateway.compat.dataloader import BatchLoader
from gateway.concurrency import gather
from gateway.domain import Customer, Order
from gateway.errors import NotFound
from gateway.sources.base import Fetched, Source

T = TypeVar("T")
Key = tuple[str, str]


def _batcher(
    sources: Mapping[str, Source],
    fetch: Callable[[Source, Sequence[str]], Awaitable[list[Fetched[T]]]],
    calls: list[list[Key]],
) -> Callable[[list[Key]], Coroutine[Any, Any, list[Any]]]:
    async def load(keys: list[Key]) -> list[Any]:
        calls.append(list(keys))
        by_source: dict[str, list[str]] = {}
        for source, source_id in keys:
            by_source.setdefault(source, []).append(source_id)
        found: dict[Key, Any] = {}

        async def one(name: str, ids: list[str]) -> None:
            source = sources.get(name)
            if source is None:
                for i in ids:
                    found[(name, i)] = NotFound(f"no source named '{name}'")
                return
            for i, value in zip(ids, await fetch(source, ids), strict=True):
                found[(name, i)] = value

        await gather(*(one(n, ids) for n, ids in by_source.items()))
        return [found[k] for k in keys]

    return load


class Loaders:
    """The loaders of one request. ``calls`` records each batch's keys (for tests)."""

    def __init__(self, sources: Mapping[str, Source], *, batch: bool = True) -> None:
        # batch=False is the naive gateway of the benchmark: no batching, no dedupe.
        self._sources, self._batch = sources, batch
        self._running: set[asyncio.Task[None]] = set()
        self.order_calls: list[list[Key]] = []
        self.customer_calls: list[list[Key]] = []

    @property
    def caching(self) -> bool:
        """Whether a key loaded once is answered from memory for the rest of the request."""
        return self._batch

    # Made on first use: many queries need only one of the two.
    @cached_property
    def orders(self) -> DataLoader[Key, Order | None]:
        return self._loader(lambda s, ids: s.get_orders(ids), self.order_calls)

    @cached_property
    def customers(self) -> DataLoader[Key, Customer | None]:
        return self._loader(lambda s, ids: s.get_customers(ids), self.customer_calls)

    def _loader(
        self,
        fetch: Callable[[Source, Sequence[str]], Awaitable[list[Fetched[T]]]],
        calls: list[list[Key]],
    ) -> DataLoader[Key, T | None]:
        batch = _batcher(self._sources, fetch, calls)
        if not fast_paths():  # aiodataloader's own (gateway.compat)
            return DataLoader(batch, batch=self._batch, cache=self._batch)
        loader: BatchLoader[Key, T | None] = BatchLoader(
            batch, batch=self._batch, cache=self._batch
        )
        loader.running = self._running
        return loader

    def cancel(self) -> None:
        """Cancel every batch in flight (the request was abandoned)."""
        for task in list(self._running):
            task.cancel()

    def remember_order(self, order: Order) -> None:
        """A complete order from a list answer: later loads of it cost no call."""
        if order.present is None:
            self.orders.prime((order.source, order.source_id), order)

    def remember_customer(self, customer: Customer) -> None:
        if customer.present is None:
            self.customers.prime((customer.source, customer.source_id), customer)
