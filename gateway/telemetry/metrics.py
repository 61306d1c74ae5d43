"""The Prometheus metrics DESIGN.md names ("Operating it"), and /metrics.

Names and labels are public: dashboards and alerts depend on them. With
``PROMETHEUS_MULTIPROC_DIR`` set (``gateway serve --workers N`` sets it through
:func:`prepare_multiprocess` before it starts the workers), every process writes its
values to files there and /metrics sums them, whichever worker answers the scrape.
prometheus-client picks its value store when it is first imported, so the variable must
be set before a worker imports this module.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any, Final

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
    multiprocess,
)

MULTIPROC_ENV: Final = "PROMETHEUS_MULTIPROC_DIR"
CONTENT_TYPE: Final = CONTENT_TYPE_LATEST

#: Distinct operation names counted by name; later new names count as ``other`` so a
#: client inventing names cannot grow the metric without bound.
MAX_OPERATIONS: Final = 200
ANONYMOUS: Final = "anonymous"
OTHER: Final = "other"

REQUEST_OUTCOMES: Final = ("ok", "partial", "error")
BACKEND_OUTCOMES: Final = ("ok", "not_found", "error", "timeout", "rate_limited", "circuit_open")
CACHE_RESULTS: Final = ("hit", "miss", "stale")

# A ``*_created`` gauge beside every series doubles what is scraped and says nothing a
# dashboard here uses.
disable_created_metrics()  # type: ignore[no-untyped-call]

# The gateway's own registry: the process-wide default one would also collect whatever
# else a library registers there.
REGISTRY: Final = CollectorRegistry()

REQUESTS: Final = Counter(
    "gateway_requests_total",
    "GraphQL requests by operation name and outcome (ok, partial, error).",
    ["operation", "outcome"],
    registry=REGISTRY,
)
REQUEST_DURATION: Final = Histogram(
    "gateway_request_duration_seconds",
    "Time from a GraphQL request's arrival to its response's end.",
    registry=REGISTRY,
)
BACKEND_REQUESTS: Final = Counter(
    "gateway_backend_requests_total",
    "HTTP calls to backends (each retry counts), by source, kind and outcome.",
    ["source", "kind", "outcome"],
    registry=REGISTRY,
)
BACKEND_DURATION: Final = Histogram(
    "gateway_backend_request_duration_seconds",
    "Time of one HTTP call to a backend, by source and kind.",
    ["source", "kind"],
    registry=REGISTRY,
)
CIRCUIT_OPEN: Final = Gauge(
    "gateway_backend_circuit_open",
    "1 while a source's circuit breaker is open (or half-open), else 0.",
    ["source"],
    registry=REGISTRY,
    # any worker's open breaker shows; a dead worker's value is dropped
    multiprocess_mode="livemax",
)
CACHE_REQUESTS: Final = Counter(
    "gateway_cache_requests_total",
    "Cache look-ups by source and result (hit, miss, stale).",
    ["source", "result"],
    registry=REGISTRY,
)

_operations: set[str] = set()
_kinds: dict[str, str] = {}
# Children by label values: prometheus-client's ``labels()`` costs more than the count
# itself (it validates and locks), and these are counted on every request.
_request_counts: dict[tuple[str, str], Any] = {}


def operation_label(name: str | None) -> str:
    """The ``operation`` label for an operation name (None: ``anonymous``)."""
    if name is None:
        return ANONYMOUS
    if name in _operations:
        return name
    if len(_operations) >= MAX_OPERATIONS:
        return OTHER
    _operations.add(name)
    return name


def record_request(operation: str | None, outcome: str, seconds: float) -> None:
    """One GraphQL request answered."""
    key = (operation_label(operation), outcome)
    counter = _request_counts.get(key)
    if counter is None:
        counter = _request_counts[key] = REQUESTS.labels(*key)
    counter.inc()
    REQUEST_DURATION.observe(seconds)


class BackendMetrics:
    """One source's backend counts, its series looked up once."""

    def __init__(self, source: str, kind: str) -> None:
        self.source, self.kind = source, kind
        self._duration = BACKEND_DURATION.labels(source, kind)
        self._counts: dict[str, Any] = {}

    def record(self, outcome: str, seconds: float) -> None:
        """One backend HTTP call that was made."""
        counter = self._counts.get(outcome)
        if counter is None:
            counter = self._counts[outcome] = BACKEND_REQUESTS.labels(
                self.source, self.kind, outcome
            )
        counter.inc()
        self._duration.observe(seconds)


def register_source(source: str, kind: str) -> BackendMetrics:
    """Called once per configured source: its kind for later counts, its breaker at 0."""
    _kinds[source] = kind
    CIRCUIT_OPEN.labels(source).set(0)
    return BackendMetrics(source, kind)


def record_backend(source: str, kind: str, outcome: str, seconds: float | None) -> None:
    """One backend call; ``seconds`` None when no HTTP call was made (circuit open)."""
    BACKEND_REQUESTS.labels(source, kind, outcome).inc()
    if seconds is not None:
        BACKEND_DURATION.labels(source, kind).observe(seconds)


def record_refused(source: str, outcome: str) -> None:
    """A backend call the gateway refused itself (``circuit_open``; ``rate_limited`` when
    a rate budget is spent): counted, with no duration."""
    record_backend(source, _kinds.get(source, "unknown"), outcome, None)


def set_circuit_open(source: str, is_open: bool) -> None:
    """The breaker of ``source`` changed state."""
    CIRCUIT_OPEN.labels(source).set(1 if is_open else 0)


def record_cache(source: str, result: str) -> None:
    """One cache look-up for ``source``: ``hit``, ``miss`` or ``stale``."""
    CACHE_REQUESTS.labels(source, result).inc()


def render() -> bytes:
    """The Prometheus text exposition: this process's values, or with
    ``PROMETHEUS_MULTIPROC_DIR`` set, every worker's summed."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return generate_latest(registry)
    return generate_latest(REGISTRY)


def prepare_multiprocess(directory: str | Path) -> Path:
    """Make ``directory`` the (empty) multiprocess store and export it to the environment.

    Call before the worker processes start (they inherit the variable and import this
    module afresh). Files left by an earlier run would be summed in, so they are removed.
    """
    path = Path(directory)
    if path.exists():
        shutil.rmtree(path)
    path.mkdir(parents=True)
    os.environ[MULTIPROC_ENV] = str(path)
    return path


def worker_exited(pid: int) -> None:
    """Drop the live gauges of a worker that has exited (its counters stay summed)."""
    if os.environ.get(MULTIPROC_ENV):
        multiprocess.mark_process_dead(pid)  # type: ignore[no-untyped-call]
