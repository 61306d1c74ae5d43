"""@defer over HTTP: the fast part leaves before a slow source answers, the rest follows
in the format the client asked for (Apollo Client's deferSpec=20220824 or graphql-core's),
and every rule of a query holds in the deferred parts (docs/clients.md)."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import settings_from_mapping
from tests.conftest import SOURCE_OF, Simulators
from tests.live import live_gateway

APOLLO = Path(__file__).parent / "clients" / "apollo"
APOLLO_ACCEPT = "multipart/mixed;deferSpec=20220824,application/json"

#: the fast source's order first; the slow one's in a deferred fragment
DEFERRED = """
query Two($fast: ID!, $slow: ID!) {
  fast: order(id: $fast) { id sourceKind number status }
  ... @defer(label: "slow") {
    slow: order(id: $slow) { id sourceKind number customer { email } }
  }
}
"""
PLAIN = """
query Two($fast: ID!, $slow: ID!) {
  fast: order(id: $fast) { id sourceKind number status }
  slow: order(id: $slow) { id sourceKind number customer { email } }
}
"""

SLOW, FAST = "licensespring", "hamgam"


def ids_by_kind(client: TestClient | httpx.Client) -> dict[str, str]:
    body = client.post(
        "/graphql", json={"query": "{ orders(first: 100) { nodes { id sourceKind } } }"}
    ).json()
    found: dict[str, str] = {}
    for node in body["data"]["orders"]["nodes"]:
        found.setdefault(node["sourceKind"].lower(), node["id"])
    return found


def parts(response: httpx.Response) -> Iterator[tuple[float, dict[str, Any]]]:
    """Each multipart part's JSON as it arrives, with the time it was read."""
    boundary = "\r\n---"
    buffer = "\r\n"  # the body opens with the boundary itself
    for chunk in response.iter_text():
        buffer += chunk
        while True:
            start = buffer.find(boundary)
            end = buffer.find(boundary, start + len(boundary))
            if start < 0 or end < 0:
                break
            part, buffer = buffer[start + len(boundary) : end], buffer[end:]
            _, _, body = part.partition("\r\n\r\n")
            if body.strip():
                yield time.monotonic(), json.loads(body)


def test_the_fast_part_leaves_before_a_hanging_source_and_its_error_comes_later(
    sims: Simulators,
) -> None:
    # the slow source never answers: the first part cannot have waited for it
    settings = sims.settings(overrides={SOURCE_OF[SLOW]: {"timeout_s": 1, "retries": 0}})
    with live_gateway(settings) as url, httpx.Client(base_url=url, timeout=30) as client:
        ids = ids_by_kind(client)
        sims.set.faults.set(SLOW, "hang")
        variables = {"fast": ids[FAST], "slow": ids[SLOW]}
        with client.stream(
            "POST",
            "/graphql",
            json={"query": DEFERRED, "variables": variables},
            headers={"accept": APOLLO_ACCEPT},
        ) as response:
            assert response.headers["content-type"] == (
                'multipart/mixed; boundary="-"; deferSpec=20220824'
            )
            received = [body for _, body in parts(response)]
    first, *later = received
    assert first["hasNext"] is True
    assert "errors" not in first
    assert first["data"] == {
        "fast": {
            "id": ids[FAST],
            "sourceKind": "HAMGAM",
            "number": first["data"]["fast"]["number"],
            "status": first["data"]["fast"]["status"],
        }
    }
    assert first["data"]["fast"]["number"]
    assert len(later) == 1 and later[0]["hasNext"] is False
    (item,) = later[0]["incremental"]
    assert item["path"] == [] and item["label"] == "slow"
    assert item["data"] == {"slow": None}
    (error,) = item["errors"]
    assert error["path"] == ["slow"]
    assert error["extensions"]["code"] == "BACKEND_TIMEOUT"
    assert error["extensions"]["source"] == SOURCE_OF[SLOW]


def test_parts_arrive_before_the_slow_answer_and_add_up_to_the_plain_answer(
    sims: Simulators,
) -> None:
    latency_s = 1.5
    with live_gateway(sims.settings()) as url, httpx.Client(base_url=url, timeout=30) as client:
        ids = ids_by_kind(client)
        variables = {"fast": ids[FAST], "slow": ids[SLOW]}
        plain = client.post("/graphql", json={"query": PLAIN, "variables": variables}).json()
        sims.log.clear()
        sims.set.faults.set(SLOW, f"latency={latency_s * 1000:.0f};path=/api/v1")
        with client.stream(
            "POST",
            "/graphql",
            json={"query": DEFERRED, "variables": variables},
            headers={"accept": "multipart/mixed"},  # graphql-core's own format
        ) as response:
            received = list(parts(response))
    (asked,) = sims.log.of(SLOW)
    (first_at, first), (_, second) = received
    # the simulator answered no sooner than latency_s after the call reached it
    assert first_at < asked.at + latency_s
    assert first["pending"] == [{"id": "0", "path": [], "label": "slow"}]
    assert second["incremental"] == [{"id": "0", "data": {"slow": plain["data"]["slow"]}}]
    assert second["completed"] == [{"id": "0"}]
    assert {**first["data"], **second["incremental"][0]["data"]} == plain["data"]


def test_a_client_without_multipart_gets_one_whole_answer(sims: Simulators) -> None:
    with TestClient(create_app(sims.settings())) as client:
        ids = ids_by_kind(client)
        variables = {"fast": ids[FAST], "slow": ids[SLOW]}
        plain = client.post("/graphql", json={"query": PLAIN, "variables": variables})
        merged = client.post("/graphql", json={"query": DEFERRED, "variables": variables})
    assert merged.headers["content-type"].startswith("application/json")
    assert merged.json() == plain.json()
    assert plain.json()["data"]["slow"]["customer"]["email"]


def test_without_defer_a_multipart_accept_changes_no_byte(sims: Simulators) -> None:
    with TestClient(create_app(sims.settings())) as client:
        ids = ids_by_kind(client)
        body = {"query": PLAIN, "variables": {"fast": ids[FAST], "slow": ids[SLOW]}}
        json_answer = client.post("/graphql", json=body, headers={"accept": "application/json"})
        multipart = client.post("/graphql", json=body, headers={"accept": APOLLO_ACCEPT})
    assert multipart.headers["content-type"] == json_answer.headers["content-type"]
    assert multipart.content == json_answer.content


def test_deferred_personal_data_is_masked_without_pii_read(sims: Simulators) -> None:
    conf = sims.config()
    conf["security"] = {"require_auth": False, "anonymous_scopes": ["orders:read"]}
    settings = settings_from_mapping(conf)
    with live_gateway(settings) as url, httpx.Client(base_url=url, timeout=30) as client:
        ids = ids_by_kind(client)
        with client.stream(
            "POST",
            "/graphql",
            json={"query": DEFERRED, "variables": {"fast": ids[FAST], "slow": ids[SLOW]}},
            headers={"accept": APOLLO_ACCEPT},
        ) as response:
            received = [body for _, body in parts(response)]
    slow = received[-1]["incremental"][0]["data"]["slow"]
    assert slow["id"] == ids[SLOW]
    assert slow["customer"] == {"email": None}


def test_a_deferred_fragment_counts_in_the_cost(sims: Simulators) -> None:
    conf = sims.config()
    conf["security"]["limits"] = {"max_cost": 20}
    heavy = "orders(first: 100) { nodes { id customer { email } } }"
    with TestClient(create_app(settings_from_mapping(conf))) as client:
        plain = client.post("/graphql", json={"query": "{ " + heavy + " }"}).json()
        deferred = client.post(
            "/graphql",
            json={"query": "{ ... @defer { " + heavy + " } }"},
            headers={"accept": APOLLO_ACCEPT},
        ).json()
    assert plain["errors"][0]["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert deferred == plain


def test_export_refuses_defer(sims: Simulators) -> None:
    with TestClient(create_app(sims.settings())) as client:
        response = client.post(
            "/export",
            json={"query": "{ orders { nodes { id ... @defer { number } } } }"},
        )
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "BAD_USER_INPUT"
    assert "@defer" in error["message"]


def test_apollo_client_reads_the_parts_into_the_plain_answer(sims: Simulators) -> None:
    node = shutil.which("node")
    if node is None or not (APOLLO / "node_modules" / "@apollo" / "client").exists():
        pytest.fail("node or Apollo Client is missing: run `bash .ci/run` or `make install`")
    with live_gateway(sims.settings()) as url, httpx.Client(base_url=url, timeout=30) as client:
        ids = ids_by_kind(client)
        variables = {"fast": ids[FAST], "slow": ids[SLOW]}
        plain = client.post("/graphql", json={"query": PLAIN, "variables": variables}).json()
        sims.set.faults.set(SLOW, "latency=500;path=/api/v1")
        done = subprocess.run(
            [node, str(APOLLO / "defer.mjs"), f"{url}/graphql", DEFERRED, json.dumps(variables)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    streaming, *_, complete = report["emitted"]
    assert streaming["dataState"] == "streaming"
    assert "slow" not in streaming["data"]
    assert complete["dataState"] == "complete"
    assert report["errors"] == []

    def without_typename(value: Any) -> Any:
        if isinstance(value, dict):
            return {k: without_typename(v) for k, v in value.items() if k != "__typename"}
        return value

    assert without_typename(report["data"]) == plain["data"]
