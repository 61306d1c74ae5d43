"""Date windows on a large history: `python bench/windows.py` (see bench/README.md).

The issue-19 query: ``orders(first: 500, filter: {createdAfter: T})`` with T the 500th
newest order's date, page 1 and then page 2 from page 1's end cursor, over simulators
holding ``--orders`` generated orders each (default 4,000: ~20,000 in all). For each
backend latency and with filter push-down on and off it prints the backend calls (in
all and per kind, counted at the simulators) and the wall time of each page.

The simulators run in this process; the gateway is ``gateway serve`` in its own process,
from ``--root`` (default: this tree), so an older checkout (say ``git archive main``)
is measured against the same simulators and data. Everything listens on 127.0.0.1;
every request has a timeout and each measurement is repeated ``--repeat`` times.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from gateway.simulation import RequestLog  # noqa: E402
from gateway.simulators import SIMULATORS, BackgroundServer, SimulatorSet, demo_config  # noqa: E402

PAGE = """query($f: OrderFilter, $after: String) {
  orders(first: 500, filter: $f, after: $after) {
    nodes { source sourceId createdAt } pageInfo { hasNextPage endCursor } } }"""
NEWEST = "{ orders(first: 500) { nodes { createdAt } } }"
#: A whole run's ceiling: the slowest case (the old code at 20 ms) takes a few seconds.
REQUEST_TIMEOUT_S = 300


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


def write_config(path: Path, sim_url: str, pushdown: bool) -> None:
    conf = demo_config(sim_url)
    lines = [
        "[server]",
        "access_log = false",
        "",
        "[security]",
        "require_auth = false",
        'anonymous_scopes = ["orders:read"]',
    ]
    for name, table in conf["sources"].items():
        # Measured here: calls and time of the lister, not HighLevel's 100 calls / 10 s.
        table = {**table, "pushdown": pushdown}
        if table["kind"] == "highlevel":
            table["rate_limit"] = 0
        lines += ["", f'[sources."{name}"]'] + [f"{k} = {toml_value(v)}" for k, v in table.items()]
    path.write_text("\n".join(lines) + "\n")


@contextmanager
def gateway(root: Path, config: Path) -> Iterator[str]:
    port = free_port()
    argv = [sys.executable, "-m", "gateway", "serve", "--config", str(config), "--port", str(port)]
    env = {**os.environ, "PYTHONPATH": str(root)}
    proc = subprocess.Popen(
        argv, cwd=root, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError("the gateway did not start") from None
                time.sleep(0.1)
        yield url
    finally:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def post(client: httpx.Client, url: str, query: str, variables: dict[str, Any]) -> Any:
    body = client.post(f"{url}/graphql", json={"query": query, "variables": variables}).json()
    if "errors" in body:
        raise RuntimeError(f"the gateway answered errors: {body['errors']}")
    return body["data"]["orders"]


def measure(url: str, log: RequestLog, repeat: int) -> list[dict[str, Any]]:
    """Page 1 and page 2 of the window, each ``repeat`` times: calls, ms, what came back."""
    rows: list[dict[str, Any]] = []
    with httpx.Client(timeout=REQUEST_TIMEOUT_S) as client:
        newest = post(client, url, NEWEST, {})["nodes"]
        window = {"createdAfter": newest[-1]["createdAt"]}
        after = None
        for page in (1, 2):
            times, calls = [], Counter[str]()
            for _ in range(repeat):
                log.clear()
                started = time.perf_counter()
                conn = post(client, url, PAGE, {"f": window, "after": after})
                times.append((time.perf_counter() - started) * 1000)
                calls = Counter(e.mount for e in log.entries)
            rows.append(
                {
                    "page": page,
                    "orders": len(conn["nodes"]),
                    "has_next": conn["pageInfo"]["hasNextPage"],
                    "calls": sum(calls.values()),
                    "per_kind": dict(calls),
                    "ms": statistics.median(times),
                }
            )
            after = conn["pageInfo"]["endCursor"]
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--orders", type=int, default=4000, help="orders per simulator")
    parser.add_argument("--latencies", default="0,20", help="backend latencies in ms")
    parser.add_argument("--root", type=Path, default=ROOT, help="the gateway tree to run")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    if not 1 <= args.repeat <= 20 or not 0 <= args.orders <= 100_000:
        parser.error("--repeat is 1 to 20, --orders 0 to 100000")
    sims = SimulatorSet(options={"highlevel": {"rate_limit": None}}, orders=args.orders)
    server = BackgroundServer(sims.app()).start()
    total = sum(
        len(d.orders) if isinstance(d.orders, list) else sum(map(len, d.orders.values()))
        for d in sims.data.values()
    )
    print(f"{total} orders in {len(SIMULATORS)} simulators; gateway from {args.root}")
    print("latency | push-down | page | orders | hasNextPage | backend calls | per kind | ms")
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for latency in (int(x) for x in args.latencies.split(",")):
                sims.faults.clear()
                for kind in SIMULATORS if latency else ():
                    sims.faults.set(kind, f"latency={latency}")
                for pushdown in (True, False):
                    config = Path(tmp) / f"windows-{pushdown}.toml"
                    write_config(config, server.base_url, pushdown)
                    with gateway(args.root, config) as url:
                        for row in measure(url, sims.log, args.repeat):
                            kinds = ", ".join(
                                f"{k} {n}" for k, n in sorted(row["per_kind"].items())
                            )
                            print(
                                f"{latency} ms | {'on' if pushdown else 'off'} | {row['page']} | "
                                f"{row['orders']} | {row['has_next']} | {row['calls']} | "
                                f"{kinds or '-'} | {row['ms']:.0f}",
                                flush=True,
                            )
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
