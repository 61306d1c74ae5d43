"""What a Redis blip and a Redis restart cost two replicas over HighLevel's real limit
(100 calls / 10 s). Loopback only; bounded in time (about a minute per scenario).

    .venv/bin/python bench/redis_blip.py      (redis-server from Debian)

Two `gateway serve` processes share Redis (cache and budget); a frontend asks them in
turn for one HighLevel order at a steady rate. 10 s steady, then Redis stopped for
BLIP_S (10) seconds (a restart without persistence: it comes back empty), then 15 s more.
Scenarios: cache off (every answer costs one call, 15 answers/s asked against 10 calls/s
allowed) and cache on (30 s, 20 popular orders, 20 answers/s).

Printed per phase (before / Redis down / after): answers asked, right answers per second,
BACKEND_RATE_LIMITED and other errors; and over the run: HighLevel calls, its 429s, the
most calls in any 10 s, how long after Redis answered again both replicas were registered
and the shared window held calls again (those sent without Redis, put back, or new ones).
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import redis  # noqa: E402

from tests.fleet import (  # noqa: E402
    Frontend,
    busiest_window,
    config_text,
    highlevel_simulator,
    serve,
)
from tests.redis_server import RedisServer, redis_cache  # noqa: E402

BLIP_S = float(os.environ.get("BLIP_S", "10"))


def look(url: str, what: str) -> int:
    client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        if what == "replicas":
            return int(client.zcard("gw:replicas"))
        return sum(int(client.zcard(k)) for k in client.keys("gw:budget:*"))
    except redis.RedisError:
        return 0
    finally:
        client.close()


async def poll(condition: object, deadline_s: float) -> float | None:
    start = time.monotonic()
    assert callable(condition)
    while time.monotonic() - start < deadline_s:
        if condition():
            return time.monotonic() - start
        await asyncio.sleep(0.02)
    return None


async def scenario(name: str, ttl: float, popular: int, rate: float) -> None:
    server = RedisServer().start()
    try:
        with (
            highlevel_simulator() as (sim_url, backend, simulators),
            tempfile.TemporaryDirectory() as tmp,
        ):
            config = config_text(sim_url, redis_cache(server.url), cache_ttl_s=ttl)
            with (
                serve(config, Path(tmp), name="one") as one,
                serve(config, Path(tmp), name="two") as two,
            ):
                await poll(lambda: look(server.url, "replicas") == 2, 30)
                ids = [o["_id"] for o in simulators.data["highlevel"].orders][:popular]
                frontend = Frontend([one.url, two.url], ids, rate=rate)
                stop = asyncio.Event()
                driving = asyncio.create_task(frontend.run(stop))
                begin = time.monotonic()
                await asyncio.sleep(10)
                server.stop()
                down = time.monotonic()
                await asyncio.sleep(BLIP_S)
                server.start()
                up = time.monotonic()
                registered = await poll(lambda: look(server.url, "replicas") == 2, 15)
                shared = await poll(lambda: look(server.url, "budget") > 0, 15)
                await asyncio.sleep(max(0.0, up + 15 - time.monotonic()))
                stop.set()
                await driving
                end = time.monotonic()
                logs = [
                    line
                    for g in (one, two)
                    for line in g.log_lines("gateway.cache") or g.log_lines("Redis at")
                ]
        calls = backend.snapshot()
        print(f"\n{name}: {rate:g} answers/s asked, {popular} orders, cache_ttl_s {ttl:g}")
        print("phase        asked  right/s  rate-limited  other errors")
        for label, start, stop_at in (
            ("before", begin, down),
            ("Redis down", down, up),
            ("after", up, end),
        ):
            outcomes = [o for t, o in frontend.outcomes if start <= t < stop_at]
            ok = outcomes.count("ok")
            limited = outcomes.count("BACKEND_RATE_LIMITED")
            other = len(outcomes) - ok - limited
            print(
                f"{label:<12} {len(outcomes):>5}  {ok / (stop_at - start):>7.1f}  "
                f"{limited:>12}  {other:>12}"
            )
        print(
            f"HighLevel calls {len(calls)}, 429s {sum(1 for _, s in calls if s == 429)}, "
            f"most in any 10 s {busiest_window(calls)} (limit 100); "
            f"calls while Redis was down {sum(1 for t, _ in calls if down <= t < up)}"
        )
        print(
            f"after Redis answered again: both replicas registered in "
            f"{registered if registered is None else round(registered, 2)} s, the shared "
            f"window held calls again in {shared if shared is None else round(shared, 2)} s"
        )
        print(f"Redis lines in the replicas' logs: {len(logs)}")
        for line in logs:
            print(f"  {line[:160]}")
    finally:
        server.stop()


def main() -> int:
    asyncio.run(scenario("cache off", 0, 60, 15))
    asyncio.run(scenario("cache on", 30, 20, 20))
    return 0


if __name__ == "__main__":
    sys.exit(main())
