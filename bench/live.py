"""Live orders benchmark: subscribers over SSE, events from HighLevel's signed webhooks.

    .venv/bin/python bench/live.py        # ~1 minute; results in bench/README.md

``gateway serve`` (pinned to core 0) over the HighLevel simulator (in this process, with
the clients). Opens SUBSCRIBERS graphql-sse subscriptions and reads the gateway's RSS
before and after (memory per 1,000 subscribers); then, one at a time, changes an order in
the simulator and sends its signed webhook, timing each client's receipt from the change
(latency from backend change to client); then sends a burst of webhooks and counts the
events delivered per second across every subscriber. Every wait is bounded.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import tomli_w

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import BIN, ROOT, free_port, pinned, process, rss_mib

sys.path.insert(0, str(ROOT))
from gateway.simulators import BackgroundServer, SimulatorSet, demo_config
from gateway.sources.highlevel import webhooks

SUBSCRIBERS = int(os.environ.get("BENCH_LIVE_SUBSCRIBERS", "1000"))
CHANGES = int(os.environ.get("BENCH_LIVE_CHANGES", "20"))
BURST = int(os.environ.get("BENCH_LIVE_BURST", "50"))
QUERY = '{"query": "subscription { orderEvents { id type sourceId order { status } } }"}'
DEADLINE_S = 120.0


async def subscriber(
    client: httpx.AsyncClient, url: str, ready: asyncio.Event, got: list[float]
) -> None:
    headers = {"accept": "text/event-stream", "content-type": "application/json"}
    async with client.stream("POST", f"{url}/graphql", content=QUERY, headers=headers) as r:
        ready.set()
        async for line in r.aiter_lines():
            if line.startswith("data: {"):
                got.append(time.perf_counter())


async def active(url: str) -> int:
    text = (await asyncio.to_thread(httpx.get, f"{url}/metrics")).text
    line = next(x for x in text.splitlines() if x.startswith("gateway_subscriptions_active "))
    return int(float(line.split()[1]))


async def until(condition: object, what: str) -> None:
    deadline = time.monotonic() + DEADLINE_S
    while time.monotonic() < deadline:
        if await condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"timed out: {what}")


async def main(url: str, pid: int, orders: list[dict[str, object]]) -> None:
    hook = f"{url}/webhooks/hl-main"
    rss_before = rss_mib(pid)
    limits = httpx.Limits(max_connections=None, max_keepalive_connections=None)
    async with httpx.AsyncClient(limits=limits, timeout=DEADLINE_S) as client:
        received: list[list[float]] = [[] for _ in range(SUBSCRIBERS)]
        ready = [asyncio.Event() for _ in range(SUBSCRIBERS)]
        tasks = [
            asyncio.create_task(subscriber(client, url, ready[i], received[i]))
            for i in range(SUBSCRIBERS)
        ]

        async def all_subscribed() -> bool:
            return await active(url) == SUBSCRIBERS

        await until(all_subscribed, "every subscription")
        rss_after = rss_mib(pid)

        latencies: list[float] = []
        for n in range(CHANGES):
            seen = sum(len(r) for r in received)
            start = time.perf_counter()
            order = webhooks.new_order(orders)
            await asyncio.to_thread(webhooks.send, hook, order, "OrderCreate")

            async def delivered(target: int = seen + SUBSCRIBERS) -> bool:
                return sum(len(r) for r in received) >= target

            await until(delivered, f"change {n}")
            latencies += [r[-1] - start for r in received]

        seen = sum(len(r) for r in received)
        start = time.perf_counter()
        for _ in range(BURST):
            order = webhooks.new_order(orders)
            await asyncio.to_thread(webhooks.send, hook, order, "OrderCreate")

        async def burst_done() -> bool:
            return sum(len(r) for r in received) >= seen + BURST * SUBSCRIBERS

        await until(burst_done, "the burst")
        last = max(r[-1] for r in received)
        rate = BURST * SUBSCRIBERS / (last - start)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    latencies.sort()
    p50 = statistics.median(latencies) * 1000
    p99 = latencies[int(len(latencies) * 0.99) - 1] * 1000
    per_1000 = (rss_after - rss_before) * 1000 / SUBSCRIBERS
    print(
        "| subscribers | RSS before / after MiB | MiB per 1,000 subscribers "
        "| change→client p50 / p99 ms | events/s delivered (burst of "
        f"{BURST}) |"
    )
    print("|---|---|---|---|---|")
    print(
        f"| {SUBSCRIBERS} | {rss_before:.0f} / {rss_after:.0f} | {per_1000:.1f} "
        f"| {p50:.1f} / {p99:.1f} | {rate:.0f} |"
    )


def run() -> None:
    simulators = SimulatorSet(options={"highlevel": {"rate_limit": None}})
    sims = BackgroundServer(simulators.app()).start()
    config = demo_config(sims.base_url, ["highlevel"])
    config["sources"]["hl-main"]["rate_limit"] = 0
    config["server"] = {"access_log": False}
    # every subscriber here is one anonymous address: the per-client limit would stop at 20
    config["security"]["limits"] = {"max_subscriptions_per_client": SUBSCRIBERS}
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "live.toml"
        path.write_text(tomli_w.dumps(config))
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        argv = pinned(
            0, [str(BIN / "gateway"), "serve", "--config", str(path), "--port", str(port)]
        )
        with process(argv, f"{url}/healthz") as gw:
            asyncio.run(main(url, gw.pid, simulators.data["highlevel"].orders))
    sims.stop()


if __name__ == "__main__":
    run()
