"""/export over real HTTP (uvicorn): streaming, a cut-off, a client that leaves; the CLI."""

from __future__ import annotations

import csv
import io
import json
import logging
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.app import create_app
from gateway.cli import main
from gateway.config import settings_from_mapping
from gateway.export_cli import RowCounter
from gateway.simulators import BackgroundServer, SimulatorSet, demo_config
from gateway.sources.hamgam.simulator import DEMO_TOKEN
from tests.conftest import SOURCE_OF, Simulators, gateway_client
from tests.telemetry_helpers import delta, parse

QUERY = "{ orders { nodes { id source price { total { amount } } } } }"


class OnFirstByte:
    """Calls ``hook`` as the first body bytes are handed to the server: the next page is
    asked for only after the server took them, so the hook sees page one alone."""

    def __init__(self, app: ASGIApp, hook: Callable[[], None]) -> None:
        self.app, self.hook = app, hook

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] != "/export":
            await self.app(scope, receive, send)
            return
        fired = False

        async def watch(message: Message) -> None:
            nonlocal fired
            if message["type"] == "http.response.body" and message.get("body") and not fired:
                fired = True
                self.hook()
            await send(message)

        await self.app(scope, receive, watch)


def serve(sims: Simulators, hook: Callable[[], None] = lambda: None, page: int = 7) -> Any:
    conf = sims.config()
    conf["security"]["limits"] = {"max_page_size": page}
    app = OnFirstByte(create_app(settings_from_mapping(conf), graphiql=False), hook)
    return BackgroundServer(app, lifespan="on").start()


@pytest.fixture
def stop_after() -> Iterator[list[BackgroundServer]]:
    servers: list[BackgroundServer] = []
    yield servers
    for s in servers:
        s.stop()


def test_the_first_rows_leave_before_the_second_page_is_asked_for(
    sims: Simulators, stop_after: list[BackgroundServer]
) -> None:
    conf = sims.config()
    conf["security"]["limits"] = {"max_page_size": 7}
    with gateway_client(settings_from_mapping(conf)) as c:
        c.post("/graphql", json={"query": "{ orders(first: 7) { nodes { id } } }"})
    one_page = sims.log.count
    sims.log.clear()
    seen: list[int] = []
    server = serve(sims, lambda: seen.append(sims.log.count))
    stop_after.append(server)
    with httpx.Client(base_url=server.base_url, timeout=30) as client:
        response = client.get("/export", params={"query": "{ orders { nodes { id } } }"})
    assert response.status_code == 200
    assert len(response.text.splitlines()) > 7 * 5 + 1
    assert seen == [one_page]
    assert sims.log.count > 5 * one_page


def test_a_source_failing_mid_export_cuts_the_response_off(
    sims: Simulators, stop_after: list[BackgroundServer], caplog: pytest.LogCaptureFixture
) -> None:
    server = serve(sims, lambda: sims.set.faults.set("hamgam", "status=500"))
    stop_after.append(server)
    received = b""
    caplog.set_level(logging.INFO)
    before = parse(httpx.get(f"{server.base_url}/metrics").text)
    with (
        httpx.Client(base_url=server.base_url, timeout=30) as client,
        pytest.raises(httpx.RemoteProtocolError),
        client.stream(
            "GET", "/export", params={"query": QUERY}, headers={"x-request-id": "bi-run-7"}
        ) as response,
    ):
        assert response.status_code == 200
        assert response.headers["x-request-id"] == "bi-run-7"
        for chunk in response.iter_bytes():
            received += chunk
    rows = list(csv.reader(io.StringIO(received.decode(), newline="")))
    assert rows[0] == ["id", "source", "price.total.amount"]
    assert len(rows) - 1 >= 7  # the first page left whole; then the transfer broke
    cut = [r for r in caplog.records if r.name == "gateway.export"]
    assert len(cut) == 1
    message = cut[0].getMessage()
    assert "cut off after" in message and "request bi-run-7" in message
    assert "eu-shop" in message
    # the source and status, never the backend's own words or its paths
    assert "BACKEND_ERROR: source 'eu-shop': the backend failed: HTTP 500" in message
    assert "simulated failure" not in caplog.text and "/api/" not in caplog.text
    assert DEMO_TOKEN not in caplog.text
    # counted as an error in gateway_requests_total, though its status was 200
    after = parse(httpx.get(f"{server.base_url}/metrics").text)
    count = "gateway_requests_total"
    assert delta(before, after, count, operation="anonymous", outcome="error") == 1
    assert delta(before, after, count, operation="anonymous", outcome="ok") == 0


def test_a_client_that_leaves_stops_the_export(
    sims: Simulators, stop_after: list[BackgroundServer]
) -> None:
    conf = sims.config()
    conf["security"]["limits"] = {"max_page_size": 7}
    with gateway_client(settings_from_mapping(conf)) as c:
        whole = c.get("/export", params={"query": QUERY})
    assert whole.status_code == 200
    calls_for_all = sims.log.count
    sims.log.clear()
    for kind in SOURCE_OF:  # every backend slow
        sims.set.faults.set(kind, "latency=40")
    server = serve(sims)
    stop_after.append(server)
    with (
        httpx.Client(base_url=server.base_url, timeout=30) as client,
        client.stream("GET", "/export", params={"query": QUERY}) as response,
    ):
        first = next(response.iter_bytes())
        assert first.startswith(b"id,source")
    # leaving the block closed the connection mid-export
    time.sleep(0.5)
    settled = sims.log.count
    time.sleep(1.0)
    assert sims.log.count == settled  # no backend paging goes on for it
    assert settled < calls_for_all / 3


def test_row_counter_counts_records_not_lines() -> None:
    counter = RowCounter("csv")
    assert counter.feed(b'a,b\r\n1,"two\r\nlines"\r\n2,') == 1
    assert counter.feed(b'"x""y"\r\n') == 1
    assert counter.rows == 2
    ndjson = RowCounter("ndjson")
    assert ndjson.feed(b'{"a":"x\\ny"}\n{"a":1}\n') == 2


def test_cli_writes_the_export_to_a_file(
    sims: Simulators,
    stop_after: list[BackgroundServer],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = serve(sims, page=500)
    stop_after.append(server)
    query = tmp_path / "q.graphql"
    query.write_text(
        "query($s: [String!]) { orders(filter: {sources: $s}) { nodes { id source } } }"
    )
    expected = httpx.get(
        f"{server.base_url}/export",
        params={"query": query.read_text(), "variables": json.dumps({"s": ["eu-shop"]})},
    ).content
    out = tmp_path / "orders.csv"
    args = ["export", str(query), "--var", 's=["eu-shop"]', "--url", server.base_url]
    assert main([*args, "--out", str(out)]) == 0
    assert out.read_bytes() == expected
    assert len(expected.splitlines()) > 10
    assert not (tmp_path / "orders.csv.part").exists()
    err = capsys.readouterr().err
    assert "rows/s" not in err  # stderr is not a terminal: no progress line

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr("sys.stderr", terminal)
        assert main([*args, "--out", str(out)]) == 0
    rows = len(expected.splitlines()) - 1
    assert f"{rows} rows [" in terminal.getvalue()  # rows, elapsed, rows/s
    assert " rows/s]" in terminal.getvalue()

    bad = tmp_path / "bad.graphql"
    bad.write_text('{ order(id: "x") { id } }')
    assert main(["export", str(bad), "--url", server.base_url, "--out", str(out)]) == 1
    assert "BAD_USER_INPUT" in capsys.readouterr().err


def test_cli_keeps_no_file_of_a_cut_off_export(
    sims: Simulators,
    stop_after: list[BackgroundServer],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    server = serve(sims, lambda: sims.set.faults.set("zaveit", "status=503"))
    stop_after.append(server)
    query = tmp_path / "q.graphql"
    query.write_text(QUERY)
    out = tmp_path / "orders.csv"
    assert main(["export", str(query), "--url", server.base_url, "--out", str(out)]) == 1
    assert not out.exists() and not (tmp_path / "orders.csv.part").exists()
    assert "cut off after" in capsys.readouterr().err


def test_cli_in_process_over_a_config(
    sims: Simulators, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    source = sims.config(["hamgam"])["sources"]["eu-shop"]
    config = tmp_path / "gateway.toml"
    config.write_text(
        "[sources.eu-shop]\n"
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in source.items())
        + '[security]\nrequire_auth = false\nanonymous_scopes = ["orders:read"]\n'
    )
    query = tmp_path / "q.graphql"
    query.write_text("{ orders { nodes { source sourceId } } }")
    out = tmp_path / "o.ndjson"
    args = ["export", str(query), "--config", str(config), "--format", "ndjson"]
    assert main([*args, "--out", str(out), "--limit", "5"]) == 0
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(lines) == 5
    assert {line["source"] for line in lines} == {"eu-shop"}
    assert main([*args, "--limit", "2"]) == 0  # to stdout
    assert len(capsys.readouterr().out.splitlines()) == 2


def test_the_first_row_leaves_before_the_slowest_sources_second_page(
    stop_after: list[BackgroundServer],
) -> None:
    # HighLevel is the slowest: its real limit (100 calls per 10 s, the gateway's budget
    # too) and a call per order for its line items. 250 orders each: several list pages.
    simulators = SimulatorSet(orders=250)
    backends = BackgroundServer(simulators.app()).start()
    stop_after.append(backends)

    def highlevel() -> tuple[int, int]:
        calls = simulators.log.of("highlevel", "/payments/orders")
        lists = sum(1 for c in calls if c.path == "/payments/orders")
        return lists, len(calls) - lists

    seen: list[tuple[int, int]] = []
    app = create_app(settings_from_mapping(demo_config(backends.base_url)), graphiql=False)
    server = BackgroundServer(OnFirstByte(app, lambda: seen.append(highlevel())), lifespan="on")
    stop_after.append(server.start())
    query = "{ orders { nodes { id source lineItems { productName } } } }"
    with httpx.Client(base_url=server.base_url, timeout=60) as client:
        response = client.get("/export", params={"query": query, "limit": "300"})
        newest = client.post("/graphql", json={"query": "{ orders(first: 300) { nodes { id } } }"})
    assert response.status_code == 200
    rows = list(csv.DictReader(io.StringIO(response.text, newline="")))
    assert len(rows) == 300
    # the first byte (the header and the first page's rows) left after one list page of
    # HighLevel's and no more than the ten orders of the first page
    assert len(seen) == 1
    lists_at_first_byte, orders_at_first_byte = seen[0]
    assert lists_at_first_byte == 1
    assert orders_at_first_byte <= 10
    assert highlevel()[0] > 1  # its second page was asked for later
    ids = list(dict.fromkeys(r["id"] for r in rows))
    expected = [n["id"] for n in newest.json()["data"]["orders"]["nodes"]]
    assert len(ids) > 40 and ids == expected[: len(ids)]  # growing pages, one order
