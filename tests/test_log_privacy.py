"""Every log line of `gateway serve` over failing backends: no backend path, query string,
id-bearing path segment or payload text; each failure still logged with its source, HTTP
status and backend code. And a backend's message reaches the client without its paths."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx

from gateway import ids
from gateway.app import create_app
from gateway.simulation import SHARED_PEOPLE
from tests.conftest import Simulators, codes, gateway_client, gql
from tests.live import wait_until_up
from tests.redis_server import free_port

HL_ORDER = "653f5e0cde5a1314e62a837c"
ADOBE_CUSTOMER = "9876543210"
MISSHAPEN = "PAYLOAD-TEXT-7731"
#: what the simulators' failures say in their bodies: the backends' own words
BACKEND_WORDS = (
    "simulated failure",
    "Too many requests",
    "502 Bad Gateway",
    "Invalid Authorization token",
    MISSHAPEN,
)


def _toml(config: dict[str, Any]) -> str:
    out = ['[server]\nlog_format = "json"\nlog_level = "debug"\n']
    security = config["security"]
    out.append(
        "[security]\nrequire_auth = false\n"
        f"anonymous_scopes = {json.dumps(security['anonymous_scopes'])}\n"
    )
    for name, table in config["sources"].items():
        out.append(f"[sources.{name}]")
        out += [f"{key} = {json.dumps(value)}" for key, value in table.items()]
        out.append("")
    return "\n".join(out)


def _post(url: str, query: str, request_id: str) -> dict[str, Any]:
    response = httpx.post(
        f"{url}/graphql", json={"query": query}, headers={"x-request-id": request_id}, timeout=30
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _workload(sims: Simulators, url: str) -> list[dict[str, Any]]:
    """Answers first, then every kind failing in its own way; returns the answers."""
    answers = []
    one = (
        '{{ orderBySourceId(source: "{0}", sourceId: "{1}") {{ id number createdAt '
        "price {{ total {{ amount }} }} customer {{ email name }} }} }}"
    )
    answers.append(_post(url, one.format("hl-main", HL_ORDER), "privacy-ok"))  # cached
    assert answers[0]["data"]["orderBySourceId"]["customer"]["email"]
    faults = sims.set.faults
    faults.set("zaveit", "status=503")
    faults.set("hamgam", "garbage")
    faults.set("highlevel", "status=500")  # hl-main answers from its stale copy
    faults.set("licensespring", "hang")  # times out
    # adobe's token is wrong: its real 401 (the "Invalid Authorization token")
    email = SHARED_PEOPLE[0].email
    customer = ids.encode("Customer", "adobe", ADOBE_CUSTOMER)
    for n, query in enumerate(
        [
            "{ orders(first: 10) { nodes { id number customer { email } } } }",
            one.format("hl-main", HL_ORDER),
            one.format("licensing", "1593781720493279"),
            one.format("reseller", "order-id-1"),
            one.format("adobe", f"{ADOBE_CUSTOMER}/0123456789"),
            f'{{ customersByEmail(email: "{email}") {{ id email }} }}',
            f'{{ customer(id: "{customer}") {{ email orders(first: 2) {{ nodes {{ id }} }} }} }}',
        ]
    ):
        answers.append(_post(url, query, f"privacy-{n}"))
    exported = httpx.get(f"{url}/export", params={"query": "{ orders { nodes { id } } }"})
    assert exported.status_code >= 500
    faults.clear()
    faults.set("highlevel", "rate-limit=1")
    answers.append(
        _post(
            url,
            '{ orders(first: 3, filter: {sources: ["hl-main"]}) { nodes { id } } }',
            "privacy-429",
        )
    )
    # a payload the normalizer cannot read: the value it found must not be logged
    order = next(o for o in sims.set.data["hamgam"].orders if str(o["id"]) == "123")
    order["total"] = MISSHAPEN
    answers.append(_post(url, one.format("eu-shop", "123"), "privacy-shape"))
    return answers


def test_no_backend_path_query_id_or_payload_in_any_log_line(
    sims: Simulators, tmp_path: Path
) -> None:
    config = sims.config()
    for table in config["sources"].values():
        # one call per request, and no breaker opening: every failure reaches the backend
        table.update(retries=0, timeout_s=1.5, breaker_threshold=1000)
    config["sources"]["adobe"]["token"] = "wrong-adobe-token-5Xq"
    config["sources"]["hl-main"].update(cache_ttl_s=0.001, stale_if_error_s=600)
    secrets = [
        v for t in config["sources"].values() for k, v in t.items() if k in ("token", "api_key")
    ]
    path = tmp_path / "gateway.toml"
    path.write_text(_toml(config))
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--config", str(path), "--port", str(port)],
        env=dict(os.environ),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url)
        sims.log.clear()
        answers = _workload(sims, url)
        seen = list(sims.log.entries)
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=20)
    lines = [json.loads(line) for line in err.decode().splitlines()]  # every line is JSON
    texts = [json.dumps({k: v for k, v in line.items() if k != "time"}) for line in lines]
    every = "\n".join(texts)

    # what must never be there
    paths = {e.path for e in seen if len(e.path) > 1}
    segments = {s for e in seen for s in e.path.split("/") if len(s) >= 6 and re.search(r"\d", s)}
    values = {v for e in seen for _, v in e.params if len(v) >= 6}
    assert len(paths) > 10 and ADOBE_CUSTOMER in segments and SHARED_PEOPLE[0].email in values
    emails = {
        v for body in answers for v in re.findall(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", json.dumps(body))
    }
    assert emails
    for text in texts:
        assert not [p for p in paths if p in text], text
        assert not [s for s in segments if s in text], text
        assert not [v for v in values if v in text], text
        assert not [w for w in BACKEND_WORDS if w in text], text
        assert not [e for e in emails if e in text], text
        assert not [s for s in secrets if s in text], text

    # what must be there: each failure with its source, status and backend code
    warned = [t for t in texts if '"level": "warning"' in t]
    expected = [
        "source 'adobe': the backend refused the request: HTTP 401 (backend code 4116)",
        "source 'reseller': the backend is unavailable: HTTP 503",
        "source 'eu-shop': HTTP 200 with a body that is not JSON",
        "source 'licensing': the backend did not answer in time",
        "source 'hl-main': the backend failed: HTTP 500",
        "answering with a copy",
        "source 'hl-main': the backend is unavailable: HTTP 429 (backend code 429)",
        "order 123 does not have the documented shape: ValueProblem: expected a decimal",
    ]
    assert [e for e in expected if e not in every] == []
    assert len(warned) >= len(expected)


def test_a_backend_message_reaches_the_client_without_its_paths(sims: Simulators) -> None:
    # A NestJS-style message naming the route (HighLevel's framework answers an unknown
    # route so); no simulator route answers it, hence a transport that does.
    def answer(request: httpx.Request) -> httpx.Response:
        message = f"Cannot GET {request.url.raw_path.decode()} for https://x.example/a?b=c"
        return httpx.Response(403, json={"statusCode": 403, "message": message})

    app = create_app(
        sims.settings(["highlevel"]), transports={"hl-main": httpx.MockTransport(answer)}
    )
    from starlette.testclient import TestClient

    with TestClient(app, raise_server_exceptions=False) as client:
        body = gql(
            client, f'{{ orderBySourceId(source: "hl-main", sourceId: "{HL_ORDER}") {{ id }} }}'
        )
    assert codes(body) == ["BACKEND_ERROR"]
    (error,) = body["errors"]
    assert error["message"] == (
        "source 'hl-main': the backend refused the request: HTTP 403: Cannot GET … for …"
    )
    assert error["extensions"] == {
        "code": "BACKEND_ERROR",
        "source": "hl-main",
        "backendCode": "403",
        "httpStatus": 403,
    }


def test_the_client_still_reads_the_backend_s_words(sims: Simulators) -> None:
    conf = sims.config(["adobe_vip"])
    conf["sources"]["adobe"]["token"] = "wrong-adobe-token-5Xq"
    from gateway.config import settings_from_mapping

    with gateway_client(settings_from_mapping(conf)) as client:
        body = gql(
            client,
            f'{{ orderBySourceId(source: "adobe", sourceId: "{ADOBE_CUSTOMER}/01") {{ id }} }}',
        )
    (error,) = body["errors"]
    assert error["message"] == (
        "source 'adobe': the backend refused the request: HTTP 401: Invalid Authorization token"
    )
    assert error["extensions"]["backendCode"] == "4116"
