"""A circuit breaker per source: a backend that keeps failing is not called for a while."""

from __future__ import annotations

import enum

from gateway.clock import Clock
from gateway.errors import BackendUnavailable
from gateway.telemetry import metrics


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
