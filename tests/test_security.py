"""Who may ask what, and no query can hurt the backends: auth, scopes, limits, hygiene."""

from __future__ import annotations

import hashlib
import json
import logging
import time
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes, queries
from starlette.testclient import TestClient

from gateway import ids
from gateway.config import settings_from_mapping
from gateway.redact import SECRET_KEYS
from gateway.schema.query import schema_sdl
from gateway.sources.adobe_vip.simulator import sample_customer_ids
from tests.conftest import SOURCE_OF, Simulators, codes, gateway_client, gql

FRONTEND, BI, RAW, SHOP_ONLY, NO_ORDERS = (
    "frontend-key-0123456789",
    "bi-key-0123456789",
    "raw-key-0123456789",
    "shop-key-0123456789",
    "pii-only-key-0123456789",
)
HS_SECRET = "jwt-shared-secret-0123456789-0123456789"
PUBLIC_CODES = {
    "GRAPHQL_PARSE_FAILED",
    "GRAPHQL_VALIDATION_FAILED",
    "BAD_USER_INPUT",
    "NOT_FOUND",
    "UNAUTHENTICATED",
    "FORBIDDEN",
    "BACKEND_UNAVAILABLE",
    "BACKEND_TIMEOUT",
    "BACKEND_ERROR",
    "QUERY_TOO_COMPLEX",
    "CLIENT_RATE_LIMITED",
    "INTERNAL",
}


def secured(sims: Simulators, **security: Any) -> Any:
    conf = sims.config()
    conf["security"] = {
        "require_auth": True,
        "api_keys": [
            {"name": "frontend", "key": FRONTEND, "scopes": ["orders:read", "pii:read"]},
            {
                "name": "bi",
                "key_sha256": hashlib.sha256(BI.encode()).hexdigest(),
                "scopes": ["orders:read"],
            },
            {"name": "raw", "key": RAW, "scopes": ["orders:read", "pii:read", "raw:read"]},
            {
                "name": "shop",
                "key": SHOP_ONLY,
                "scopes": ["orders:read", "pii:read"],
                "sources": ["eu-shop"],
            },
            {"name": "pii-only", "key": NO_ORDERS, "scopes": ["pii:read"]},
        ],
        "jwt": {"algorithm": "HS256", "secret": HS_SECRET},
        **security,
    }
    return settings_from_mapping(conf)


def ask(
    client: TestClient,
    key: str | None,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    header: str = "authorization",
) -> httpx.Response:
    headers = {}
    if key is not None:
        headers[header] = f"Bearer {key}" if header == "authorization" else key
    response: httpx.Response = client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    return response


ONE = '{ orderBySourceId(source: "eu-shop", sourceId: "123") { number customer { email } } }'


def test_no_or_wrong_credential_is_401_and_touches_nothing(sims: Simulators) -> None:
    with gateway_client(secured(sims)) as client:
        for key in (None, "not-a-key", FRONTEND + "x"):
            r = ask(client, key, ONE)
            assert r.status_code == 401 and r.headers["www-authenticate"] == "Bearer"
            assert codes(r.json()) == ["UNAUTHENTICATED"] and "data" not in r.json()
    with gateway_client(secured(sims, introspection=True)) as client:
        # GraphiQL's page needs no credential (it is not data), where introspection is on
        assert client.get("/graphql", headers={"accept": "text/html"}).status_code == 200
    assert sims.log.entries == []


def test_keys_by_bearer_or_x_api_key_and_by_sha256(sims: Simulators) -> None:
    with gateway_client(secured(sims)) as client:
        a = ask(client, FRONTEND, ONE).json()
        b = ask(client, FRONTEND, ONE, header="x-api-key").json()
        assert a == b and a["data"]["orderBySourceId"]["customer"]["email"]
        bi = ask(client, BI, ONE).json()
        assert bi["data"]["orderBySourceId"]["number"] == "HG-2024-000123"


def test_jwts_hs256_and_rs256(sims: Simulators) -> None:
    claims = {"sub": "svc", "scope": "orders:read pii:read", "exp": int(time.time()) + 60}
    with gateway_client(secured(sims)) as client:
        good = jwt.encode(claims, HS_SECRET, algorithm="HS256")
        assert ask(client, good, ONE).json()["data"]["orderBySourceId"]["customer"]["email"]
        expired = jwt.encode({**claims, "exp": int(time.time()) - 5}, HS_SECRET, "HS256")
        forged = jwt.encode(claims, "another-secret-0123456789-0123456789", "HS256")
        for token in (expired, forged):
            assert ask(client, token, ONE).status_code == 401
    private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = (
        private.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    rs = secured(sims, jwt={"algorithm": "RS256", "public_key": public})
    with gateway_client(rs) as client:
        token = jwt.encode({**claims, "sources": ["eu-shop"]}, private, algorithm="RS256")
        body = ask(client, token, "{ sources { name } }").json()
        assert body["data"]["sources"] == [{"name": "eu-shop"}]
        assert ask(client, jwt.encode(claims, HS_SECRET, "HS256"), ONE).status_code == 401


def test_require_auth_false_gives_exactly_the_anonymous_scopes(sims: Simulators) -> None:
    open_bi = secured(sims, require_auth=False, anonymous_scopes=["orders:read"])
    with gateway_client(open_bi) as client:
        body = ask(client, None, ONE).json()
        assert body["data"]["orderBySourceId"] == {
            "number": "HG-2024-000123",
            "customer": {"email": None},
        }
        assert codes(body) == ["FORBIDDEN"]
        assert ask(client, "wrong-key", ONE).status_code == 401


def test_without_pii_read_personal_fields_are_null_with_one_error(sims: Simulators) -> None:
    query = """{ orders(first: 20) { nodes { price { total { amount } }
        customer { email name firstName phone company address { city } }
        licenses { users { email firstName } } } } }"""
    with gateway_client(secured(sims)) as client:
        body = ask(client, BI, query).json()
        full = ask(client, FRONTEND, query).json()
    assert codes(body) == ["FORBIDDEN"] and "pii:read" in body["errors"][0]["message"]
    nodes_ = body["data"]["orders"]["nodes"]
    assert all(n["price"] is None or n["price"]["total"]["amount"] for n in nodes_)
    for n in nodes_:
        c = n["customer"]
        assert (c["email"], c["name"], c["firstName"], c["phone"], c["address"]) == (None,) * 5
        assert all(
            u == {"email": None, "firstName": None} for lic in n["licenses"] for u in lic["users"]
        )
    assert [n["customer"]["company"] for n in nodes_] == [
        n["customer"]["company"] for n in full["data"]["orders"]["nodes"]
    ]
    assert "errors" not in full and any(
        n["customer"]["email"] for n in full["data"]["orders"]["nodes"]
    )


def test_raw_needs_raw_read(sims: Simulators) -> None:
    q = '{ orderBySourceId(source: "eu-shop", sourceId: "123") { raw } }'
    with gateway_client(secured(sims)) as client:
        denied = ask(client, FRONTEND, q).json()
        allowed = ask(client, RAW, q).json()
    assert denied["data"]["orderBySourceId"]["raw"] is None and codes(denied) == ["FORBIDDEN"]
    assert allowed["data"]["orderBySourceId"]["raw"]["id"] == 123


def test_without_orders_read_nothing_runs(sims: Simulators) -> None:
    with gateway_client(secured(sims)) as client:
        body = ask(client, NO_ORDERS, ONE).json()
    assert "data" not in body and codes(body) == ["FORBIDDEN"]
    assert sims.log.entries == []


def test_email_lookups_need_pii_read(sims: Simulators) -> None:
    with gateway_client(secured(sims)) as client:
        body = ask(client, BI, '{ customersByEmail(email: "a@b.example") { id } }').json()
        assert body["data"] == {"customersByEmail": []} and codes(body) == ["FORBIDDEN"]
        body = ask(
            client, BI, '{ orders(filter: {customerEmail: "a@b.example"}) { nodes { id } } }'
        ).json()
        assert codes(body) == ["FORBIDDEN"]
    assert sims.log.entries == []


def test_a_source_limited_key_never_sees_other_sources(sims: Simulators) -> None:
    foreign = ids.encode("Order", "licensing", "1593781720493279")
    with gateway_client(secured(sims)) as client:
        assert ask(client, SHOP_ONLY, "{ sources { name } }").json()["data"] == {
            "sources": [{"name": "eu-shop"}]
        }
        listed = ask(client, SHOP_ONLY, "{ orders(first: 100) { nodes { source } } }").json()
        assert {n["source"] for n in listed["data"]["orders"]["nodes"]} == {"eu-shop"}
        by_id = ask(
            client, SHOP_ONLY, "query($id: ID!) { node(id: $id) { id } }", {"id": foreign}
        ).json()
        assert by_id["data"] == {"node": None} and codes(by_id) == ["NOT_FOUND"]
        by_source = ask(
            client,
            SHOP_ONLY,
            '{ orderBySourceId(source: "licensing", sourceId: "1593781720493279") { id } }',
        ).json()
        assert codes(by_source) == ["BAD_USER_INPUT"]
    assert {e.mount for e in sims.log.entries} == {"hamgam"}


# -- limits, all checked before any backend call ----------------------------------------

#: the demo's list calls for one page of orders: one per source, Adobe's one per customer
LIST_CALLS = len(SOURCE_OF) - 1 + len(sample_customer_ids())


def _deep(levels: int) -> str:
    inner = "id"
    for _ in range(levels):
        inner = f"orders(first: 1) {{ nodes {{ customer {{ {inner} }} }} }}"
    return f'{{ customer(id: "x") {{ {inner} }} }}'


@pytest.mark.parametrize(
    ("query", "limit", "figure"),
    [
        (_deep(4), "depth", 14),
        ("{ " + " ".join(f"a{i}: sources {{ name }}" for i in range(31)) + " }", "aliases", 31),
        (
            # the list calls + 500 orders x 10 items x 10 licences x one Customer.orders
            # call each
            "{ orders(first: 500) { nodes { lineItems { licenses { customer {"
            " orders(first: 10) { nodes { id } } } } } } } }",
            "cost",
            LIST_CALLS + 500 * 10 * 10,
        ),
    ],
)
def test_limits_answer_query_too_complex_without_backends(
    sims: Simulators, query: str, limit: str, figure: int
) -> None:
    with gateway_client(sims.settings()) as client:
        r = client.post("/graphql", json={"query": query})
    assert r.status_code == 200
    (error,) = r.json()["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert (error["extensions"]["limit"], error["extensions"]["actual"]) == (limit, figure)
    assert limit in error["message"] and str(figure) in error["message"]
    assert sims.log.entries == []


def test_the_same_query_text_is_judged_by_its_variables_and_its_caller(
    sims: Simulators,
) -> None:
    # Analyses are cached per query text: the cost still follows $first, and the scopes
    # (pii) and visible sources still follow the credential.
    query = """query Q($first: Int!) { orders(first: $first) { nodes { lineItems {
        licenses { customer { email orders(first: 10) { nodes { id } } } } } } } }"""
    with gateway_client(secured(sims)) as client:
        big = ask(client, FRONTEND, query, {"first": 500}).json()
        small = ask(client, FRONTEND, query, {"first": 1}).json()
        big_again = ask(client, FRONTEND, query, {"first": 500}).json()
        bi = ask(client, BI, query, {"first": 1}).json()
        shop = ask(client, SHOP_ONLY, query, {"first": 500}).json()
    # the list calls + 500 orders x 10 items x 10 licences x one Customer.orders call
    assert codes(big) == ["QUERY_TOO_COMPLEX"]
    assert big["errors"][0]["extensions"]["actual"] == LIST_CALLS + 500 * 10 * 10
    assert big_again == big
    assert "errors" not in small and len(small["data"]["orders"]["nodes"]) == 1
    assert codes(bi) == ["FORBIDDEN"] and "pii:read" in bi["errors"][0]["message"]
    # one stream instead of ten: the same text costs less for a key that sees one source
    assert shop["errors"][0]["extensions"]["actual"] == 1 + 500 * 10 * 10


def test_token_limit(sims: Simulators) -> None:
    query = "{ sources { " + " ".join(["name"] * 2500) + " } }"
    with gateway_client(sims.settings()) as client:
        r = client.post("/graphql", json={"query": query})
        strict = client.post(
            "/graphql",
            json={"query": query},
            headers={"accept": "application/graphql-response+json"},
        )
    (error,) = r.json()["errors"]
    assert error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX",
        "limit": "tokens",
        "max": 2000,
        "actual": 2505,  # "{ sources {" + 2500 names + "} }"
    }
    assert r.status_code == 200 and strict.status_code == 400


def test_body_size_limit(sims: Simulators) -> None:
    big = json.dumps({"query": "{ sources { name } }", "pad": "x" * 1_100_000})
    with gateway_client(sims.settings()) as client:
        r = client.post("/graphql", content=big, headers={"content-type": "application/json"})
        assert r.status_code == 413 and codes(r.json()) == ["BAD_USER_INPUT"]

        def chunks() -> Any:  # no Content-Length: counted as it streams
            for _ in range(12):
                yield b"x" * 100_000

        r = client.post("/graphql", content=chunks(), headers={"content-type": "application/json"})
        assert r.status_code == 413


def test_cors_allow_list(sims: Simulators) -> None:
    with gateway_client(secured(sims, cors_origins=["https://app.example"])) as client:
        ok = client.options(
            "/graphql",
            headers={"origin": "https://app.example", "access-control-request-method": "POST"},
        )
        other = client.options(
            "/graphql",
            headers={"origin": "https://evil.example", "access-control-request-method": "POST"},
        )
    assert ok.headers["access-control-allow-origin"] == "https://app.example"
    assert "access-control-allow-origin" not in other.headers


class Explodes(httpx.AsyncBaseTransport):
    """A fault no backend can produce over HTTP: the client library itself breaks."""

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        raise RuntimeError("database password is hunter2")


def test_unexpected_errors_are_masked_and_logged(
    sims: Simulators, caplog: pytest.LogCaptureFixture
) -> None:
    from starlette.testclient import TestClient

    from gateway.app import create_app

    app = create_app(sims.settings(), transports={"eu-shop": Explodes()})
    with caplog.at_level(logging.ERROR), TestClient(app) as client:
        r = client.post("/graphql", json={"query": ONE})
    assert r.status_code == 200 and "hunter2" not in r.text and "Traceback" not in r.text
    (error,) = r.json()["errors"]
    assert error["extensions"]["code"] == "INTERNAL"
    assert error["extensions"]["requestId"] in error["message"]
    assert "hunter2" in caplog.text and error["extensions"]["requestId"] in caplog.text


# -- redaction: one list, every simulator's payloads --------------------------------------


def _keys(value: Any) -> set[str]:
    if isinstance(value, dict):
        return {str(k).lower() for k in value} | {k for v in value.values() for k in _keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in _keys(v)}
    return set()


def test_raw_of_every_order_of_every_simulator_is_redacted(
    sims: Simulators, caplog: pytest.LogCaptureFixture
) -> None:
    secrets = [
        s
        for name in ("licensing", "reseller", "eu-shop", "adobe", "hl-main")
        for s in sims.settings().sources[name].secrets()
    ]
    seen = 0
    with caplog.at_level(logging.DEBUG), gateway_client(sims.settings()) as client:
        after = None
        while True:
            body = gql(
                client,
                """query($a: String) { orders(first: 100, after: $a) {
                nodes { raw } pageInfo { hasNextPage endCursor } } }""",
                {"a": after},
            )
            assert "errors" not in body
            raws = [n["raw"] for n in body["data"]["orders"]["nodes"]]
            seen += len(raws)
            assert not _keys(raws) & SECRET_KEYS
            conn = body["data"]["orders"]["pageInfo"]
            if not conn["hasNextPage"]:
                break
            after = conn["endCursor"]
    assert seen > 300
    for secret in secrets:
        assert secret not in caplog.text


# -- hostile input, generated from the gateway's own schema ------------------------------

_SCALARS = {
    "DateTime": st.sampled_from(["2026-01-01T00:00:00Z", "2026-13-45", "x"]).map(nodes.String),
    "Decimal": st.sampled_from(["1.5", "x"]).map(nodes.String),
    "JSON": st.just(nodes.String("{}")),
}


@settings(
    max_examples=200,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(query=queries(schema_sdl(), custom_scalars=_SCALARS))
def test_generated_queries_get_well_formed_typed_answers(sims: Simulators, query: str) -> None:
    with gateway_client(sims.settings()) as client:
        r = client.post("/graphql", json={"query": query})
    assert r.status_code == 200, r.text
    body = r.json()
    assert "data" in body or "errors" in body
    for error in body.get("errors", []):
        assert error["extensions"]["code"] in PUBLIC_CODES
        assert error["extensions"]["code"] != "INTERNAL", (query, error)
    assert "Traceback" not in r.text


@pytest.mark.parametrize(
    "payload",
    [
        b"[]",
        b"null",
        b'{"query": 5}',
        b'{"query": "{ sources { name } }", "variables": []}',
        b'{"query": "query($n: Int!) { orders(first: $n) { nodes { id } } }", '
        b'"variables": {"n": "ten"}}',
        b'{"query": "{ orders(after: \\"%%%\\") { nodes { id } } }"}',
        b'{"query": "{ customer(id: \\"Q3VzdG9tZXI6Ojo=\\") { id } }"}',
        b'{"query": "mutation { x }"}',
        b'{"query": "subscription { x }"}',
        b'{"query": "{ sources { name } } { sources { kind } }"}',
    ],
)
def test_hand_written_abuse(sims: Simulators, payload: bytes) -> None:
    with gateway_client(sims.settings()) as client:
        r = client.post("/graphql", content=payload, headers={"content-type": "application/json"})
    assert r.status_code in (200, 400), r.text
    assert r.headers["content-type"].startswith("application/json")
    errors = r.json()["errors"]
    assert errors and all(e["extensions"]["code"] in PUBLIC_CODES - {"INTERNAL"} for e in errors)
