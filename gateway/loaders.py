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

from aiodataloader import DataLoader, Loader, dispatch_queue, dispatch_queue_batch

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


class BatchLoader(DataLoader[Key, T]):
    """aiodataloader's DataLoader, two event-loop iterations quicker to call the backend.

    aiodataloader takes the queue two iterations after the first load and starts the
    batch in a third task one iteration later, so loads spread over three iterations
    share a batch. Here the batch task is made at the first load and takes the queue on
    its first step: loads made in the same iteration share it (graphql-core resolves a
    list's items and a selection's sibling fields in one iteration), and every batch
    reaches its backend sooner, through one task instead of three. A wider window would
    buy nothing here: every backend is asked one object per call, and the same key is
    answered from the loader's cache however the batches fall.
    """

    #: the batches in flight, so a request whose client went away can cancel them
    running: set[asyncio.Task[None]]

    def __init__(
        self,
        batch_load_fn: Callable[[list[Key]], Coroutine[Any, Any, list[T]]],
        *,
        batch: bool,
        cache: bool,
    ) -> None:
        # aiodataloader's __init__ with the same attributes, less its checks of what is
        # given (a coroutine function: ``_batcher`` makes one) that inspect the function
        # for every loader of every request (~1.5% of one order's CPU).
        self.loop = asyncio.get_running_loop()
        self.batch_load_fn = batch_load_fn
        self.batch, self.cache = batch, cache
        self.get_cache_key = _same
        self._cache = {}
        self._queue: list[Loader] = []

    def do_resolve_reject(self, key: Key, future: asyncio.Future[T]) -> None:
        self._queue.append(Loader(key=key, future=future))
        if len(self._queue) == 1:
            if self.batch:
                task = self.loop.create_task(self._dispatch())
                self.running.add(task)
                task.add_done_callback(self.running.discard)
            else:
                dispatch_queue(self)

    async def _dispatch(self) -> None:
        queue, self._queue = self._queue, []
        await dispatch_queue_batch(self, queue)


def _same(key: Key) -> Key:
    return key


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
    ) -> BatchLoader[T | None]:
        batch = _batcher(self._sources, fetch, calls)
        loader: BatchLoader[T | None] = BatchLoader(batch, batch=self._batch, cache=self._batch)
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
