"""The federation subgraph mode (``[server] federation = true``), over HTTP with the
simulators behind: the SDL, ``_entities`` batched per source, per-entity errors, and the
scopes, PII masking, cost limit and persisted queries applied to ``_entities``.
tests/test_federation_router.py composes it and serves it through Hive Gateway."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway import ids
from gateway.config import Settings, settings_from_mapping
from gateway.schema.query import build_schema, schema_sdl
from tests.conftest import SHIPPED, Simulators, codes, gateway_client, gql

ROOT = Path(__file__).resolve().parent.parent
ENTITIES = """query Entities($r: [_Any!]!) { _entities(representations: $r) {
  __typename
  ... on Order { id source sourceId number status price { total { amount currency } } }
  ... on Customer { id source sourceId email company }
  ... on License { id source sourceId key licenseStatus: status }
} }"""
#: the same selections through Query.node, to compare with
NODE = """query One($id: ID!) { node(id: $id) {
  __typename
  ... on Order { id source sourceId number status price { total { amount currency } } }
  ... on Customer { id source sourceId email company }
  ... on License { id source sourceId key licenseStatus: status }
} }"""


def federated(sims: Simulators, **security: Any) -> Settings:
    conf = sims.config(SHIPPED)
    conf["server"] = {"federation": True}
    conf["security"].update(security)
    return settings_from_mapping(conf)


@pytest.fixture
def subgraph(sims: Simulators) -> Iterator[TestClient]:
    with gateway_client(federated(sims)) as client:
        yield client


def entities(client: TestClient, representations: list[Any]) -> dict[str, Any]:
    return gql(client, ENTITIES, {"r": representations})


def order_rep(source: str, source_id: str) -> dict[str, str]:
    return {"__typename": "Order", "id": ids.encode("Order", source, source_id)}


class Batches:
    """Each source's get_orders and get_customers calls (one per loader batch), counted
    on the gateway's own sources, which still do the work."""

    def __init__(self, app: Any) -> None:
        self.calls: list[tuple[str, str, list[str]]] = []
        for name, source in app.state.sources.items():
            for method in ("get_orders", "get_customers"):
                setattr(source, method, self._counted(name, method, getattr(source, method)))

    def _counted(
        self, name: str, method: str, fetch: Callable[[Sequence[str]], Awaitable[Any]]
    ) -> Callable[[Sequence[str]], Awaitable[Any]]:
        async def counted(ids_: Sequence[str]) -> Any:
            self.calls.append((name, method, list(ids_)))
            return await fetch(ids_)

        return counted


# --- the schema -------------------------------------------------------------------


def test_subgraph_sdl_file_matches_the_code_and_service_answers_it(
    subgraph: TestClient,
) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "schema", "--subgraph"],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=True,
    )
    sdl = (ROOT / "schema.subgraph.graphql").read_text()
    assert done.stdout == sdl, "schema.subgraph.graphql is stale: run `make schema`"
    assert gql(subgraph, "{ _service { sdl } }") == {"data": {"_service": {"sdl": sdl}}}
    assert sdl.startswith(
        'schema @link(url: "https://specs.apollo.dev/federation/v2.9", import: ["@key"]) {'
    )
    keyed = sorted(line for line in sdl.splitlines() if "@key" in line and "type " in line)
    assert keyed == [
        'type Customer implements Node @key(fields: "id") {',
        'type License implements Node @key(fields: "id") {',
        'type Order implements Node @key(fields: "id") {',
    ]
    assert "  _entities(representations: [_Any!]!): [_Entity]!" in sdl
    assert "union _Entity = Customer | License | Order" in sdl


def test_federation_off_serves_exactly_todays_schema(client: TestClient) -> None:
    # built after a federated schema in the same process: no key leaks into it
    build_schema(federation=True)
    assert schema_sdl() == (ROOT / "schema.graphql").read_text()
    assert "@key" not in schema_sdl() and "_entities" not in schema_sdl()
    body = gql(client, "{ _service { sdl } }")
    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "Cannot query field '_service' on type 'Query'." in body["errors"][0]["message"]
    fields = gql(client, '{ __type(name: "Query") { fields { name } } }')["data"]["__type"]
    assert "_entities" not in {f["name"] for f in fields["fields"]}


# --- _entities ----------------------------------------------------------------------


def _mixed_representations(client: TestClient) -> list[dict[str, str]]:
    """100 representations over every source: orders, customers, licences, repeats."""
    listed = gql(
        client,
        "{ orders(first: 200) { nodes { id source customer { id } licenses { id } } } }",
    )["data"]["orders"]["nodes"]
    by_source: dict[str, list[dict[str, Any]]] = {}
    for node in listed:
        by_source.setdefault(node["source"], []).append(node)
    assert len(by_source) == 5
    orders = [n for group in zip(*by_source.values(), strict=False) for n in group][:60]
    customers = list(dict.fromkeys(n["customer"]["id"] for n in reversed(listed) if n["customer"]))[
        :20
    ]
    licenses = [lic["id"] for n in listed for lic in n["licenses"]][:12]
    reps = [{"__typename": "Order", "id": n["id"]} for n in orders]
    reps += [{"__typename": "Customer", "id": c} for c in customers]
    reps += [{"__typename": "License", "id": lic} for lic in licenses]
    reps += reps[:8]  # asked twice: loaded once
    assert len(reps) == 100
    return reps


def test_entities_of_mixed_sources_load_in_one_batch_per_source(
    sims: Simulators, subgraph: TestClient
) -> None:
    reps = _mixed_representations(subgraph)
    expected = [gql(subgraph, NODE, {"id": r["id"]})["data"]["node"] for r in reps]
    assert all(e is not None for e in expected)
    batches = Batches(subgraph.app)
    sims.log.clear()

    body = entities(subgraph, reps)

    assert "errors" not in body
    assert body["data"]["_entities"] == expected
    assert [e["__typename"] for e in body["data"]["_entities"]] == [r["__typename"] for r in reps]
    # one get_orders and one get_customers per source, each with its distinct ids
    assert Counter((name, method) for name, method, _ in batches.calls) == Counter(
        {key: 1 for key in {(name, method) for name, method, _ in batches.calls}}
    )
    wanted: dict[tuple[str, str], set[str]] = {}
    for r in reps:
        gid = ids.decode(r["id"])
        method = "get_customers" if gid.type_name == "Customer" else "get_orders"
        source_id = gid.source_id
        if gid.type_name == "License":
            source_id = source_id.rpartition(":")[0]
        wanted.setdefault((gid.source, method), set()).add(source_id)
    assert {(n, m): sorted(i) for n, m, i in batches.calls} == {
        key: sorted(value) for key, value in wanted.items()
    }
    assert {name for name, _ in wanted} == {"licensing", "reseller", "eu-shop", "adobe", "hl-main"}
    # and the backends: nothing asked twice, nothing but the entities' objects
    paths = Counter((e.mount, e.path) for e in sims.log.entries)
    assert max(paths.values()) == 1
    assert len(paths) == sum(len(v) for v in wanted.values())


def test_entities_answer_the_same_as_query_node_and_use_the_backend_values(
    subgraph: TestClient,
) -> None:
    body = entities(subgraph, [order_rep("eu-shop", "123")])
    # representations written in the document itself answer the same
    gid = order_rep("eu-shop", "123")["id"]
    literal = ENTITIES.replace("query Entities($r: [_Any!]!)", "").replace(
        "$r", f'[{{__typename: "Order", id: "{gid}"}}]'
    )
    assert gql(subgraph, literal) == body
    assert body == {
        "data": {
            "_entities": [
                {
                    "__typename": "Order",
                    "id": ids.encode("Order", "eu-shop", "123"),
                    "source": "eu-shop",
                    "sourceId": "123",
                    "number": "HG-2024-000123",
                    "status": "COMPLETED",
                    "price": {"total": {"amount": "1850.00", "currency": "EUR"}},
                }
            ]
        }
    }


def test_a_bad_or_unknown_representation_is_null_with_its_own_error(
    sims: Simulators, subgraph: TestClient
) -> None:
    reps: list[Any] = [
        order_rep("eu-shop", "123"),
        {"__typename": "Order", "id": "not-an-id"},
        order_rep("eu-shop", "999999"),
        {"__typename": "Customer", "id": ids.encode("Order", "eu-shop", "123")},
        order_rep("nowhere", "1"),
        {"__typename": "Shipment", "id": ids.encode("Order", "eu-shop", "123")},
        {"__typename": "Order"},
        {"__typename": "License", "id": ids.encode("License", "licensing", "no-colon")},
        {"__typename": "Customer", "id": ids.encode("Customer", "eu-shop", "45")},
    ]
    sims.set.faults.set("highlevel", "status=503")
    reps.append(order_rep("hl-main", "650000000000000000000029"))
    body = entities(subgraph, reps)
    answers = body["data"]["_entities"]
    assert answers[0]["number"] == "HG-2024-000123"
    assert answers[8]["email"] == "sara.ahmadi@example.ir"
    assert [i for i, a in enumerate(answers) if a is None] == [1, 2, 3, 4, 5, 6, 7, 9]
    errors = {e["path"][1]: (e["extensions"]["code"], e["message"]) for e in body["errors"]}
    assert all(e["path"][0] == "_entities" for e in body["errors"])
    assert errors == {
        1: ("BAD_USER_INPUT", "not a valid id"),
        2: ("NOT_FOUND", "source 'eu-shop' has no order 999999"),
        3: ("BAD_USER_INPUT", "the id is a Order id, not a Customer id"),
        4: ("NOT_FOUND", "no source named 'nowhere'"),
        5: ("BAD_USER_INPUT", "__typename must be one of Customer, License, Order"),
        6: ("BAD_USER_INPUT", "a representation needs its id (a string)"),
        7: ("BAD_USER_INPUT", "not a valid id"),
        9: (errors[9][0], errors[9][1]),
    }
    assert errors[9][0].startswith("BACKEND_") and "hl-main" in errors[9][1]


def test_a_license_is_found_in_its_order(subgraph: TestClient) -> None:
    order = gql(
        subgraph,
        '{ orders(first: 1, filter: {sources: ["licensing"]}) '
        "{ nodes { licenses { id sourceId key } } } }",
    )["data"]["orders"]["nodes"][0]
    lic = order["licenses"][0]
    missing = ids.decode(lic["id"]).source_id.rpartition(":")[0] + ":0"
    body = entities(
        subgraph,
        [
            {"__typename": "License", "id": lic["id"]},
            {"__typename": "License", "id": ids.encode("License", "licensing", missing)},
        ],
    )
    assert body["data"]["_entities"][0] == {
        "__typename": "License",
        "id": lic["id"],
        "source": "licensing",
        "sourceId": lic["sourceId"],
        "key": lic["key"],
        "licenseStatus": body["data"]["_entities"][0]["licenseStatus"],
    }
    assert body["data"]["_entities"][1] is None
    assert codes(body) == ["NOT_FOUND"]
    assert body["errors"][0]["message"] == "source 'licensing' has no licence 0"


# --- the gateway's rules apply to _entities --------------------------------------------


def test_the_cost_counts_representations(sims: Simulators) -> None:
    # one backend request per entity: 30 representations cost 30, inline or as a variable
    settings = federated(sims, limits={"max_cost": 29})
    reps = [order_rep("eu-shop", str(n)) for n in range(1000, 1030)]
    listed = ", ".join(f'{{__typename: "Order", id: "{r["id"]}"}}' for r in reps)
    inline = f"{{ _entities(representations: [{listed}]) {{ ... on Order {{ number }} }} }}"
    with gateway_client(settings) as client:
        for body in (
            gql(client, ENTITIES, {"r": reps}),
            gql(client, inline),
        ):
            assert codes(body) == ["QUERY_TOO_COMPLEX"]
            assert body["errors"][0]["extensions"] == {
                "code": "QUERY_TOO_COMPLEX",
                "limit": "cost",
                "max": 29,
                "actual": 30,
            }
        assert sims.log.entries == []
        # the same document with fewer representations is under the limit (the
        # analysis is cached by the list's length, not by the text alone)
        fewer = gql(client, ENTITIES, {"r": reps[:29]})
        assert "errors" not in fewer and len(fewer["data"]["_entities"]) == 29


def test_scopes_and_pii_masking_apply_to_entities(sims: Simulators) -> None:
    conf = sims.config()
    conf["server"] = {"federation": True}
    conf["security"] = {
        "require_auth": True,
        "api_keys": [
            {"name": "bi", "key": "bi-key-0123456789", "scopes": ["orders:read"]},
            {
                "name": "shop",
                "key": "shop-key-0123456789",
                "scopes": ["orders:read", "pii:read"],
                "sources": ["eu-shop"],
            },
            {"name": "pii", "key": "pii-key-0123456789", "scopes": ["pii:read"]},
        ],
    }
    reps = [
        {"__typename": "Customer", "id": ids.encode("Customer", "eu-shop", "45")},
        order_rep("hl-main", "650000000000000000000029"),
    ]
    with gateway_client(settings_from_mapping(conf)) as client:

        def ask(key: str | None) -> dict[str, Any]:
            headers = {"X-Api-Key": key} if key else {}
            response = client.post(
                "/graphql", json={"query": ENTITIES, "variables": {"r": reps}}, headers=headers
            )
            result: dict[str, Any] = response.json()
            return result

        assert codes(ask(None)) == ["UNAUTHENTICATED"]
        assert codes(ask("pii-key-0123456789")) == ["FORBIDDEN"]
        masked = ask("bi-key-0123456789")
        assert masked["data"]["_entities"][0]["email"] is None
        assert masked["data"]["_entities"][0]["sourceId"] == "45"
        assert masked["data"]["_entities"][1]["sourceId"] == "650000000000000000000029"
        assert codes(masked) == ["FORBIDDEN"]
        assert "Customer.email" in masked["errors"][0]["message"]
        # a credential limited to eu-shop does not see hl-main: its entity is not found
        shop = ask("shop-key-0123456789")
        assert shop["data"]["_entities"][0]["email"] == "sara.ahmadi@example.ir"
        assert shop["data"]["_entities"][1] is None
        assert shop["errors"][0]["path"] == ["_entities", 1]
        assert shop["errors"][0]["message"] == "no source named 'hl-main'"


def test_entities_as_a_persisted_query(sims: Simulators, tmp_path: Path) -> None:
    digest = hashlib.sha256(ENTITIES.encode()).hexdigest()
    path = tmp_path / "persisted-documents.json"
    path.write_text(json.dumps({digest: ENTITIES}))
    settings = federated(sims, persisted_queries=str(path), persisted_only=True)
    with gateway_client(settings) as client:
        body = gql(client, "{ _service { sdl } }")
        assert codes(body) == ["PERSISTED_QUERY_NOT_IN_LIST"]
        response = client.post(
            "/graphql",
            json={
                "extensions": {"persistedQuery": {"version": 1, "sha256Hash": digest}},
                "variables": {"r": [order_rep("eu-shop", "123")]},
            },
        )
        assert response.json()["data"]["_entities"][0]["number"] == "HG-2024-000123"
