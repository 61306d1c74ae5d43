"""/metrics: every name and label docs/operations.md gives, counted from real traffic.

Counters live for the whole test process, so each test compares a scrape before and
after its own requests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gateway.telemetry import metrics
from tests.conftest import Simulators, gateway_client, gql
from tests.telemetry_helpers import Samples, delta, parse, scrape, value

ROOT_DIR = Path(__file__).resolve().parents[1]
ORDER = '{ orderBySourceId(source: "eu-shop", sourceId: "123") { number } }'


def test_every_name_and_label_of_the_design_is_exposed(sims: Simulators) -> None:
    metrics.record_cache("eu-shop", "hit")
    with gateway_client(sims.settings(["hamgam"])) as client:
        gql(client, "query OneOrder " + ORDER)
        text = client.get("/metrics").text
    families = {line.split()[2]: line.split()[3] for line in text.splitlines() if "# TYPE" in line}
    assert families["gateway_requests_total"] == "counter"
    assert families["gateway_request_duration_seconds"] == "histogram"
    assert families["gateway_backend_requests_total"] == "counter"
    assert families["gateway_backend_request_duration_seconds"] == "histogram"
    assert families["gateway_backend_circuit_open"] == "gauge"
    assert families["gateway_cache_requests_total"] == "counter"
    assert families["gateway_client_requests_total"] == "counter"
    samples = parse(text)
    labels = {name: {k for k, _ in lab} for name, lab in samples}
    assert labels["gateway_requests_total"] == {"operation", "outcome"}
    assert labels["gateway_request_duration_seconds_count"] == set()
    assert labels["gateway_backend_requests_total"] == {"source", "kind", "outcome"}
    assert labels["gateway_backend_request_duration_seconds_count"] == {"source", "kind"}
    assert labels["gateway_backend_circuit_open"] == {"source"}
    assert labels["gateway_cache_requests_total"] == {"source", "result"}
    assert labels["gateway_client_requests_total"] == {"client", "outcome"}


def test_requests_are_counted_by_operation_and_outcome(sims: Simulators) -> None:
    sims.set.faults.set("zaveit", "status=500")
    with gateway_client(sims.settings(["hamgam", "zaveit"])) as client:
        before = scrape(client)
        gql(client, "query OneOrder " + ORDER)
        gql(client, ORDER)  # anonymous
        body = gql(
            client,
            """query Both { a: orderBySourceId(source: "eu-shop", sourceId: "123") { number }
            b: orderBySourceId(source: "reseller", sourceId: "order-id-1") { number } }""",
        )
        assert body["data"]["a"] and body["errors"]  # partial
        gql(client, "query Broken { nope }")  # validation error
        gql(client, "query Two { a: __typename } query Three { b: __typename }")
        client.post("/graphql", json={"query": ORDER, "operationName": "NotInTheDocument"})
        client.get("/graphql", headers={"accept": "text/html"})  # the IDE page: not counted
        after = scrape(client)
    count = "gateway_requests_total"
    assert delta(before, after, count, operation="OneOrder", outcome="ok") == 1
    assert delta(before, after, count, operation="anonymous", outcome="ok") == 1
    assert delta(before, after, count, operation="Both", outcome="partial") == 1
    assert delta(before, after, count, operation="Broken", outcome="error") == 1
    # without operationName the first of two operations runs (Strawberry's choice)
    assert delta(before, after, count, operation="Two", outcome="ok") == 1
    # a made-up operationName is no label value
    assert delta(before, after, count, operation="anonymous", outcome="error") == 1
    assert delta(before, after, count, operation="NotInTheDocument", outcome="error") == 0
    assert delta(before, after, "gateway_request_duration_seconds_count") == 6


def test_refused_requests_count_as_errors(sims: Simulators) -> None:
    settings = sims.settings(["hamgam"])
    settings = settings.model_copy(
        update={"security": settings.security.model_copy(update={"require_auth": True})}
    )
    with gateway_client(settings) as client:
        before = scrape(client)
        assert client.post("/graphql", json={"query": ORDER}).status_code == 401
        assert client.post("/graphql", content=b"x" * 2_000_000).status_code == 413
        after = scrape(client)
    assert (
        delta(before, after, "gateway_requests_total", operation="anonymous", outcome="error") == 2
    )


def test_exports_are_counted_by_operation_and_outcome_but_not_timed(sims: Simulators) -> None:
    query = "query Ids { orders { nodes { id } } }"
    with gateway_client(sims.settings(["hamgam"])) as client:
        before = scrape(client)
        whole = client.get("/export", params={"query": query})
        assert whole.status_code == 200 and whole.text.startswith("id\r\n")
        assert client.get("/export", params={"query": query, "format": "xml"}).status_code == 400
        assert client.head("/export", params={"query": query}).status_code == 200
        sims.set.faults.set("hamgam", "status=500")
        failed = client.get("/export", params={"query": "query Failing " + query[10:]})
        sims.set.faults.clear()
        after = scrape(client)
    assert failed.status_code >= 500
    count = "gateway_requests_total"
    assert delta(before, after, count, operation="Ids", outcome="ok") == 2  # GET and HEAD
    # a bad parameter is refused before the document is read: no name yet
    assert delta(before, after, count, operation="anonymous", outcome="error") == 1
    assert delta(before, after, count, operation="Failing", outcome="error") == 1
    # an export streams for minutes: the latency histogram is /graphql's alone
    assert delta(before, after, "gateway_request_duration_seconds_count") == 0


def test_operation_names_past_200_are_other(
    sims: Simulators, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(metrics, "_operations", set())
    with gateway_client(sims.settings(["hamgam"])) as client:
        before = scrape(client)
        for i in range(metrics.MAX_OPERATIONS + 5):
            gql(client, f"query Op{i} {{ __typename }}")
        gql(client, "query Op0 { __typename }")  # a known name stays itself
        after = scrape(client)
    count = "gateway_requests_total"
    assert delta(before, after, count, operation="Op0", outcome="ok") == 2
    assert delta(before, after, count, operation="Op199", outcome="ok") == 1
    assert delta(before, after, count, operation="Op200", outcome="ok") == 0
    assert delta(before, after, count, operation="other", outcome="ok") == 5


def test_backend_calls_by_outcome(sims: Simulators) -> None:
    settings = sims.settings(["hamgam"], overrides={"eu-shop": {"retries": 0, "timeout_s": 0.3}})
    faults = sims.set.faults
    total = "gateway_backend_requests_total"
    labels = {"source": "eu-shop", "kind": "hamgam"}
    with gateway_client(settings) as client:
        before = scrape(client)
        gql(client, ORDER)
        gql(client, '{ orderBySourceId(source: "eu-shop", sourceId: "424242") { number } }')
        for spec in ("status=500", "hang", "rate-limit=1"):
            faults.set("hamgam", spec)
            assert gql(client, ORDER)["errors"]
        faults.clear()
        after = scrape(client)
    assert delta(before, after, total, **labels, outcome="ok") == 1
    assert delta(before, after, total, **labels, outcome="not_found") == 1
    assert delta(before, after, total, **labels, outcome="error") == 1
    assert delta(before, after, total, **labels, outcome="timeout") == 1
    assert delta(before, after, total, **labels, outcome="rate_limited") == 1
    count = "gateway_backend_request_duration_seconds_count"
    assert delta(before, after, count, **labels) == 5
    # the hang lasted the timeout: at least one call in a bucket above 0.25 s
    slow = delta(
        before, after, "gateway_backend_request_duration_seconds_bucket", **labels, le="0.25"
    )
    assert slow == 4


def test_circuit_open_gauge_and_refused_calls(sims: Simulators) -> None:
    settings = sims.settings(
        ["hamgam"],
        overrides={"eu-shop": {"retries": 0, "breaker_threshold": 1, "breaker_cooldown_s": 0.2}},
    )
    gauge = "gateway_backend_circuit_open"
    with gateway_client(settings) as client:
        before = scrape(client)
        assert value(before, gauge, source="eu-shop") == 0
        sims.set.faults.set("hamgam", "status=503")
        gql(client, ORDER)  # fails: the circuit opens
        gql(client, ORDER)  # refused without a call
        opened = scrape(client)
        sims.set.faults.clear()
        time.sleep(0.3)
        gql(client, ORDER)  # the trial call succeeds: closed again
        closed = scrape(client)
    assert value(opened, gauge, source="eu-shop") == 1
    refused = delta(
        before,
        opened,
        "gateway_backend_requests_total",
        source="eu-shop",
        kind="hamgam",
        outcome="circuit_open",
    )
    assert refused == 1
    assert value(closed, gauge, source="eu-shop") == 0


def test_record_cache_counts_by_source_and_result(sims: Simulators) -> None:
    with gateway_client(sims.settings(["hamgam"])) as client:
        before = scrape(client)
        for result in ("hit", "hit", "miss", "stale"):
            metrics.record_cache("hl-main", result)
        after = scrape(client)
    total = "gateway_cache_requests_total"
    assert delta(before, after, total, source="hl-main", result="hit") == 2
    assert delta(before, after, total, source="hl-main", result="miss") == 1
    assert delta(before, after, total, source="hl-main", result="stale") == 1


def test_metrics_can_be_switched_off(sims: Simulators) -> None:
    from gateway.config import settings_from_mapping

    conf = sims.config(["hamgam"])
    conf["server"] = {"metrics": False}
    before = parse(metrics.render().decode())
    with gateway_client(settings_from_mapping(conf)) as client:
        assert client.get("/metrics").status_code == 404
        assert gql(client, "query OneOrder " + ORDER)["data"]
    after = parse(metrics.render().decode())
    assert after == before  # nothing counted either


WORKER = """
import sys
from gateway.telemetry import metrics
metrics.register_source("eu-shop", "hamgam")
metrics.record_request("OneOrder", "ok", 0.01)
metrics.record_backend("eu-shop", "hamgam", "ok", 0.002)
metrics.record_cache("eu-shop", "hit")
metrics.record_client("frontend", "ok")
metrics.record_client("anonymous", "limited")
metrics.set_circuit_open("eu-shop", sys.argv[1] == "open")
"""

SCRAPE = """
import sys
from gateway.telemetry import metrics
sys.stdout.write(metrics.render().decode())
"""


def test_workers_are_summed_in_multiprocess_mode(tmp_path: Path) -> None:
    # What `gateway serve --workers N` does: the directory is prepared before the
    # processes start; each writes its own values; any process renders the sum.
    env = dict(os.environ)
    store = str(tmp_path / "m")
    prepare = f"from gateway.telemetry import metrics; metrics.prepare_multiprocess({store!r})"
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "stale.db").write_bytes(b"left by an earlier run")
    subprocess.run([sys.executable, "-c", prepare], check=True, env=env, cwd=ROOT_DIR)
    assert not (tmp_path / "m" / "stale.db").exists()
    env["PROMETHEUS_MULTIPROC_DIR"] = str(tmp_path / "m")
    for state in ("open", "closed", "closed"):
        subprocess.run([sys.executable, "-c", WORKER, state], check=True, env=env, cwd=ROOT_DIR)
    done = subprocess.run(
        [sys.executable, "-c", SCRAPE], check=True, env=env, cwd=ROOT_DIR, capture_output=True
    )
    samples = parse(done.stdout.decode())
    assert value(samples, "gateway_requests_total", operation="OneOrder", outcome="ok") == 3
    assert value(samples, "gateway_request_duration_seconds_count") == 3
    backend = {"source": "eu-shop", "kind": "hamgam"}
    assert value(samples, "gateway_backend_requests_total", **backend, outcome="ok") == 3
    assert value(samples, "gateway_backend_request_duration_seconds_count", **backend) == 3
    assert value(samples, "gateway_cache_requests_total", source="eu-shop", result="hit") == 3
    clients = "gateway_client_requests_total"
    assert value(samples, clients, client="frontend", outcome="ok") == 3
    assert value(samples, clients, client="anonymous", outcome="limited") == 3
    # one worker's open breaker shows (the largest value of the live processes)
    assert value(samples, "gateway_backend_circuit_open", source="eu-shop") == 1


def test_a_worker_starting_drops_the_gauges_of_workers_that_died(tmp_path: Path) -> None:
    """uvicorn starts a worker in place of each that died; as it starts (worker_app) the
    dead one's open breaker stops showing, while its counts stay summed."""
    store = tmp_path / "m"
    store.mkdir()
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(store)}
    died = subprocess.run(
        [sys.executable, "-c", WORKER + "print(__import__('os').getpid())", "open"],
        check=True,
        env=env,
        cwd=ROOT_DIR,
        capture_output=True,
    )
    pid = int(died.stdout)
    starting = "from gateway.telemetry import metrics; print(metrics.drop_dead_workers())"

    def summed() -> Samples:
        done = subprocess.run(
            [sys.executable, "-c", SCRAPE], check=True, env=env, cwd=ROOT_DIR, capture_output=True
        )
        return parse(done.stdout.decode())

    assert value(summed(), "gateway_backend_circuit_open", source="eu-shop") == 1
    dropped = subprocess.run(
        [sys.executable, "-c", starting], check=True, env=env, cwd=ROOT_DIR, capture_output=True
    )
    assert dropped.stdout.decode().strip() == f"[{pid}]"
    samples = summed()
    assert ("gateway_backend_circuit_open", frozenset({("source", "eu-shop")})) not in samples
    assert value(samples, "gateway_requests_total", operation="OneOrder", outcome="ok") == 1
