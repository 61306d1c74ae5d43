"""Gateway processes over HighLevel's simulator with its real limit (100 calls / 10 s), a
recorder of what the backend saw, and a frontend at a steady rate (fault tests, bench/)."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.simulators import BackgroundServer, SimulatorSet
from gateway.sources.highlevel.simulator import DEMO_LOCATION, DEMO_TOKEN
from tests.redis_server import free_port

STATUS_QUERY = """query($id: String!) {
  orderBySourceId(source: "hl-main", sourceId: $id) { sourceId status } }"""


class Recorder:
    """Every HighLevel call the simulator answered: (when it arrived, its status)."""

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

    def snapshot(self) -> list[tuple[float, int]]:
        with self._lock:
            return list(self.calls)

    def count(self) -> int:
        with self._lock:
            return len(self.calls)


def busiest_window(calls: list[tuple[float, int]], window_s: float = 10.0) -> int:
    """The most calls that arrived within any ``window_s``."""
    times = sorted(t for t, _ in calls)
    best, first = 0, 0
    for i, t in enumerate(times):
        while times[first] <= t - window_s:
            first += 1
        best = max(best, i - first + 1)
    return best


@contextmanager
def highlevel_simulator(orders: int | None = None) -> Iterator[tuple[str, Recorder, SimulatorSet]]:
    """The simulators (``orders`` each), HighLevel enforcing its documented limit;
    (url, recorder, set)."""
    simulators = SimulatorSet(orders=orders)
    recorder = Recorder(simulators.app())
    server = BackgroundServer(recorder).start()
    try:
        yield server.base_url, recorder, simulators
    finally:
        server.stop()


def config_text(sim_url: str, cache: dict[str, str] | None = None, **source: Any) -> str:
    """A gateway over hl-main alone with HighLevel's limit as its budget."""
    lines = [
        "[server]",
        "access_log = false",
        "[security]",
        "require_auth = false",
        'anonymous_scopes = ["orders:read", "pii:read"]',
    ]
    if cache:
        lines += ["[cache]", *(f'{k} = "{v}"' for k, v in cache.items())]
    settings = {
        "rate_limit": 100,
        "rate_window_s": 10,
        "rate_wait_s": 2,
        "cache_ttl_s": 0,
        "max_concurrency": 50,
        **source,
    }
    lines += [
        "[sources.hl-main]",
        'kind = "highlevel"',
        f'base_url = "{sim_url}/highlevel"',
        f'token = "{DEMO_TOKEN}"',
        f'location_id = "{DEMO_LOCATION}"',
        *(f"{k} = {v}" for k, v in settings.items()),
    ]
    return "\n".join(lines) + "\n"


@dataclass
class Served:
    url: str
    log: Path
    process: subprocess.Popen[bytes]

    def log_lines(self, containing: str) -> list[str]:
        text = self.log.read_text(errors="replace")
        return [line for line in text.splitlines() if containing in line]


@contextmanager
def serve(
    config: str, directory: Path, workers: int = 1, name: str = "gateway"
) -> Iterator[Served]:
    """`gateway serve --workers N` on a free port, ready; SIGTERM at the end."""
    path = directory / f"{name}.toml"
    path.write_text(config)
    log = directory / f"{name}.log"
    port = free_port()
    argv = [sys.executable, "-m", "gateway", "serve", "--workers", str(workers)]
    process = subprocess.Popen(
        [*argv, "--config", str(path), "--port", str(port)],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=log.open("wb"),
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text(errors="replace")[-2000:]
            assert time.monotonic() < deadline, "the gateway did not start"
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield Served(url, log, process)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@dataclass
class Frontend:
    """A frontend sending one order query every 1 / ``rate`` s (whatever the answers
    take), to each of ``urls`` in turn (as a load balancer would); each answer's outcome
    is counted: ok or its first error code."""

    urls: list[str]
    ids: list[str]
    rate: float
    query: str = STATUS_QUERY
    outcomes: list[tuple[float, str]] = field(default_factory=list)
    #: each answer's time from request to response (seconds)
    latencies: list[float] = field(default_factory=list)

    async def run(self, stop: asyncio.Event) -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            tasks: set[asyncio.Task[None]] = set()
            n = 0
            start = asyncio.get_running_loop().time()
            while not stop.is_set():
                url = self.urls[n % len(self.urls)]
                task = asyncio.create_task(self._ask(client, url, self.ids[n % len(self.ids)]))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
                n += 1
                delay = start + n / self.rate - asyncio.get_running_loop().time()
                if delay > 0:
                    with suppress(TimeoutError):
                        await asyncio.wait_for(stop.wait(), delay)
            if tasks:
                await asyncio.gather(*tasks)

    async def _ask(self, client: httpx.AsyncClient, url: str, source_id: str) -> None:
        start = time.monotonic()
        response = await client.post(
            f"{url}/graphql", json={"query": self.query, "variables": {"id": source_id}}
        )
        self.latencies.append(time.monotonic() - start)
        if response.status_code != 200:
            outcome = f"HTTP {response.status_code}"
        else:
            errors = response.json().get("errors") or []
            outcome = errors[0]["extensions"]["code"] if errors else "ok"
        self.outcomes.append((time.monotonic(), outcome))

    def count(self, outcome: str, since: float = 0.0) -> int:
        return sum(1 for t, o in self.outcomes if o == outcome and t >= since)
