"""Retries with backoff, and the Retry-After a backend asks for.

Every wait goes through a :class:`~gateway.clock.Clock`, so tests assert the waits.
"""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from gateway.clock import Clock
from gateway.errors import BackendError

T = TypeVar("T")


def parse_retry_after(value: str | None, now: datetime) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        moment = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return max(0.0, (moment - now).total_seconds())


class RetryPolicy:
    """Exponential backoff with full jitter; a backend's Retry-After wins, up to a cap."""

    def __init__(
        self,
        retries: int,
        clock: Clock,
        *,
        base_s: float = 0.2,
        max_backoff_s: float = 5.0,
        retry_after_cap_s: float = 30.0,
        rng: random.Random | None = None,
    ) -> None:
        self.retries = retries
        self.clock = clock
        self.base_s = base_s
        self.max_backoff_s = max_backoff_s
        self.retry_after_cap_s = retry_after_cap_s
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not secrecy

    def delay(self, attempt: int, error: BaseException | None) -> float:
        """The wait before attempt ``attempt + 1`` (``attempt`` counts from 1)."""
        if isinstance(error, BackendError) and error.retry_after is not None:
            return min(error.retry_after, self.retry_after_cap_s)
        ceiling = min(self.max_backoff_s, self.base_s * 2 ** (attempt - 1))
        return self._rng.uniform(0, ceiling)

    def _wait(self, state: RetryCallState, offset: int = 0) -> float:
        error = state.outcome.exception() if state.outcome else None
        return self.delay(state.attempt_number + offset, error)

    async def run(self, attempt: Callable[[], Awaitable[T]]) -> T:
        """Call ``attempt`` until it succeeds, fails for good, or the attempts run out."""
        try:
            # Most calls succeed at once: only a failed one pays for the retry machinery.
            return await attempt()
        except BackendError as exc:
            if not (exc.retriable and self.retries):
                raise
            first = exc
        await self.clock.sleep(self.delay(1, first))
        retrying = AsyncRetrying(
            sleep=self.clock.sleep,
            stop=stop_after_attempt(self.retries),
            # tenacity counts from this second attempt; the policy counts from the first
            wait=lambda state: self._wait(state, offset=1),
            retry=retry_if_exception(lambda e: isinstance(e, BackendError) and e.retriable),
            reraise=True,
        )
        return await retrying(attempt)
