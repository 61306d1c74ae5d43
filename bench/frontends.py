"""Many frontend users over HighLevel's real rate limit (issue: shared cache, coalescing,
one budget across replicas). Loopback only; every run bounded in time.

    .venv/bin/python bench/frontends.py      (wrk from Debian, redis-server from Debian)

1. 50 connections over 20 popular HighLevel orders, the simulator enforcing HighLevel's
   100 calls / 10 s: answers/s, p99, answers with errors and the backend's 429s, with the
   cache off (every request goes to the backend) and on (`cache_ttl_s = 30`).
2. 50 identical requests at once, cache off, 20 ms backend: backend calls (coalescing).
3. Two replicas under load over all 60 orders with a 1 s TTL (so the budget, not the
   cache, is what holds): budgets per process (memory) against one budget in Redis; the
   most calls the backend saw in any 10 s and its 429s.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.simulators import BackgroundServer, SimulatorSet  # noqa: E402
from gateway.sources.highlevel.simulator import DEMO_LOCATION, DEMO_TOKEN  # noqa: E402
from gateway.state.sealing import new_key  # noqa: E402

BIN = ROOT / ".venv" / "bin"
NO_PERSISTENCE = ["--save", "", "--appendonly", "no"]
SECONDS = int(os.environ.get("BENCH_DURATION", "10"))
QUERY = """query($id: String!) { orderBySourceId(source: "hl-main", sourceId: $id) {
  sourceId status price { total { amount currency } } customer { email } } }"""


class Recorder:
    """Every HighLevel call the simulator answered: (when, status)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.calls: list[tuple[float, int]] = []
        self._lock = threading.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/highlevel"):
            await self.app(scope, receive, send)
            return
        arrived = time.monotonic()

        async def record(message: Message) -> None:
            if message["type"] == "http.response.start":
                with self._lock:
                    self.calls.append((arrived, message["status"]))
            await send(message)

        await self.app(scope, receive, record)

    def since(self, start: float) -> list[tuple[float, int]]:
        with self._lock:
            return [c for c in self.calls if c[0] >= start]


def busiest_window(calls: list[tuple[float, int]], window: float = 10.0) -> int:
    times = sorted(t for t, _ in calls)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def config_text(sim_url: str, *, ttl: float, cache: dict[str, str] | None = None) -> str:
    lines = [
        "[server]",
        "access_log = false",
        "[security]",
        "require_auth = false",
        'anonymous_scopes = ["orders:read", "pii:read"]',
    ]
    if cache:
        lines += ["[cache]"] + [f'{k} = "{v}"' for k, v in cache.items()]
    lines += [
        "[sources.hl-main]",
        'kind = "highlevel"',
        f'base_url = "{sim_url}/highlevel"',
        f'token = "{DEMO_TOKEN}"',
        f'location_id = "{DEMO_LOCATION}"',
        "max_concurrency = 100",
        f"cache_ttl_s = {ttl}",
        "stale_if_error_s = 600",
    ]
    return "\n".join(lines) + "\n"


@contextmanager
def gateway(config: str, core: int = 0) -> Iterator[str]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "gateway.toml"
        path.write_text(config)
        port = free_port()
        argv = [str(BIN / "gateway"), "serve", "--config", str(path), "--port", str(port)]
        if shutil.which("taskset"):
            argv = ["taskset", "-c", str(core), *argv]
        log = Path(tmp) / "gateway.log"
        proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=log.open("wb"))
        url = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                try:
                    httpx.get(f"{url}/healthz", timeout=1)
                    break
                except httpx.HTTPError:
                    time.sleep(0.1)
            yield url
        finally:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
            for line in log.read_text(errors="replace").splitlines():
                if "gateway.cache" in line:  # Redis lost or back: worth seeing
                    print(f"  gateway log: {line}", file=sys.stderr)


@contextmanager
def redis_server() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", *NO_PERSISTENCE],
        stdout=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def bodies(ids: list[str]) -> str:
    return "\n".join(json.dumps({"query": QUERY, "variables": {"id": i}}) for i in ids)


def wrk(url: str, ids: list[str], connections: int, seconds: int) -> dict[str, Any]:
    argv = ["wrk", "-t1", f"-c{connections}", f"-d{seconds}s", "--timeout", "15s"]
    argv += ["-s", str(ROOT / "bench" / "rotate.lua"), f"{url}/graphql"]
    done = subprocess.run(
        argv,
        env={**os.environ, "BENCH_BODIES": bodies(ids)},
        capture_output=True,
        text=True,
        timeout=seconds + 60,
        check=True,
    )
    line = next(x for x in done.stdout.splitlines() if x.startswith("RESULT "))
    return dict(json.loads(line[len("RESULT ") :]))


def load_row(name: str, result: dict[str, Any], calls: list[tuple[float, int]]) -> str:
    rps = result["requests"] / (result["duration_us"] / 1e6)
    limited = sum(1 for _, status in calls if status == 429)
    return (
        f"| {name} | {rps:.0f} | {result['p99_us'] / 1000:.0f} | "
        f"{result['graphql_errors'] + result['non2xx'] + result['socket_errors']} | "
        f"{len(calls)} | {busiest_window(calls)} | {limited} |"
    )


async def identical_at_once(url: str, count: int) -> list[dict[str, Any]]:
    body = {"query": QUERY, "variables": {"id": "653f5e0cde5a1314e62a837c"}}
    async with httpx.AsyncClient(timeout=30) as client:
        answers = await asyncio.gather(
            *(client.post(f"{url}/graphql", json=body) for _ in range(count))
        )
    return [a.json() for a in answers]


def main() -> int:
    for tool in ("wrk", "redis-server"):
        if shutil.which(tool) is None:
            print(f"{tool} is not installed (Debian's package)", file=sys.stderr)
            return 2
    simulators = SimulatorSet()  # HighLevel's real limit: 100 calls / 10 s
    recorder = Recorder(simulators.app())
    server = BackgroundServer(recorder).start()
    sim_url = server.base_url
    ids = [o["_id"] for o in simulators.data["highlevel"].orders]
    header = (
        "| run | answers/s | p99 ms | answers with errors | backend calls | "
        "most in any 10 s | backend 429s |\n|---|---|---|---|---|---|---|"
    )
    rows = []
    try:
        for name, ttl in (("cache off", 0), ("cache on (30 s)", 30)):
            time.sleep(11)  # the simulator's window empties
            with gateway(config_text(sim_url, ttl=ttl)) as url:
                start = time.monotonic()
                result = wrk(url, ids[:20], 50, SECONDS)
                rows.append(load_row(f"50 users, 20 orders, {name}", result, recorder.since(start)))

        time.sleep(11)
        simulators.faults.set("highlevel", "latency=20")
        with gateway(config_text(sim_url, ttl=0)) as url:
            start = time.monotonic()
            answers = asyncio.run(identical_at_once(url, 50))
            same = all(a == answers[0] and "errors" not in a for a in answers)
            identical = len(recorder.since(start))
        simulators.faults.clear()

        for name, cache in (("per process (memory)", None), ("one in Redis", "redis")):
            time.sleep(11)
            with redis_server() as redis_url:
                conf = config_text(
                    sim_url,
                    ttl=1,
                    cache={"backend": "redis", "url": redis_url, "encryption_key": new_key()}
                    if cache
                    else None,
                )
                with gateway(conf, 0) as one, gateway(conf, 1) as two:
                    start = time.monotonic()
                    results: list[dict[str, Any]] = []

                    def drive(url: str, into: list[dict[str, Any]] = results) -> None:
                        into.append(wrk(url, ids, 25, SECONDS))

                    threads = [threading.Thread(target=drive, args=(u,)) for u in (one, two)]
                    for t in threads:
                        t.start()
                    for t in threads:
                        t.join()
                    merged = {
                        "requests": sum(r["requests"] for r in results),
                        "duration_us": max(r["duration_us"] for r in results),
                        "p99_us": max(r["p99_us"] for r in results),
                        **{
                            k: sum(r[k] for r in results)
                            for k in ("graphql_errors", "non2xx", "socket_errors")
                        },
                    }
                    rows.append(
                        load_row(
                            f"2 replicas, 60 orders, 1 s TTL, budget {name}",
                            merged,
                            recorder.since(start),
                        )
                    )
    finally:
        server.stop()
    print(header)
    print("\n".join(rows))
    print(
        f"\n50 identical requests at once, cache off, 20 ms backend: {identical} backend "
        f"calls; all answers identical and without errors: {same}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
