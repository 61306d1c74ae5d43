"""CPU per request of the gateway app alone, in-process: ``python bench/inproc.py SIM_URL N``.

``python bench/inproc.py SIM_URL N --telemetry`` instead measures what the telemetry hooks
cost: two apps of this tree in one process, one as built and one with the request
middleware and the backend-call decorator taken out, driven in alternating blocks of 100
requests (A B B A ...), so the machine's drift falls on both alike.

``--plain`` runs 100 + N requests untimed, for bench/ab.py's ``--instructions``.

Calls the ASGI app directly (no HTTP server, no client in the way) one request at a
time, so the process's CPU time is the app's own work on one order with its customer
and lines (two backend calls to the simulators at SIM_URL, another process). bench/ab.py
runs it for two trees in alternation; a shared machine disturbs this far less than wrk's
req/s, since nothing else runs in the process and nothing waits on another core.
"""

from __future__ import annotations

import asyncio
import gc
import json
import sys
import time
from typing import Any

from gateway.app import create_app
from gateway.cli import tune_gc
from gateway.config import settings_from_mapping
from gateway.simulators import demo_config

QUERY = """{ orderBySourceId(source: "eu-shop", sourceId: "123") { number status
  customer { email name } lineItems { productName quantity total { amount } } } }"""


BODY = json.dumps({"query": QUERY}).encode()
SCOPE: dict[str, Any] = {
    "type": "http",
    "asgi": {"version": "3.0"},
    "http_version": "1.1",
    "method": "POST",
    "scheme": "http",
    "path": "/graphql",
    "raw_path": b"/graphql",
    "root_path": "",
    "query_string": b"",
    "server": ("127.0.0.1", 8000),
    "client": ("127.0.0.1", 50000),
    "headers": [
        (b"host", b"127.0.0.1:8000"),
        (b"content-type", b"application/json"),
        (b"content-length", str(len(BODY)).encode()),
    ],
}
STATUSES: list[int] = []


def receiver() -> Any:
    """A request's ``receive``: the body once, then nothing until cancelled, as a server
    does while the client stays (the gateway's disconnect watch waits on it; a receive
    that kept answering would spin the watch forever without yielding)."""
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if sent:
            await asyncio.get_running_loop().create_future()  # never done: cancelled
        sent = True
        return {"type": "http.request", "body": BODY, "more_body": False}

    return receive


async def send(message: dict[str, Any]) -> None:
    if message["type"] == "http.response.start":
        STATUSES.append(message["status"])


async def requests(app: Any, count: int) -> None:
    state: dict[str, Any] = {}
    for _ in range(count):
        await app({**SCOPE, "state": state}, receiver(), send)


def _app(sim_url: str) -> Any:
    conf = demo_config(sim_url, ["hamgam"])
    conf["security"]["require_auth"] = False
    settings = settings_from_mapping(conf)
    return settings, create_app(settings, graphiql=False)


async def main(sim_url: str, count: int) -> float:
    settings, app = _app(sim_url)
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        await requests(app, 200)  # warm-up: connections, caches
        tune_gc(settings.performance)
        gc.collect()
        start = time.process_time()
        await requests(app, count)
        spent = time.process_time() - start
    finally:
        await lifespan.__aexit__(None, None, None)
    assert set(STATUSES) == {200}, set(STATUSES)
    return spent / count * 1e6


async def telemetry_cost(sim_url: str, count: int, block: int = 100) -> tuple[float, float]:
    """(us per request as built, us per request without the telemetry hooks)."""
    from gateway.sources.observed import ObservedExchange
    from gateway.telemetry.middleware import Telemetry

    settings, full = _app(sim_url)
    _, bare = _app(sim_url)
    # taken out before the first request builds the middleware stack
    bare.user_middleware = [m for m in bare.user_middleware if m.cls is not Telemetry]
    spans = [full.router.lifespan_context(full), bare.router.lifespan_context(bare)]
    for span in spans:
        await span.__aenter__()
    for source in bare.state.sources.values():
        if isinstance(source.http.exchange, ObservedExchange):
            source.http.exchange = source.http.exchange.inner
    spent = {"full": 0.0, "bare": 0.0}
    try:
        await requests(full, 200)
        await requests(bare, 200)
        tune_gc(settings.performance)
        gc.collect()
        order = [("full", full), ("bare", bare)]
        for _ in range(max(count // block, 1)):
            order.reverse()  # A B B A ...: a drift within a pair falls on both sides
            for name, app in order:
                start = time.process_time()
                await requests(app, block)
                spent[name] += time.process_time() - start
    finally:
        for span in spans:
            await span.__aexit__(None, None, None)
    assert set(STATUSES) == {200}, set(STATUSES)
    n = max(count // block, 1) * block
    return spent["full"] / n * 1e6, spent["bare"] / n * 1e6


async def plain(sim_url: str, count: int) -> None:
    """100 warm-up requests and ``count`` more, untimed: for an instruction counter."""
    settings, app = _app(sim_url)
    lifespan = app.router.lifespan_context(app)
    await lifespan.__aenter__()
    try:
        tune_gc(settings.performance)
        await requests(app, 100 + count)
    finally:
        await lifespan.__aexit__(None, None, None)


if __name__ == "__main__":
    if "--plain" in sys.argv:
        asyncio.run(plain(sys.argv[1], int(sys.argv[2])))
    elif "--telemetry" in sys.argv:
        with_hooks, without = asyncio.run(telemetry_cost(sys.argv[1], int(sys.argv[2])))
        print(f"{with_hooks:.1f} {without:.1f} {with_hooks / without:.4f}")
    else:
        print(f"{asyncio.run(main(sys.argv[1], int(sys.argv[2]))):.1f}")
