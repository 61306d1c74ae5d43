"""An export whose client leaves, or whose server stops, ends its work: no more pages and
no backend call left waiting for budget. HighLevel's simulator keeps its real rate limit;
the gateway's budget for it is set low so an export has calls queued at a known count."""

from __future__ import annotations

import asyncio
import contextlib
import csv
import io
import json
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest

from gateway.app import create_app
from gateway.config import settings_from_mapping
from gateway.simulators import BackgroundServer, SimulatorSet, demo_config

ROOT = Path(__file__).resolve().parent.parent
#: Every HighLevel order needs a call of its own for its line items.
QUERY = '{ orders(filter: {sources: ["hl-main"]}) { nodes { id lineItems { productName } } } }'


class HeldClock:
    """The gateway's clock, standing still until the test moves it: a call waiting for
    budget waits until then, so whether it would still go is asked when the test says,
    not after a real window's wait."""

    def __init__(self) -> None:
        self.now = 1000.0
        self._lock = threading.Lock()
        self._sleeping: list[tuple[float, asyncio.AbstractEventLoop, asyncio.Event]] = []

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return datetime(2026, 11, 1, tzinfo=UTC) + timedelta(seconds=self.now)

    async def sleep(self, seconds: float) -> None:
        woken = asyncio.Event()
        with self._lock:
            self._sleeping.append((self.now + seconds, asyncio.get_running_loop(), woken))
        await woken.wait()

    def advance(self, seconds: float) -> None:
        """Moves time on (from the test's thread) and wakes the sleeps that are due."""
        with self._lock:
            self.now += seconds
            due = [s for s in self._sleeping if s[0] <= self.now]
            self._sleeping = [s for s in self._sleeping if s[0] > self.now]
        for _, loop, woken in due:
            with contextlib.suppress(RuntimeError):  # its server has stopped
                loop.call_soon_threadsafe(woken.set)


@pytest.fixture(scope="module")
def highlevel() -> Iterator[tuple[SimulatorSet, str]]:
    """HighLevel's simulator with its real limit (100 calls per 10 s)."""
    simulators = SimulatorSet()
    server = BackgroundServer(simulators.app()).start()
    yield simulators, server.base_url
    server.stop()


def hl_calls(simulators: SimulatorSet) -> Callable[[], int]:
    """HighLevel's order calls so far: the list pages and each order's own."""
    return lambda: len(simulators.log.of("highlevel", "/payments/orders"))


def config(base_url: str, rate_limit: int, window_s: int = 10) -> dict[str, Any]:
    conf = demo_config(base_url, ["highlevel"])
    conf["sources"]["hl-main"].update(rate_limit=rate_limit, rate_window_s=window_s)
    return conf


def wait_until(condition: Callable[[], bool], deadline_s: float = 20.0) -> None:
    end = time.monotonic() + deadline_s
    while not condition():
        assert time.monotonic() < end, "the condition did not come about in time"
        time.sleep(0.01)


def stays(read: Callable[[], int], value: int, seconds: float) -> None:
    """``read()`` keeps ``value`` for ``seconds``."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        assert read() == value
        time.sleep(0.02)
    assert read() == value


@pytest.fixture
def gateway(highlevel: tuple[SimulatorSet, str]) -> Iterator[Callable[..., BackgroundServer]]:
    servers: list[BackgroundServer] = []

    def start(rate_limit: int, clock: HeldClock) -> BackgroundServer:
        settings = settings_from_mapping(config(highlevel[1], rate_limit))
        app = create_app(settings, clock=clock, graphiql=False)
        servers.append(BackgroundServer(app, lifespan="on").start())
        return servers[-1]

    highlevel[0].log.clear()
    yield start
    for server in servers:
        server.stop()


def test_a_client_leaving_before_the_first_byte_stops_the_queued_calls(
    highlevel: tuple[SimulatorSet, str], gateway: Callable[..., BackgroundServer]
) -> None:
    calls = hl_calls(highlevel[0])
    clock = HeldClock()
    server = gateway(5, clock)  # the first page needs 11 calls: 6 wait for budget
    request = f"GET /export?{urlencode({'query': QUERY})} HTTP/1.1\r\nHost: gw\r\n\r\n"
    with socket.create_connection(("127.0.0.1", server.port)) as conn:
        conn.sendall(request.encode())
        wait_until(lambda: calls() == 5)  # the list and four orders; the rest are queued
        conn.setblocking(False)
        with pytest.raises(BlockingIOError):
            conn.recv(1)  # not a byte of the answer yet
    time.sleep(1.0)  # the time the export has to stop
    clock.advance(60)  # the budget would let every queued call go now
    stays(calls, 5, seconds=1.0)


def test_a_client_leaving_after_the_first_byte_stops_paging(
    highlevel: tuple[SimulatorSet, str], gateway: Callable[..., BackgroundServer]
) -> None:
    calls = hl_calls(highlevel[0])
    clock = HeldClock()
    server = gateway(12, clock)  # the first page's 11 calls, then the second page's list
    with (
        httpx.Client(base_url=server.base_url, timeout=30) as client,
        client.stream("GET", "/export", params={"query": QUERY}) as response,
    ):
        first = next(response.iter_bytes())
        assert first.startswith(b"id,lineItems.productName\r\n")
        wait_until(lambda: calls() == 12)  # the second page's orders wait for budget
    time.sleep(1.0)
    clock.advance(60)
    stays(calls, 12, seconds=1.0)


def toml(conf: dict[str, Any]) -> str:
    lines = [f"[security]\nrequire_auth = false\nanonymous_scopes = {json.dumps(['orders:read'])}"]
    for name, table in conf["sources"].items():
        lines.append(f"[sources.{name}]")
        lines += [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


def test_sigterm_ends_serve_within_10_s_with_exports_in_flight(
    highlevel: tuple[SimulatorSet, str], tmp_path: Path
) -> None:
    simulators, base_url = highlevel
    simulators.log.clear()
    calls = hl_calls(simulators)
    path = tmp_path / "gateway.toml"
    # 12 calls per minute on the real clock: nothing more goes before the process stops
    path.write_text(toml(config(base_url, 12, window_s=60)))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--config", str(path), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_until(up, 30)
        with (
            ThreadPoolExecutor(1) as pool,
            httpx.Client(base_url=url, timeout=30) as client,
            client.stream("GET", "/export", params={"query": QUERY}) as streaming,
        ):
            chunks = streaming.iter_bytes()
            first = next(chunks).decode()
            rows = len(list(csv.reader(io.StringIO(first, newline="")))) - 1
            assert first.startswith("id,") and rows >= 10  # ten orders, a row per item
            wait_until(lambda: calls() == 12)  # its second page waits for budget
            # a second export, whose first page waits for budget: no byte of it yet
            waiting = pool.submit(httpx.get, f"{url}/export", params={"query": QUERY}, timeout=30)
            time.sleep(0.5)
            assert not waiting.done()
            proc.send_signal(signal.SIGTERM)
            stopped = time.monotonic()
            with pytest.raises(httpx.RemoteProtocolError):  # cut off: no final chunk
                for _ in chunks:
                    pass
            refused = waiting.result(timeout=10)
            proc.wait(timeout=10 - (time.monotonic() - stopped))
    finally:
        if proc.poll() is None:
            proc.kill()
        err = proc.communicate(timeout=10)[1]
    assert refused.status_code == 503
    assert refused.json()["errors"][0]["extensions"]["code"] == "INTERNAL"
    assert "stopping" in refused.json()["errors"][0]["message"]
    assert f"export cut off after {rows} rows" in err and "the gateway is stopping" in err
    assert "export cut off after 0 rows" in err
    assert "Application shutdown complete" in err  # the lifespan closed the backend clients
    assert "Traceback" not in err
