"""Request ids (in, out, to backends, in error messages) and the log: JSON lines with the
request id, one debug line per backend call, and no secret or payload in any line."""

from __future__ import annotations

import io
import json
import logging
import os
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from gateway.app import create_app
from gateway.telemetry import logs
from tests.conftest import Simulators, gateway_client
from tests.live import wait_until_up

ROOT = Path(__file__).resolve().parents[1]
ORDER = '{ orderBySourceId(source: "eu-shop", sourceId: "123") { number customer { email } } }'
ADOBE = '{ orderBySourceId(source: "adobe", sourceId: "9876543210/0123456789") { number } }'


@pytest.mark.parametrize("given", ["abc-123", "A.b_c-9", "x" * 128])
def test_a_safe_client_request_id_is_echoed_and_sent_to_backends(
    sims: Simulators, given: str
) -> None:
    with gateway_client(sims.settings(["hamgam", "adobe_vip"])) as client:
        response = client.post("/graphql", json={"query": ORDER}, headers={"x-request-id": given})
        adobe = client.post("/graphql", json={"query": ADOBE}, headers={"x-request-id": given})
    assert response.headers["x-request-id"] == given
    assert adobe.headers["x-request-id"] == given
    hamgam_calls = sims.log.of("hamgam")
    assert len(hamgam_calls) == 2
    assert {e.headers["x-request-id"] for e in hamgam_calls} == {given}
    # Adobe: the gateway's id as X-Correlation-Id; X-Request-Id stays Adobe's, new per call
    (call,) = sims.log.of("adobe_vip")
    assert call.headers["x-correlation-id"] == given
    assert re.fullmatch(r"[0-9a-f-]{36}", call.headers["x-request-id"])


@pytest.mark.parametrize(
    "given", ["", "has space", "x" * 129, "ünïcode".encode(), "a\tb", "a/b", 'a"b']
)
def test_an_unsafe_request_id_is_replaced(sims: Simulators, given: str | bytes) -> None:
    with gateway_client(sims.settings(["hamgam"])) as client:
        response = client.post("/graphql", json={"query": ORDER}, headers={"x-request-id": given})
    made = response.headers["x-request-id"]
    assert made != given and re.fullmatch(r"[0-9a-f]{32}", made)
    assert {e.headers["x-request-id"] for e in sims.log.of("hamgam")} == {made}


def test_every_response_carries_a_request_id(sims: Simulators) -> None:
    with gateway_client(sims.settings(["hamgam"])) as client:
        responses = [
            client.get("/healthz"),
            client.get("/readyz"),
            client.get("/metrics"),
            client.get("/nowhere"),
            client.get("/graphql", headers={"accept": "text/html"}),
            client.post("/graphql", content=b"{not json", headers={"x-request-id": "r1"}),
            client.post("/graphql", content=b"x" * 2_000_000),
        ]
    assert [r.status_code for r in responses] == [200, 200, 200, 404, 200, 400, 413]
    assert all(r.headers.get("x-request-id") for r in responses)
    assert responses[5].headers["x-request-id"] == "r1"


def test_an_internal_error_names_the_request_id(sims: Simulators) -> None:
    # A fault no simulator can produce: the transport itself raising something unexpected.
    def explode(request: httpx.Request) -> httpx.Response:
        raise RuntimeError("unexpected")

    app = create_app(
        sims.settings(["hamgam"]), transports={"eu-shop": httpx.MockTransport(explode)}
    )
    from starlette.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.post("/graphql", json={"query": ORDER}, headers={"x-request-id": "r-42"})
    (error,) = response.json()["errors"]
    assert error["message"] == "internal error (request id r-42)"
    assert error["extensions"] == {"code": "INTERNAL", "requestId": "r-42"}
    assert response.headers["x-request-id"] == "r-42"


@pytest.fixture
def restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    gateway_level = logging.getLogger("gateway").level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
    logging.getLogger("gateway").setLevel(gateway_level)


def test_json_lines_carry_the_request_id_and_backend_calls_at_debug(
    sims: Simulators, restore_logging: None
) -> None:
    stream = io.StringIO()
    logs.configure("json", "debug", secrets=["s3cret-token-value"], stream=stream)
    with gateway_client(sims.settings(["hamgam"])) as client:
        client.post("/graphql", json={"query": ORDER}, headers={"x-request-id": "req-1"})
    logging.getLogger("gateway.test").warning("leaked s3cret-token-value here")
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    calls = [line for line in lines if line["logger"] == "gateway.backend.calls"]
    assert len(calls) == 2
    for call in calls:
        assert call["level"] == "debug" and call["request_id"] == "req-1"
        assert call["source"] == "eu-shop" and call["kind"] == "hamgam"
        assert call["status"] == 200 and call["outcome"] == "ok"
        assert isinstance(call["duration_ms"], float)
        assert "/api/" not in call["message"]  # no path: ids and emails stay out
    assert lines[-1]["message"] == "leaked [redacted] here"
    assert "request_id" not in lines[-1]  # outside a request


def test_text_lines_carry_the_request_id(sims: Simulators, restore_logging: None) -> None:
    stream = io.StringIO()
    logs.configure("text", "debug", stream=stream)
    with gateway_client(sims.settings(["hamgam"])) as client:
        client.post("/graphql", json={"query": ORDER}, headers={"x-request-id": "req-2"})
    lines = [line for line in stream.getvalue().splitlines() if "gateway.backend.calls" in line]
    assert len(lines) == 2
    assert all(line.startswith("DEBUG gateway.backend.calls [req-2]: ") for line in lines)
    assert "source=eu-shop status=200" in lines[0]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _toml(config: dict[str, Any], env_names: dict[str, str]) -> str:
    """The config as TOML, each secret as ``${NAME}`` (read from the environment)."""
    out = [
        '[server]\nlog_format = "json"\nlog_level = "debug"\n',
        "[security]\nrequire_auth = true\n",
        '[[security.api_keys]]\nname = "ops"\nkey = "${OPS_KEY}"\n'
        'scopes = ["orders:read", "pii:read", "raw:read"]\n',
    ]
    for name, table in config["sources"].items():
        out.append(f"[sources.{name}]")
        for key, value in table.items():
            if isinstance(value, str) and value in env_names:
                out.append(f'{key} = "${{{env_names[value]}}}"')
            else:
                out.append(f"{key} = {json.dumps(value)}")
        out.append("")
    return "\n".join(out)


def test_no_secret_or_payload_in_any_log_line_of_gateway_serve(
    sims: Simulators, tmp_path: Path
) -> None:
    config = sims.config()
    secret_keys = ("token", "api_key")
    secrets = {
        table[key]: f"SECRET_{i}_{key.upper()}"
        for i, table in enumerate(config["sources"].values())
        for key in secret_keys
        if key in table
    }
    ops_key = "ops-key-4f1b9c2d7e"
    env = {**os.environ, **{name: value for value, name in secrets.items()}, "OPS_KEY": ops_key}
    path = tmp_path / "gateway.toml"
    path.write_text(_toml(config, secrets))
    port = _free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--config", str(path), "--port", str(port)],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    email = "sara.ahmadi@example.ir"
    try:
        wait_until_up(url)
        auth = {"x-api-key": ops_key, "x-request-id": "serve-1"}
        ok = httpx.post(
            f"{url}/graphql",
            json={"query": "{ orders(first: 5) { nodes { id raw customer { email } } } }"},
            headers=auth,
            timeout=30,
        )
        assert ok.status_code == 200 and "errors" not in ok.json()
        # a GET whose query string holds a customer's email
        by_email = httpx.get(
            f"{url}/graphql",
            params={"query": f'{{ customersByEmail(email: "{email}") {{ id }} }}'},
            headers=auth,
            timeout=30,
        )
        assert by_email.status_code == 200
        sims.set.faults.set("hamgam", "status=401")
        sims.set.faults.set("zaveit", "status=500")
        failing = httpx.post(
            f"{url}/graphql",
            json={"query": "{ orders(first: 5) { nodes { id } } }"},
            headers={**auth, "x-request-id": "serve-2"},
            timeout=30,
        )
        assert failing.json()["errors"]
        refused = httpx.post(
            f"{url}/graphql",
            json={"query": "{ sources { name } }"},
            headers={"x-api-key": "wrong-key-" + ops_key},
            timeout=10,
        )
        assert refused.status_code == 401
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=15)
    text = err.decode()
    for secret in [*secrets, ops_key]:
        assert secret not in text
    assert email not in text
    lines = [json.loads(line) for line in text.splitlines()]  # every line is one JSON object
    access = [line for line in lines if line["logger"] == "uvicorn.access"]
    assert len(access) >= 5 and all("?" not in line["message"] for line in access)
    calls = [line for line in lines if line["logger"] == "gateway.backend.calls"]
    assert {c["source"] for c in calls if c.get("request_id") == "serve-1"} == set(
        config["sources"]
    )
    failed = [c for c in calls if c.get("request_id") == "serve-2" and c["outcome"] == "error"]
    assert {c["source"] for c in failed} == {"eu-shop", "reseller"}
    warnings = [line for line in lines if line["level"] == "warning"]
    assert any(line.get("request_id") == "serve-2" for line in warnings)
