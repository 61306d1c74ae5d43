"""How many orders the simulators hold: the demo's data by default, N per kind when asked."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest

from gateway.simulators import SIMULATORS, SimulatorSet
from gateway.sources.adobe_vip.simulator import SEED_ORDERS as ADOBE_SEED_ORDERS
from gateway.sources.hamgam.simulator import DEMO_TOKEN as HAMGAM_TOKEN

ROOT = Path(__file__).resolve().parent.parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@contextmanager
def _running(*args: str, ready: str) -> Iterator[None]:
    """`gateway <args>` in its own process until ``ready`` answers 200 (at most 60 s)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", *args],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            try:
                if httpx.get(ready, timeout=1).status_code < 500:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, f"gateway {args[0]} did not come up"
                time.sleep(0.1)
        yield
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
        assert b"Traceback" not in err


def test_default_data_is_the_demo_data_and_orders_sets_every_kind() -> None:
    default, sized = SimulatorSet(), SimulatorSet(orders=7)
    default.app()
    sized.app()
    for kind, (module, _) in SIMULATORS.items():
        assert vars(default.data[kind]) == vars(module.sample_data())
        assert vars(sized.data[kind]) == vars(module.sample_data(7))
    # The seed's own orders stay; then exactly the N generated ones.
    assert len(sized.data["licensespring"].orders) == 1 + 7
    assert len(sized.data["highlevel"].orders) == 1 + 7
    adobe = sized.data["adobe_vip"].orders
    assert sum(len(v) for v in adobe.values()) == len(ADOBE_SEED_ORDERS) + 7


def test_simulate_serves_the_asked_number_of_orders() -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/hamgam/api/orders/"
    headers = {"Authorization": f"Token {HAMGAM_TOKEN}"}
    with _running("simulate", "--port", str(port), "--orders", "250", ready=url):
        body = httpx.get(url, params={"page_size": 1}, headers=headers, timeout=10).json()
    assert body["count"] == 1 + 250  # the seed's order and 250 generated


def test_demo_lists_the_asked_number_of_orders() -> None:
    port = _free_port()
    url = f"http://127.0.0.1:{port}/graphql"
    query = (
        '{ orders(first: 500, filter: {sources: ["eu-shop"]}) '
        "{ nodes { sourceId } pageInfo { hasNextPage } } }"
    )
    ready = f"http://127.0.0.1:{port}/healthz"
    with _running("demo", "--port", str(port), "--orders", "300", ready=ready):
        body = httpx.post(url, json={"query": query}, timeout=30).json()
    orders = body["data"]["orders"]
    assert len(orders["nodes"]) == 1 + 300 and orders["pageInfo"]["hasNextPage"] is False


@pytest.mark.parametrize("value", ["-1", "100001", "many"])
def test_a_bad_order_count_is_refused_in_one_line(value: str) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "simulate", "--orders", value],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert done.returncode == 2
    assert "argument --orders" in done.stderr and "Traceback" not in done.stderr
