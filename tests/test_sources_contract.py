"""One contract suite for every kind: the gateway over HTTP, the simulator over loopback."""

from __future__ import annotations

from collections import Counter
from typing import Any

import pytest

from gateway import ids
from gateway.simulation import Contract
from gateway.simulators import SIMULATORS
from tests.conftest import Simulators, codes, gateway_client, gql

#: every registered kind with a simulator; each simulator module names its seed order's
#: facts (its CONTRACT: gateway.simulation.Contract)
KINDS = list(SIMULATORS)
BY_KIND = pytest.mark.parametrize("kind", KINDS)


def contract_of(kind: str) -> Contract:
    found: Contract = SIMULATORS[kind][0].CONTRACT
    return found


def source_of(kind: str) -> str:
    return SIMULATORS[kind][1]


ORDER_FIELDS = """id source sourceKind sourceId number status sourceStatus createdAt isTest
  currency price { total { amount currency } } lineItems { id quantity }"""


@BY_KIND
def test_seed_order_by_source_id_global_id_and_node(sims: Simulators, kind: str) -> None:
    k, source = contract_of(kind), source_of(kind)
    with gateway_client(sims.settings()) as client:
        body = gql(
            client,
            f"""query($s: String!, $id: String!) {{
            orderBySourceId(source: $s, sourceId: $id) {{ {ORDER_FIELDS} }} }}""",
            {"s": source, "id": k.seed_id},
        )
        order = body["data"]["orderBySourceId"]
        assert "errors" not in body
        assert order["id"] == ids.encode("Order", source, k.seed_id)
        assert (order["source"], order["sourceKind"], order["sourceId"]) == (
            source,
            kind.upper(),
            k.seed_id,
        )
        assert (order["number"], order["status"], order["sourceStatus"]) == (
            k.number,
            k.status,
            k.source_status,
        )
        assert order["createdAt"] == k.created_at
        total = order["price"] and order["price"]["total"]
        assert (None if total is None else (total["amount"], total["currency"])) == k.total
        assert len(order["lineItems"]) == k.line_count
        by_id = gql(
            client,
            f"query($id: ID!) {{ order(id: $id) {{ {ORDER_FIELDS} }} }}",
            {"id": order["id"]},
        )
        assert by_id["data"]["order"] == order
        node = gql(
            client, "query($id: ID!) { node(id: $id) { __typename id } }", {"id": order["id"]}
        )
        assert node["data"]["node"] == {"__typename": "Order", "id": order["id"]}


@BY_KIND
def test_missing_order_is_null_and_not_found(sims: Simulators, kind: str) -> None:
    k, source = contract_of(kind), source_of(kind)
    with gateway_client(sims.settings()) as client:
        body = gql(
            client,
            "query($s: String!, $id: String!) { orderBySourceId(source: $s, "
            "sourceId: $id) { id } }",
            {"s": source, "id": k.missing_id},
        )
        assert body["data"] == {"orderBySourceId": None}
        assert codes(body) == ["NOT_FOUND"]
        gid = ids.encode("Order", source, k.missing_id)
        body = gql(client, "query($id: ID!) { order(id: $id) { id } }", {"id": gid})
        assert body["data"] == {"order": None} and codes(body) == ["NOT_FOUND"]


@BY_KIND
def test_wrong_backend_credential_is_a_typed_error_naming_the_source(
    sims: Simulators, kind: str
) -> None:
    k, source = contract_of(kind), source_of(kind)
    secret = "wrong-secret-value-0123456789"
    settings = sims.settings(overrides={source: {k.credential: secret}})
    with gateway_client(settings) as client:
        response = client.post(
            "/graphql",
            json={
                "query": "query($s: String!, $id: String!) { orderBySourceId(source: $s, "
                "sourceId: $id) { id } sources { name } }",
                "variables": {"s": source, "id": k.seed_id},
            },
        )
        assert response.status_code == 200
        assert secret not in response.text
        body = response.json()
        assert body["data"]["orderBySourceId"] is None
        assert len(body["data"]["sources"]) == len(settings.sources)  # the others answer
        (error,) = body["errors"]
        assert error["path"] == ["orderBySourceId"]
        assert error["extensions"]["code"] == "BACKEND_ERROR"
        assert error["extensions"]["source"] == source
        assert error["extensions"].get("backendCode") == k.auth_backend_code
        assert error["extensions"]["httpStatus"] == 401
        assert source in error["message"]


def _customer_gets(sims: Simulators, kind: str) -> list[str]:
    entries = sims.log.of(kind, contract_of(kind).customer_path)
    if kind == "adobe_vip":  # /v3/customers/{cid} only, not its order lists
        entries = [e for e in entries if e.path.count("/") == 3]
    return [e.path for e in entries]


@BY_KIND
def test_customers_of_twenty_orders_are_batched_and_never_fetched_twice(
    sims: Simulators, kind: str
) -> None:
    k, source = contract_of(kind), source_of(kind)
    with gateway_client(sims.settings()) as client:
        body = gql(
            client,
            """query($s: [String!]) { orders(first: 20, filter: {sources: $s}) {
            nodes { sourceId customer { sourceId email phone } } } }""",
            {"s": [source]},
        )
    assert "errors" not in body
    nodes = body["data"]["orders"]["nodes"]
    assert len(nodes) == 20
    customer_ids = {n["customer"]["sourceId"] for n in nodes}
    assert all(n["customer"]["email"] for n in nodes)
    gets = _customer_gets(sims, kind)
    assert max(Counter(gets).values(), default=1) == 1  # never the same customer twice
    # a kind whose orders carry these fields (LicenseSpring, WooCommerce) fetches none
    assert len(gets) == (0 if k.customers_embedded else len(customer_ids))


@BY_KIND
def test_customer_by_global_id(sims: Simulators, kind: str) -> None:
    source = source_of(kind)
    with gateway_client(sims.settings()) as client:
        first = gql(
            client,
            """query($s: [String!]) { orders(first: 1, filter: {sources: $s}) {
            nodes { customer { id sourceId email name } } } }""",
            {"s": [source]},
        )
        customer = first["data"]["orders"]["nodes"][0]["customer"]
        again = gql(
            client,
            "query($id: ID!) { customer(id: $id) { id sourceKind sourceId email name } }",
            {"id": customer["id"]},
        )
    got = again["data"]["customer"]
    assert got["sourceKind"] == kind.upper()
    assert {key: got[key] for key in ("id", "sourceId", "email", "name")} == customer


@BY_KIND
def test_simulator_saw_the_documented_auth_headers(sims: Simulators, kind: str) -> None:
    k, source = contract_of(kind), source_of(kind)
    with gateway_client(sims.settings()) as client:
        gql(
            client,
            "query($s: String!, $id: String!) { orderBySourceId(source: $s, "
            "sourceId: $id) { id } }",
            {"s": source, "id": k.seed_id},
        )
    (entry,) = sims.log.of(kind)
    h: dict[str, Any] = dict(entry.headers)
    assert h[k.auth_header]  # every kind: the credential's header
    # and what each vendor documents beside it
    if kind == "licensespring":
        assert h["authorization"].startswith("Api-Key ")
    elif kind == "zaveit":
        assert h["~session"] and "authorization" not in h
    elif kind == "hamgam":
        assert h["authorization"].startswith("Token ")
    elif kind == "adobe_vip":
        assert h["authorization"].startswith("Bearer ") and h["x-api-key"]
        assert h["x-correlation-id"] and h["x-request-id"]
        assert h["accept"] == h["content-type"] == "application/json"
        assert entry.param("fetch-price") == "true"
    elif kind == "woocommerce":
        assert h["authorization"].startswith("Basic ") and h["accept"] == "application/json"
    elif kind == "highlevel":
        assert h["authorization"].startswith("Bearer ") and h["version"] == "2021-07-28"
        assert entry.param("altId") == "3SwdhCu3svxI8AKsPJt6"
        assert entry.param("altType") == "location"


#: the suite's checks of one kind, for a kind registered at runtime (tests/test_new_kind.py)
CHECKS = [
    test_seed_order_by_source_id_global_id_and_node,
    test_missing_order_is_null_and_not_found,
    test_wrong_backend_credential_is_a_typed_error_naming_the_source,
    test_customers_of_twenty_orders_are_batched_and_never_fetched_twice,
    test_customer_by_global_id,
    test_simulator_saw_the_documented_auth_headers,
]


def test_adobe_request_ids_are_fresh_per_call(sims: Simulators) -> None:
    """Adobe's X-Request-Id is new per call; its X-Correlation-Id is the gateway's
    request id, the same for every call one request makes."""
    with gateway_client(sims.settings()) as client:
        response = client.post(
            "/graphql",
            json={
                "query": """{ a: orderBySourceId(source: "adobe", sourceId:
            "9876543210/0123456789") { id } b: orderBySourceId(source: "adobe", sourceId:
            "9876543210/5120008001") { id } }"""
            },
        )
    body = response.json()
    assert body["data"]["a"] and body["data"]["b"]
    entries = sims.log.of("adobe_vip")
    assert len(entries) == 2
    assert len({e.headers["x-request-id"] for e in entries}) == 2
    assert {e.headers["x-correlation-id"] for e in entries} == {response.headers["x-request-id"]}


def test_adobe_customer_is_fetched_once_for_many_orders(sims: Simulators) -> None:
    with gateway_client(sims.settings()) as client:
        body = gql(
            client,
            """{ orders(first: 30, filter: {sources: ["adobe"]}) {
            nodes { customer { sourceId company email } } } }""",
        )
    nodes = body["data"]["orders"]["nodes"]
    distinct = {n["customer"]["sourceId"] for n in nodes}
    assert len(nodes) == 30 and len(distinct) < 30
    gets = [e.path for e in sims.log.of("adobe_vip", "/v3/customers/") if e.path.count("/") == 3]
    assert sorted(gets) == sorted(f"/v3/customers/{cid}" for cid in distinct)
