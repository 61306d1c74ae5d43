"""`gateway serve --workers N`: N processes on one port sharing one Redis cache."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.conftest import Simulators
from tests.redis_server import CACHE_KEY, free_port
from tests.telemetry_helpers import parse, value

QUERY = """{ orderBySourceId(source: "hl-main", sourceId: "653f5e0cde5a1314e62a837c") {
  sourceId customer { email } } }"""


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def test_two_workers_answer_on_one_port_and_share_the_cache(
    sims: Simulators, redis_url: str, tmp_path: Path
) -> None:
    source = sims.config(["highlevel"])["sources"]["hl-main"]
    config = tmp_path / "gateway.toml"
    config.write_text(
        f"""
[security]
require_auth = false
anonymous_scopes = ["orders:read", "pii:read"]

[cache]
backend = "redis"
url = "{redis_url}"
encryption_key = "{CACHE_KEY}"

[sources.hl-main]
kind = "highlevel"
base_url = "{sims.base_url}/highlevel"
token = "${{HL_TOKEN}}"
location_id = "{source["location_id"]}"
cache_ttl_s = 30
"""
    )
    token = source["token"]
    port = free_port()
    command = [sys.executable, "-m", "gateway", "serve", "--workers", "2"]
    process = subprocess.Popen(
        [*command, "--config", str(config), "--port", str(port)],
        env={**os.environ, "HL_TOKEN": token},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        workers = [c for c in children(process.pid) if b"spawn_main" in _cmdline(c)]
        assert len(workers) == 2, workers
        with httpx.Client(base_url=url, timeout=10) as client:
            bodies = [client.post("/graphql", json={"query": QUERY}).json() for _ in range(10)]
            exposed = client.get("/metrics").text
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    assert all(b == bodies[0] for b in bodies)
    assert bodies[0]["data"]["orderBySourceId"]["customer"]["email"]
    # /metrics sums what both workers counted, whichever answered the scrape
    counted = [
        line
        for line in exposed.splitlines()
        if line.startswith('gateway_requests_total{operation="anonymous",outcome="ok"}')
    ]
    assert [float(line.rsplit(" ", 1)[1]) for line in counted] == [10.0], exposed[:2000]
    # ten answers from two processes, one backend call (the order carries the email)
    assert len(sims.log.of("highlevel")) == 1, stderr.decode()[-2000:]


def test_two_workers_share_one_client_quota_through_redis(
    sims: Simulators, redis_url: str, tmp_path: Path
) -> None:
    source = sims.config(["hamgam"])["sources"]["eu-shop"]
    config = tmp_path / "gateway.toml"
    config.write_text(
        f"""
[security]
require_auth = false
anonymous_scopes = ["orders:read"]

[security.limits]
requests_per_minute_per_client = 5

[cache]
backend = "redis"
url = "{redis_url}"
encryption_key = "{CACHE_KEY}"

[sources.eu-shop]
kind = "hamgam"
base_url = "{source["base_url"]}"
token = "{source["token"]}"
currency = "{source["currency"]}"
"""
    )
    port = free_port()
    command = [sys.executable, "-m", "gateway", "serve", "--workers", "2"]
    process = subprocess.Popen(
        [*command, "--config", str(config), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    query = '{ orderBySourceId(source: "eu-shop", sourceId: "123") { number } }'
    try:
        url = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{url}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        statuses = []
        for i in range(8):
            # a new connection each time (either worker may take it); each says it is
            # someone else, which `gateway serve` does not believe without trusted_proxies
            with httpx.Client(base_url=url, timeout=10) as client:
                spoof = {"x-forwarded-for": f"198.51.100.{i}"}
                statuses.append(client.post("/graphql", json={"query": query}, headers=spoof))
        exposed = httpx.get(f"{url}/metrics", timeout=10).text
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=20)
    assert [r.status_code for r in statuses] == [200] * 5 + [429] * 3, stderr.decode()[-2000:]
    assert all(r.json()["data"]["orderBySourceId"]["number"] for r in statuses[:5])
    assert all(
        r.json()["errors"][0]["extensions"]["code"] == "CLIENT_RATE_LIMITED" for r in statuses[5:]
    )
    samples = parse(exposed)
    clients = "gateway_client_requests_total"
    assert value(samples, clients, client="anonymous", outcome="ok") == 5
    assert value(samples, clients, client="anonymous", outcome="limited") == 3


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""
