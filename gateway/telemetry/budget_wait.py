"""``gateway_backend_budget_wait_seconds{source,class}``: how long calls waited for a rate
budget's slot, by class (interactive, bulk); in both of metrics.py's stores."""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterator
from typing import Final

from prometheus_client import Histogram
from prometheus_client.core import HistogramMetricFamily, Metric
from prometheus_client.registry import Collector

from gateway.telemetry.metrics import BUCKETS, MULTIPROCESS, REGISTRY, _Buckets

NAME: Final = "gateway_backend_budget_wait_seconds"
HELP: Final = (
    "Time a backend call waited for a slot of its source's rate budget (0 when one was "
    "free), by source and class (interactive: /graphql; bulk: /export and bulk keys)."
)

_waits: dict[tuple[str, str], _Buckets] = {}

if MULTIPROCESS:  # written to the multiprocess files; metrics.render() sums them
    _WAITS = Histogram(NAME, HELP, ["source", "class"])


def record_budget_wait(source: str, bulk: bool, seconds: float) -> None:
    """One call of ``source`` got (or gave up on) its slot after ``seconds``."""
    klass = "bulk" if bulk else "interactive"
    if MULTIPROCESS:
        _WAITS.labels(source, klass).observe(seconds)
        return
    buckets = _waits.get((source, klass))
    if buckets is None:
        buckets = _waits[(source, klass)] = _Buckets()
    buckets.counts[bisect_left(BUCKETS, seconds)] += 1
    buckets.sum += seconds


class _Collector(Collector):
    def collect(self) -> Iterator[Metric]:
        family = HistogramMetricFamily(NAME, HELP, labels=["source", "class"])
        for labels, buckets in list(_waits.items()):
            family.add_metric(list(labels), buckets.cumulative(), buckets.sum)
        yield family


if not MULTIPROCESS:
    REGISTRY.register(_Collector())
