"""A frontend beside a BI export over HighLevel's real limit (100 calls / 10 s), issue 26.
Loopback only; bounded in time (4 runs of RUN_S, 30 by default).

    .venv/bin/python bench/fair_share.py

One `gateway serve` over HighLevel's simulator (500 orders). A frontend asks one order
with its customer (2 backend calls) every 0.8 s, alone and with an export of every order
with its line items running beside it, with the cache off and on (30 s); with
BENCH_NO_SPLIT=1 only the export beside the frontend with bulk_share = 1 (no priority, as
before issue 26), cache off. Printed per run:
the frontend's answers, how many were complete, its p50 and p95 latency, its right
answers per second; the export's rows; the backend's calls, 429s and busiest 10 s.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import httpx  # noqa: E402

from tests.fleet import (  # noqa: E402
    Frontend,
    busiest_window,
    config_text,
    highlevel_simulator,
    serve,
)

RUN_S = float(os.environ.get("RUN_S", "30"))
ORDER_QUERY = """query($id: String!) { orderBySourceId(source: "hl-main", sourceId: $id) {
  sourceId customer { email } } }"""
EXPORT_QUERY = "{ orders { nodes { id sourceId lineItems { sku quantity } } } }"


async def export_rows(url: str, rows: list[int]) -> None:
    params = {"query": EXPORT_QUERY, "format": "ndjson"}
    async with (
        httpx.AsyncClient(timeout=600) as client,
        client.stream("GET", f"{url}/export", params=params) as response,
    ):
        async for line in response.aiter_lines():
            if line.strip():
                rows[0] += 1


async def run(ttl: float, with_export: bool, bulk_share: float = 0.5) -> str:
    with highlevel_simulator(orders=500) as (sim_url, backend, simulators):
        ids = [o["_id"] for o in simulators.data["highlevel"].orders][:40]
        with (
            tempfile.TemporaryDirectory() as tmp,
            serve(
                config_text(sim_url, cache_ttl_s=ttl, bulk_share=bulk_share), Path(tmp)
            ) as gateway,
        ):
            frontend = Frontend([gateway.url], ids, rate=1.25, query=ORDER_QUERY)
            rows = [0]
            export = asyncio.create_task(export_rows(gateway.url, rows)) if with_export else None
            stop = asyncio.Event()
            driving = asyncio.create_task(frontend.run(stop))
            await asyncio.sleep(RUN_S)
            stop.set()
            await driving
            if export is not None:
                export.cancel()
    calls = backend.snapshot()
    latencies = sorted(frontend.latencies)
    p95 = latencies[int(0.95 * (len(latencies) - 1))]
    ok = frontend.count("ok")
    return (
        f"| {ttl:g} | {bulk_share:g} | {'yes' if with_export else 'no'} | "
        f"{len(frontend.outcomes)} | {ok} | "
        f"{statistics.median(latencies) * 1000:.0f} | {p95 * 1000:.0f} | {ok / RUN_S:.2f} | "
        f"{rows[0] if with_export else '-'} | {len(calls)} | "
        f"{sum(1 for _, s in calls if s == 429)} | {busiest_window(calls)} |"
    )


def main() -> int:
    print(
        "| cache_ttl_s | bulk_share | export | frontend answers | complete | p50 ms | p95 ms "
        "| right/s | export rows | backend calls | 429s | busiest 10 s |"
    )
    print("|---|---|---|---|---|---|---|---|---|---|---|---|")
    runs = [(0, False, 0.5), (0, True, 0.5), (30, False, 0.5), (30, True, 0.5)]
    if os.environ.get("BENCH_NO_SPLIT"):  # bulk_share = 1: bulk and interactive alike
        runs = [(0, True, 1.0)]
    for ttl, with_export, share in runs:
        print(asyncio.run(run(ttl, with_export, share)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
