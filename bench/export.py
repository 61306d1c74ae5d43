"""Export benchmark: 20,000 orders through /export, against paging /graphql with first: 500.

    .venv/bin/python bench/export.py        # ~2 minutes; results in bench/README.md

Starts the simulators with ``--orders N`` per kind (one process, pinned to core 1) at 0
and then 20 ms per response, and ``gateway serve`` (pinned to core 0) over them. For each
latency: one export streamed as CSV (rows/s, time to first byte, the gateway's RSS after
2,000 and after 20,000 rows), then the same selection paged through /graphql. Traffic
stays on 127.0.0.1; every loop ends with the list or after a timeout.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import BIN, ROOT, free_port, gateway, pinned, process, rss_mib

sys.path.insert(0, str(ROOT))
from gateway.export_cli import RowCounter

ORDERS_PER_KIND = int(os.environ.get("BENCH_EXPORT_ORDERS", "4000"))  # x5 kinds = 20,000
LATENCIES = [int(x) for x in os.environ.get("BENCH_LATENCIES_MS", "0,20").split(",")]
#: Totals and customer emails: what every source's list page carries, plus each page's
#: distinct customers (one call each). Adding ``number`` costs one call per HighLevel order
#: (its list lacks it), for /export and /graphql alike.
SELECTION = os.environ.get(
    "BENCH_EXPORT_SELECTION",
    "id source sourceId status createdAt price { total { amount currency } } customer { email }",
)
EXPORT_QUERY = f"{{ orders {{ nodes {{ {SELECTION} }} }} }}"
PAGE_QUERY = (
    "query($after: String) { orders(first: 500, after: $after) "
    f"{{ nodes {{ {SELECTION} }} pageInfo {{ hasNextPage endCursor }} }} }}"
)
TIMEOUT = httpx.Timeout(30.0, read=300.0)


@dataclass
class Result:
    latency: int
    way: str
    rows: int
    seconds: float
    first_byte_ms: float
    rss_start: float
    rss_2k: float
    rss_end: float
    backend_calls: int

    def line(self) -> str:
        growth = (self.rss_end / self.rss_2k - 1) * 100 if self.rss_2k else 0.0
        return (
            f"| {self.latency} ms | {self.way} | {self.rows} | {self.rows / self.seconds:,.0f} "
            f"| {self.seconds:.1f} | {self.first_byte_ms:,.0f} | {self.rss_start:.0f} "
            f"| {self.rss_2k:.0f} | {self.rss_end:.0f} | {growth:+.1f}% | {self.backend_calls} |"
        )


@contextmanager
def simulators(latency: int) -> Iterator[str]:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    argv = [
        str(BIN / "gateway"), "simulate", "--port", str(port), "--no-rate-limit",
        "--orders", str(ORDERS_PER_KIND), "--latency", str(latency),
    ]  # fmt: skip
    with process(pinned(1, argv), f"{url}/__stats"):
        yield url


def calls(sim_url: str) -> int:
    return int(httpx.get(f"{sim_url}/__stats", timeout=5).json()["requests"])


def export(url: str, pid: int, sim_url: str, latency: int) -> Result:
    counter = RowCounter("csv")
    before = calls(sim_url)
    rss_start = rss_mib(pid)
    rss_2k = 0.0
    start = time.perf_counter()
    first = 0.0
    with httpx.stream(
        "GET", f"{url}/export", params={"query": EXPORT_QUERY}, timeout=TIMEOUT
    ) as response:
        response.raise_for_status()
        for chunk in response.iter_raw():
            if not first:
                first = time.perf_counter() - start
            counter.feed(chunk)
            if not rss_2k and counter.rows >= 2000:
                rss_2k = rss_mib(pid)
    seconds = time.perf_counter() - start
    return Result(
        latency, "/export csv", counter.rows, seconds, first * 1000, rss_start, rss_2k,
        rss_mib(pid), calls(sim_url) - before,
    )  # fmt: skip


def graphql(url: str, pid: int, sim_url: str, latency: int) -> Result:
    before = calls(sim_url)
    rss_start = rss_mib(pid)
    rss_2k = 0.0
    rows = 0
    after: str | None = None
    start = time.perf_counter()
    first = 0.0
    with httpx.Client(timeout=TIMEOUT) as client:
        for _ in range(1000):  # bounded: 20,000 orders are 40 pages
            body: dict[str, Any] = client.post(
                f"{url}/graphql", json={"query": PAGE_QUERY, "variables": {"after": after}}
            ).json()
            if not first:
                first = time.perf_counter() - start
            assert "errors" not in body, body["errors"][:2]
            page = body["data"]["orders"]
            rows += len(page["nodes"])
            if not rss_2k and rows >= 2000:
                rss_2k = rss_mib(pid)
            if not page["pageInfo"]["hasNextPage"]:
                break
            after = page["pageInfo"]["endCursor"]
    seconds = time.perf_counter() - start
    return Result(
        latency, "/graphql first: 500", rows, seconds, first * 1000, rss_start, rss_2k,
        rss_mib(pid), calls(sim_url) - before,
    )  # fmt: skip


def main() -> int:
    print(f"{ORDERS_PER_KIND} orders per kind; python {sys.version.split()[0]}", flush=True)
    print(f"selection: {SELECTION}", flush=True)
    print(
        "| latency | way | rows | rows/s | s | first byte ms | RSS MiB start | after 2,000 "
        "| at end | growth 2,000→end | backend calls |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    failed = False
    for latency in LATENCIES:
        with simulators(latency) as sim_url, gateway(sim_url, {}) as (url, proc):
            # warm: one small page through each path (imports, caches, connections)
            httpx.get(
                f"{url}/export", params={"query": EXPORT_QUERY, "limit": "10"}, timeout=TIMEOUT
            ).raise_for_status()
            for result in (
                export(url, proc.pid, sim_url, latency),
                graphql(url, proc.pid, sim_url, latency),
            ):
                print(result.line(), flush=True)
                if result.way.startswith("/export") and (
                    result.rss_end > 200 or result.rss_end > result.rss_2k * 1.2
                ):
                    failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
