"""The gateway on a real loopback port (uvicorn in a thread, lifespan on), for tests that
need what TestClient cannot give: many requests at once, or a client that goes away."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import uvicorn

from gateway.app import create_app
from gateway.clock import Clock
from gateway.config import Settings
from gateway.simulators import loopback_socket


@contextmanager
def live_gateway(settings: Settings, clock: Clock | None = None) -> Iterator[str]:
    """The gateway's base URL while the block runs (``clock``: create_app's)."""
    sock = loopback_socket()
    server = uvicorn.Server(
        # as `gateway serve`: X-Forwarded-For is the app's to believe ([server] trusted_proxies)
        uvicorn.Config(
            create_app(settings, clock=clock),
            log_level="warning",
            access_log=False,
            proxy_headers=False,
        )
    )
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])))
    thread.start()
    try:
        for _ in range(1000):
            if server.started:
                break
            threading.Event().wait(0.01)
        else:
            raise RuntimeError("the gateway did not start")
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def wait_until_up(url: str, deadline_s: float = 30, what: str = "gateway serve") -> None:
    """Until ``url``'s /healthz answers 200 (a server started as a subprocess), at most
    ``deadline_s``."""
    deadline = time.monotonic() + deadline_s
    while True:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, f"{what} did not come up"
        time.sleep(0.1)
