"""aiodataloader's DataLoader on its internals (its queue and dispatch functions): the
one place the gateway reaches into them (gateway.compat.check checks their shape)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, TypeVar

from aiodataloader import DataLoader, Loader, dispatch_queue, dispatch_queue_batch

K = TypeVar("K", bound=Hashable)
T = TypeVar("T")


class BatchLoader(DataLoader[K, T]):
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
        batch_load_fn: Callable[[list[K]], Coroutine[Any, Any, list[T]]],
        *,
        batch: bool,
        cache: bool,
    ) -> None:
        # aiodataloader's __init__ with the same attributes, less its checks of what is
        # given (a coroutine function: gateway.loaders makes one) that inspect the function
        # for every loader of every request (bench/README.md).
        self.loop = asyncio.get_running_loop()
        self.batch_load_fn = batch_load_fn
        self.batch, self.cache = batch, cache
        self.get_cache_key = _same
        self._cache = {}
        self._queue: list[Loader] = []

    def do_resolve_reject(self, key: K, future: asyncio.Future[T]) -> None:
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


def _same(key: Any) -> Any:
    return key
