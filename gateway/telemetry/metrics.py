"""The Prometheus metrics docs/operations.md names, and /metrics.

Names and labels are public: dashboards and alerts depend on them.

Two stores behind the same functions, chosen once at import:

- one process (the default): plain Python counts and bucket arrays, exposed by a
  collector at scrape time. Counting is then a dict update and an array index, no lock
  and no call into prometheus-client per request: its ``inc`` and ``observe`` take a lock
  and three calls each, on every request (measured in bench/README.md).
- ``PROMETHEUS_MULTIPROC_DIR`` set (``gateway serve --workers N`` sets it through
  :func:`prepare_multiprocess` before it starts the workers): prometheus-client's metrics,
  which write to files there; /metrics sums every worker's, whichever worker answers.
  prometheus-client picks its value store when first imported, so the variable must be
  set before a worker imports this module.
"""

from __future__ import annotations

import os
import shutil
from bisect import bisect_left
from collections.abc import Iterator
from pathlib import Path
from typing import Final

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
from prometheus_client.core import CounterMetricFamily, HistogramMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

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
CLIENT_OUTCOMES: Final = ("ok", "limited")

#: prometheus-client's default buckets, the same in both stores
BUCKETS: Final = tuple(Histogram.DEFAULT_BUCKETS)

_HELP = {
    "requests": "GraphQL requests (/graphql and /export) by operation name and outcome "
    "(ok, partial, error).",
    "request_duration": "Time from a GraphQL request's arrival to its response's end "
    "(/graphql; not /export).",
    "backend": "HTTP calls to backends (each retry counts), by source, kind and outcome.",
    "backend_duration": "Time of one HTTP call to a backend, by source and kind.",
    "circuit": "1 while a source's circuit breaker is open (or half-open), else 0.",
    "cache": "Cache look-ups by source and result (hit, miss, stale).",
    "client": "Requests by client (an API key's name, jwt, anonymous) and outcome (ok, "
    "limited: refused by the client's quota).",
}

MULTIPROCESS: Final = bool(os.environ.get(MULTIPROC_ENV))

# A ``*_created`` gauge beside every series doubles what is scraped and says nothing a
# dashboard here uses.
disable_created_metrics()  # type: ignore[no-untyped-call]

#: The gateway's own registry (the process-wide default one would also collect whatever
#: else a library registers there).
REGISTRY: Final = CollectorRegistry()

CIRCUIT_OPEN: Final = Gauge(
    "gateway_backend_circuit_open",
    _HELP["circuit"],
    ["source"],
    registry=REGISTRY,
    # any worker's open breaker shows; a dead worker's value is dropped
    multiprocess_mode="livemax",
)


_LE: Final[dict[float, str]] = {b: floatToGoString(b) for b in BUCKETS}  # type: ignore[no-untyped-call]


class _Buckets:
    """A histogram's counts per bucket (not cumulative) and its sum."""

    __slots__ = ("counts", "sum")

    def __init__(self) -> None:
        self.counts = [0] * len(BUCKETS)
        self.sum = 0.0

    def observe(self, seconds: float) -> None:
        # the first bound >= seconds (le is inclusive); the last bound is +Inf
        self.counts[bisect_left(BUCKETS, seconds)] += 1
        self.sum += seconds

    def cumulative(self) -> list[tuple[str, float]]:
        out, total = [], 0
        for bound, count in zip(BUCKETS, self.counts, strict=True):
            total += count
            out.append((_LE[bound], float(total)))
        return out


class BackendMetrics:
    """One source's backend counts (shared by every exchange of that source and kind)."""

    __slots__ = ("_duration", "_shared", "counts", "duration", "kind", "source")

    def __init__(self, source: str, kind: str) -> None:
        self.source, self.kind = source, kind
        self.counts: dict[str, int] = {}
        self.duration = _Buckets()
        self._shared: dict[str, Counter] = {}
        self._duration = _BACKEND_DURATION.labels(source, kind) if MULTIPROCESS else None

    def record(self, outcome: str, seconds: float | None) -> None:
        """One backend call; ``seconds`` None when none was made (refused by the gateway)."""
        if self._duration is not None:
            counter = self._shared.get(outcome)
            if counter is None:
                counter = self._shared[outcome] = _BACKEND.labels(self.source, self.kind, outcome)
            counter.inc()
            if seconds is not None:
                self._duration.observe(seconds)
            return
        counts = self.counts
        counts[outcome] = counts.get(outcome, 0) + 1
        if seconds is not None:  # _Buckets.observe, inline: this runs on every backend call
            duration = self.duration
            duration.counts[bisect_left(BUCKETS, seconds)] += 1
            duration.sum += seconds


_operations: set[str] = set()
_kinds: dict[str, str] = {}
_backends: dict[tuple[str, str], BackendMetrics] = {}
_requests: dict[tuple[str, str], int] = {}
_request_duration = _Buckets()
_cache: dict[tuple[str, str], int] = {}
_clients: dict[tuple[str, str], int] = {}

if MULTIPROCESS:
    # Not registered: the multiprocess collector reads what they write to files.
    _REQUESTS = Counter("gateway_requests_total", _HELP["requests"], ["operation", "outcome"])
    _REQUEST_DURATION = Histogram("gateway_request_duration_seconds", _HELP["request_duration"])
    _BACKEND = Counter(
        "gateway_backend_requests_total", _HELP["backend"], ["source", "kind", "outcome"]
    )
    _BACKEND_DURATION = Histogram(
        "gateway_backend_request_duration_seconds", _HELP["backend_duration"], ["source", "kind"]
    )
    _CACHE = Counter("gateway_cache_requests_total", _HELP["cache"], ["source", "result"])
    _CLIENTS = Counter("gateway_client_requests_total", _HELP["client"], ["client", "outcome"])


class _LocalCollector(Collector):
    """Exposes the one-process store at scrape time."""

    def collect(self) -> Iterator[Metric]:
        requests = CounterMetricFamily(
            "gateway_requests", _HELP["requests"], labels=["operation", "outcome"]
        )
        for labels, count in list(_requests.items()):
            requests.add_metric(list(labels), count)
        yield requests
        duration = HistogramMetricFamily(
            "gateway_request_duration_seconds", _HELP["request_duration"]
        )
        duration.add_metric([], _request_duration.cumulative(), _request_duration.sum)
        yield duration
        backend = CounterMetricFamily(
            "gateway_backend_requests", _HELP["backend"], labels=["source", "kind", "outcome"]
        )
        backend_duration = HistogramMetricFamily(
            "gateway_backend_request_duration_seconds",
            _HELP["backend_duration"],
            labels=["source", "kind"],
        )
        for (source, kind), m in list(_backends.items()):
            for outcome, count in list(m.counts.items()):
                backend.add_metric([source, kind, outcome], count)
            backend_duration.add_metric([source, kind], m.duration.cumulative(), m.duration.sum)
        yield backend
        yield backend_duration
        cache = CounterMetricFamily(
            "gateway_cache_requests", _HELP["cache"], labels=["source", "result"]
        )
        for labels, count in list(_cache.items()):
            cache.add_metric(list(labels), count)
        yield cache
        clients = CounterMetricFamily(
            "gateway_client_requests", _HELP["client"], labels=["client", "outcome"]
        )
        for labels, count in list(_clients.items()):
            clients.add_metric(list(labels), count)
        yield clients


if not MULTIPROCESS:
    REGISTRY.register(_LocalCollector())


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


def record_request(operation: str | None, outcome: str, seconds: float | None) -> None:
    """One GraphQL request answered; ``seconds`` None leaves it out of the duration
    histogram (an export, which streams for minutes)."""
    if operation is None:
        label = ANONYMOUS
    elif operation in _operations:
        label = operation
    else:
        label = operation_label(operation)
    key = (label, outcome)
    if MULTIPROCESS:
        _REQUESTS.labels(*key).inc()
        if seconds is not None:
            _REQUEST_DURATION.observe(seconds)
        return
    _requests[key] = _requests.get(key, 0) + 1
    if seconds is None:
        return
    _request_duration.counts[bisect_left(BUCKETS, seconds)] += 1  # observe(), inline
    _request_duration.sum += seconds


def register_source(source: str, kind: str) -> BackendMetrics:
    """Called once per configured source: its kind for later counts, its breaker at 0."""
    _kinds[source] = kind
    CIRCUIT_OPEN.labels(source).set(0)
    return backend_metrics(source, kind)


def backend_metrics(source: str, kind: str) -> BackendMetrics:
    """The counts of one source and kind (made on first use)."""
    metrics = _backends.get((source, kind))
    if metrics is None:
        metrics = _backends[(source, kind)] = BackendMetrics(source, kind)
    return metrics


def record_backend(source: str, kind: str, outcome: str, seconds: float | None) -> None:
    """One backend call; ``seconds`` None when no HTTP call was made (circuit open)."""
    backend_metrics(source, kind).record(outcome, seconds)


def record_refused(source: str, outcome: str) -> None:
    """A backend call the gateway refused itself (``circuit_open``; ``rate_limited`` when
    a rate budget is spent): counted, with no duration."""
    record_backend(source, _kinds.get(source, "unknown"), outcome, None)


def set_circuit_open(source: str, is_open: bool) -> None:
    """The breaker of ``source`` changed state."""
    CIRCUIT_OPEN.labels(source).set(1 if is_open else 0)


def record_cache(source: str, result: str) -> None:
    """One cache look-up for ``source``: ``hit``, ``miss`` or ``stale``."""
    if MULTIPROCESS:
        _CACHE.labels(source, result).inc()
        return
    key = (source, result)
    _cache[key] = _cache.get(key, 0) + 1


def record_client(client: str, outcome: str) -> None:
    """One request of ``client`` (a key's name, ``jwt``, ``anonymous``): ``ok`` or
    ``limited`` (refused by its quota)."""
    if MULTIPROCESS:
        _CLIENTS.labels(client, outcome).inc()
        return
    key = (client, outcome)
    _clients[key] = _clients.get(key, 0) + 1


def render() -> bytes:
    """The Prometheus text exposition: this process's values, or in multiprocess mode
    every worker's summed."""
    if MULTIPROCESS:
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


def drop_dead_workers() -> list[int]:
    """Drop the live gauges of every worker in the multiprocess store that is no longer
    running, and return their pids. Called as each worker starts: uvicorn starts one in
    place of each that died, so a dead worker's open circuit stops showing as open."""
    directory = os.environ.get(MULTIPROC_ENV)
    if not directory:
        return []
    pids = set()
    for path in Path(directory).glob("gauge_live*_*.db"):
        number = path.stem.rpartition("_")[2]
        if number.isdigit():
            pids.add(int(number))
    dead = sorted(pid for pid in pids if not _running(pid))
    for pid in dead:
        worker_exited(pid)
    return dead


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)  # no signal sent: only whether the process exists
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # another user's process
    return True
