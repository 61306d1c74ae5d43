"""Identical calls in flight at once are made once and shared by every caller.

The call runs in a task of its own, so a caller that goes away (its client disconnected)
takes nothing from the others: the call goes on while anyone still waits for it, and is
cancelled when the last of them leaves.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Hashable
from typing import Any, Generic, TypeVar

T = TypeVar("T")


class _Flight(Generic[T]):
    __slots__ = ("task", "waiters")

    def __init__(self, task: asyncio.Task[T]) -> None:
        self.task = task
        self.waiters = 0


class Coalescer(Generic[T]):
    """Runs ``make()`` once per key among the callers that ask for it at the same time."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._flights: dict[Hashable, _Flight[T]] = {}

    async def run(self, key: Hashable, make: Callable[[], Coroutine[Any, Any, T]]) -> T:
        if not self.enabled:
            return await make()
        flight = self._flights.get(key)
        if flight is None:
            flight = _Flight(asyncio.get_running_loop().create_task(make()))
            self._flights[key] = flight
            flight.task.add_done_callback(lambda _: self._settle(key, flight))
        flight.waiters += 1
        try:
            return await asyncio.shield(flight.task)
        finally:
            flight.waiters -= 1
            if flight.waiters == 0 and not flight.task.done():
                flight.task.cancel()  # nobody wants it any more

    def _settle(self, key: Hashable, flight: _Flight[T]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
