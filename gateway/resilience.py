"""Timeouts' companions: retries with backoff, Retry-After, a circuit breaker.

Everything that waits goes through a :class:`Clock`, so tests use a fake one and assert
the waits instead of sleeping through them.
"""

from __future__ import annotations

import asyncio
import enum
import random
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Protocol, TypeVar

from tenacity import AsyncRetrying, RetryCallState, retry_if_exception, stop_after_attempt

from gateway.errors import BackendError, BackendUnavailable
from gateway.telemetry import metrics

T = TypeVar("T")


class Clock(Protocol):
    def monotonic(self) -> float: ...

    def wall(self) -> datetime: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    def monotonic(self) -> float:
        return time.monotonic()

    def wall(self) -> datetime:
        return datetime.now(UTC)

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


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


class BreakerState(enum.Enum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Opens after ``threshold`` consecutive failed calls; after ``cooldown_s`` one trial
    call (half-open) decides whether it closes again or stays open."""

    def __init__(self, source: str, clock: Clock, *, threshold: int, cooldown_s: float) -> None:
        self.source = source
        self.clock = clock
        self.threshold = threshold
        self.cooldown_s = cooldown_s
        self.state = BreakerState.CLOSED
        self.failures = 0
        self._opened_at = 0.0
        self._trial_running = False

    def before_call(self) -> None:
        """Raises BACKEND_UNAVAILABLE at once while open; lets one trial through after."""
        if self.state is BreakerState.CLOSED:
            return
        if self.state is BreakerState.OPEN:
            remaining = self._opened_at + self.cooldown_s - self.clock.monotonic()
            if remaining > 0:
                metrics.record_refused(self.source, "circuit_open")
                raise BackendUnavailable(
                    self.source,
                    f"circuit open after repeated failures; retrying in {remaining:.0f} s",
                )
            self.state = BreakerState.HALF_OPEN
        if self._trial_running:
            metrics.record_refused(self.source, "circuit_open")
            raise BackendUnavailable(self.source, "circuit half-open; a trial call is running")
        self._trial_running = True

    def cancel_trial(self) -> None:
        """The call was never made (no budget for it): it decides nothing."""
        self._trial_running = False

    def record_success(self) -> None:
        if self.state is not BreakerState.CLOSED:
            metrics.set_circuit_open(self.source, False)
        self.state = BreakerState.CLOSED
        self.failures = 0
        self._trial_running = False

    def record_failure(self) -> None:
        self._trial_running = False
        self.failures += 1
        if self.state is BreakerState.HALF_OPEN or self.failures >= self.threshold:
            if self.state is BreakerState.CLOSED:
                metrics.set_circuit_open(self.source, True)
            self.state = BreakerState.OPEN
            self._opened_at = self.clock.monotonic()

    @property
    def closed(self) -> bool:
        return self.state is BreakerState.CLOSED
