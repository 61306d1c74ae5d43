"""Real subscription clients over graphql-transport-ws: gql's WebsocketsTransport (Python,
.venv-clients) and graphql-ws (npm, tests/clients/js), both made by `make install`. Each
subscribes, an order is created and then changed in the HighLevel simulator (signed
webhooks), and each client receives CREATED then UPDATED with the order's fields, once
each."""

from __future__ import annotations

import json
import queue
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from gateway.app import create_app
from gateway.config import settings_from_mapping
from gateway.simulators import BackgroundServer
from gateway.sources.highlevel import webhooks as hl
from tests.conftest import Simulators
from tests.test_live import DEADLINE_S, until

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ROOT / "tests" / "clients"
CLIENTS_PYTHON = ROOT / ".venv-clients" / "bin" / "python"
KEY = "live-client-key"


@pytest.fixture
def gateway(sims: Simulators) -> Iterator[tuple[str, Any]]:
    conf = sims.config(["highlevel"])
    conf["security"] = {
        "require_auth": True,
        "api_keys": [{"name": "frontend", "key": KEY, "scopes": ["orders:read", "pii:read"]}],
    }
    app = create_app(settings_from_mapping(conf))
    server = BackgroundServer(app, lifespan="on").start()
    yield server.base_url, app
    server.stop()


def _client(argv: list[str]) -> tuple[subprocess.Popen[str], queue.Queue[str]]:
    process = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines: queue.Queue[str] = queue.Queue()

    def read() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.strip())

    threading.Thread(target=read, daemon=True).start()
    return process, lines


CASES = {
    "gql": lambda url: [str(CLIENTS_PYTHON), str(CLIENTS / "python" / "subscribe.py"), url],
    "graphql-ws": lambda url: ["node", str(CLIENTS / "js" / "subscribe.mjs"), url],
}


@pytest.mark.parametrize("client", list(CASES))
def test_a_real_client_receives_created_then_updated_once_each(
    client: str, gateway: tuple[str, Any], sims: Simulators
) -> None:
    base_url, app = gateway
    ws_url = base_url.replace("http://", "ws://") + "/graphql"
    process, lines = _client([*CASES[client](ws_url), KEY, "2"])
    try:
        assert lines.get(timeout=DEADLINE_S) == "ready"
        until(lambda: app.state.live.bus.subscribers == 1, "the client's subscription")
        orders = sims.set.data["highlevel"].orders
        order = hl.new_order(orders)
        assert hl.send(f"{base_url}/webhooks/hl-main", order, "OrderCreate").status_code == 200
        created = json.loads(lines.get(timeout=DEADLINE_S))
        hl.change_status(orders, order["_id"], "completed")
        hl.send(f"{base_url}/webhooks/hl-main", order, "OrderStatusUpdate")
        updated = json.loads(lines.get(timeout=DEADLINE_S))
        assert process.wait(timeout=DEADLINE_S) == 0, process.stderr
    finally:
        process.kill()
    events = [r.get("data", r)["orderEvents"] for r in (created, updated)]
    assert [e["type"] for e in events] == ["CREATED", "UPDATED"]
    assert {e["sourceId"] for e in events} == {order["_id"]}
    assert [e["order"]["status"] for e in events] == ["PENDING", "COMPLETED"]
    email = sims.set.data["highlevel"].contacts[order["contactId"]]["email"]
    assert [e["order"]["customer"]["email"] for e in events] == [email, email]
    assert events[0]["id"] < events[1]["id"] or len(events[0]["id"]) < len(events[1]["id"])
    assert lines.empty()  # once each: the client stopped after two, and had no more


def test_a_websocket_with_a_wrong_credential_is_refused(gateway: tuple[str, Any]) -> None:
    base_url, app = gateway
    ws_url = base_url.replace("http://", "ws://") + "/graphql"
    process, _ = _client([*CASES["gql"](ws_url), "not-a-key", "1"])
    try:
        assert process.wait(timeout=DEADLINE_S) != 0
    finally:
        process.kill()
    assert process.stderr is not None
    assert "4403 (private use) Forbidden" in process.stderr.read()
    assert app.state.live.bus.subscribers == 0
