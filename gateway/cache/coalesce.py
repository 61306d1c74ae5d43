"""Identical calls in flight at once are made once and shared by every caller.

The first caller (the leader) makes the call in its own task, so a lone call costs no
extra task; callers that arrive while it runs wait for its result. When the leader is
cancelled (its client went away), the call it was making is abandoned and the waiters
that are still wanted make it again, the first of them as the new leader: a call that
some request still wants is never lost to another request's disconnect.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

T = TypeVar("T")


class _Flight(Generic[T]):
    __slots__ = ("waiting",)

    def __init__(self) -> None:
        #: made when the first follower arrives: most calls have none
        self.waiting: asyncio.Future[T] | None = None


class Coalescer(Generic[T]):
    """Runs ``make()`` once per key among the callers that ask for it at the same time."""

    def __init__(self, *, enabled: bool = True) -> None:
        self.enabled = enabled
        self._flights: dict[Hashable, _Flight[T]] = {}
        #: calls made, and calls answered by another caller's call (for tests and metrics)
        self.made = 0
        self.shared = 0

    async def run(self, key: Hashable, make: Callable[[], Awaitable[T]]) -> T:
        if not self.enabled:
            return await make()
        while True:
            flight = self._flights.get(key)
            if flight is None:
                return await self._lead(key, make)
            if flight.waiting is None:
                flight.waiting = asyncio.get_running_loop().create_future()
            self.shared += 1
            try:
                return await asyncio.shield(flight.waiting)
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if flight.waiting.cancelled() and task is not None and not task.cancelling():
                    self.shared -= 1
                    continue  # the leader went away, this caller did not: call again
                raise

    async def _lead(self, key: Hashable, make: Callable[[], Awaitable[T]]) -> T:
        flight: _Flight[T] = _Flight()
        self._flights[key] = flight
        self.made += 1
        try:
            result = await make()
        except asyncio.CancelledError:
            self._settle(key, flight)
            if flight.waiting is not None:
                flight.waiting.cancel()
            raise
        except BaseException as exc:
            self._settle(key, flight)
            if flight.waiting is not None:
                flight.waiting.set_exception(exc)
            raise
        self._settle(key, flight)
        if flight.waiting is not None:
            flight.waiting.set_result(result)
        return result

    def _settle(self, key: Hashable, flight: _Flight[T]) -> None:
        if self._flights.get(key) is flight:
            del self._flights[key]
