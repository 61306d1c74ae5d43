"""/readyz answers whether this replica can serve, whatever its backends do; /healthz
whether the process is up."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
from starlette.testclient import TestClient

from gateway.app import create_app
from tests.conftest import KINDS, SOURCE_OF, Simulators, gateway_client
from tests.live import wait_until_up
from tests.redis_server import free_port

LIST = "{ orders(first: 5) { nodes { id } } }"
GATEWAY = [sys.executable, "-m", "gateway", "serve"]


def test_ready_through_every_backend_failing_with_each_state_listed(sims: Simulators) -> None:
    for kind in KINDS:
        sims.set.faults.set(kind, "status=503")
    overrides = {name: {"retries": 0} for name in sims.config()["sources"]}
    with gateway_client(sims.settings(overrides=overrides)) as client:
        before = client.get("/readyz")
        failed = client.post("/graphql", json={"query": LIST}).json()
        after = client.get("/readyz")
        health = client.get("/healthz")
    assert before.status_code == 200
    assert {s["healthy"] for s in before.json()["sources"].values()} == {True}
    assert failed["data"]["orders"]["nodes"] == []
    assert {e["extensions"]["source"] for e in failed["errors"]} == set(overrides)
    assert after.status_code == 200 and after.json()["ready"] is True
    assert after.json()["sources"] == {
        name: {"kind": kind, "healthy": False} for kind, name in SOURCE_OF.items()
    }
    assert after.json()["cache"] == {"backend": "memory", "healthy": True}
    assert health.status_code == 200 and health.json() == {"status": "ok"}


def test_not_ready_before_start_up(sims: Simulators) -> None:
    # Outside `with`, the lifespan has not run: no sources, no cache opened yet.
    client = TestClient(create_app(sims.settings()), raise_server_exceptions=False)
    response = client.get("/readyz")
    assert response.status_code == 503 and response.json() == {"ready": False}


def test_every_worker_says_ready_while_a_backend_fails(sims: Simulators, tmp_path: Path) -> None:
    """With --workers 2 each worker keeps its own view of the backends; readiness must not
    depend on which one a probe reaches (it flipped between 200 and 503 before)."""
    source = sims.config(["hamgam"])["sources"]["eu-shop"]
    config = tmp_path / "gateway.toml"
    config.write_text(
        f"""
[security]
require_auth = false
anonymous_scopes = ["orders:read"]

[sources.eu-shop]
kind = "hamgam"
base_url = "{sims.base_url}/hamgam"
token = "${{SHOP_TOKEN}}"
currency = "EUR"
retries = 0
"""
    )
    port = free_port()
    process = subprocess.Popen(
        [*GATEWAY, "--workers", "2", "--config", str(config), "--port", str(port)],
        env={**os.environ, "SHOP_TOKEN": source["token"]},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, 60)
        sims.set.faults.set("hamgam", "status=503")
        # fresh connections: both workers get failing requests, whichever each reaches
        failed = [httpx.post(f"{url}/graphql", json={"query": LIST}, timeout=10) for _ in range(8)]
        probes = [httpx.get(f"{url}/readyz", timeout=5) for _ in range(20)]
    finally:
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=20)
    assert all(r.json()["errors"][0]["extensions"]["source"] == "eu-shop" for r in failed)
    assert [p.status_code for p in probes] == [200] * 20
    assert all(p.json()["ready"] is True for p in probes)
    # each probe still says what its worker saw of the backend (which worker answers is
    # the kernel's choice, so not which state)
    assert {p.json()["sources"]["eu-shop"]["kind"] for p in probes} == {"hamgam"}
