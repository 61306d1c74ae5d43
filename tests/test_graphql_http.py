"""GraphQL over HTTP: methods, content types, error codes, ids, exact JSON."""

from __future__ import annotations

import json
from dataclasses import fields

from strawberry.types.base import get_object_definition

from gateway import ids
from gateway.schema.types import SERVED_AS_IS
from tests.conftest import SOURCE_OF, Simulators, codes, gateway_client, gql


def test_get_query_and_graphiql(sims: Simulators) -> None:
    with gateway_client(sims.settings()) as client:
        r = client.get("/graphql", params={"query": "{ sources { name kind healthy } }"})
        assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
        # the demo's source of every kind, in registry order
        assert [s["name"] for s in r.json()["data"]["sources"]] == list(SOURCE_OF.values())
        assert all(s["healthy"] for s in r.json()["data"]["sources"])
        page = client.get("/graphql", headers={"accept": "text/html"})
        assert page.status_code == 200 and "graphiql" in page.text.lower()


def test_malformed_requests_get_graphql_errors_not_500(sims: Simulators) -> None:
    with gateway_client(sims.settings()) as client:
        r = client.post(
            "/graphql", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert r.status_code == 400
        assert r.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"

        r = client.post("/graphql", json={"query": "{ orders(first: 1) { nodes { id } "})
        assert r.status_code == 200 and "data" not in r.json()
        assert codes(r.json()) == ["GRAPHQL_PARSE_FAILED"]

        body = gql(client, "{ orders { nodes { id shoeSize } } }")
        assert "data" not in body and codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
        assert "shoeSize" in body["errors"][0]["message"]

        r = client.post(
            "/graphql",
            json={
                "query": "query($n: Int) { orders(first: $n) { nodes { id } } }",
                "variables": {"n": "x"},
            },
        )
        assert codes(r.json()) == ["BAD_USER_INPUT"]

        r = client.put("/graphql", json={"query": "{ sources { name } }"})
        assert r.status_code == 405 and r.headers["allow"] == "GET, POST"
        assert r.json()["errors"][0]["extensions"]["code"] == "BAD_USER_INPUT"

        r = client.post("/graphql", content=b"query", headers={"content-type": "text/plain"})
        assert r.status_code == 400 and codes(r.json()) == ["BAD_USER_INPUT"]


def test_graphql_response_media_type(sims: Simulators) -> None:
    with gateway_client(sims.settings()) as client:
        accept = {"accept": "application/graphql-response+json"}
        r = client.post("/graphql", json={"query": "{ nope }"}, headers=accept)
        assert r.status_code == 400
        assert r.headers["content-type"].startswith("application/graphql-response+json")
        r = client.post("/graphql", json={"query": "{ sources { name } }"}, headers=accept)
        assert r.status_code == 200 and r.json()["data"]["sources"]


def test_ids_bad_foreign_and_unknown(sims: Simulators) -> None:
    with gateway_client(sims.settings()) as client:
        q = "query($id: ID!) { order(id: $id) { id } }"
        body = gql(client, q, {"id": "!!not-an-id!!"})
        assert body["data"] == {"order": None} and codes(body) == ["BAD_USER_INPUT"]
        customer_id = ids.encode("Customer", "eu-shop", "45")
        assert codes(gql(client, q, {"id": customer_id})) == ["BAD_USER_INPUT"]
        assert codes(gql(client, q, {"id": ids.encode("Order", "nowhere", "1")})) == ["NOT_FOUND"]
        body = gql(client, '{ orderBySourceId(source: "nowhere", sourceId: "1") { id } }')
        assert codes(body) == ["BAD_USER_INPUT"]
        body = gql(client, '{ orderBySourceId(source: "adobe", sourceId: "no-slash") { id } }')
        assert codes(body) == ["BAD_USER_INPUT"]
        assert sims.log.of("adobe_vip") == []


def test_license_node_by_global_id(sims: Simulators) -> None:
    with gateway_client(sims.settings()) as client:
        body = gql(
            client,
            """{ orderBySourceId(source: "licensing", sourceId:
            "1593781720493279") { licenses { id sourceId status maintenanceUntil
            features { code maxConsumption } } } }""",
        )
        (lic,) = body["data"]["orderBySourceId"]["licenses"]
        assert lic["maintenanceUntil"] == "2021-01-10T00:00:00.000000+00:00"
        node = gql(
            client,
            """query($id: ID!) { node(id: $id) { __typename ... on License {
            id sourceId status features { code maxConsumption } } } }""",
            {"id": lic["id"]},
        )
    assert node["data"]["node"] == {
        "__typename": "License",
        **{k: lic[k] for k in ("id", "sourceId", "status", "features")},
    }


def test_raw_keeps_exact_numbers_and_drops_secrets(sims: Simulators) -> None:
    with gateway_client(sims.settings()) as client:
        r = client.post(
            "/graphql",
            json={
                "query": """{
            z: orderBySourceId(source: "reseller", sourceId: "order-id-1") { raw }
            h: orderBySourceId(source: "eu-shop", sourceId: "123") { raw }
            l: orderBySourceId(source: "licensing", sourceId: "1593781720493279") { raw } }"""
            },
        )
    text = r.text
    assert '"full":2339.71' in text and '"total":185000' in text
    for secret in (
        "initial_password",
        "is_initial_password",
        "national_code",
        "4q3dg7!_",
        "0012345678",
    ):
        assert secret not in text
    raw = r.json()["data"]
    assert raw["h"]["raw"]["billing_first_name"] == "Sara"  # the rest is kept as received


def test_money_is_a_decimal_string(sims: Simulators) -> None:
    with gateway_client(sims.settings()) as client:
        body = gql(
            client,
            """{ orderBySourceId(source: "eu-shop", sourceId: "123") {
            price { currency subtotal { amount currency } total { amount } outstanding { amount } }
            lineItems { unitPrice { amount } discount { amount } total { amount } } } }""",
        )
    order = body["data"]["orderBySourceId"]
    assert order["price"] == {
        "currency": "EUR",
        "subtotal": {"amount": "2000.00", "currency": "EUR"},
        "total": {"amount": "1850.00"},
        "outstanding": {"amount": "850.00"},
    }
    assert order["lineItems"][0] == {
        "unitPrice": {"amount": "500.00"},
        "discount": {"amount": "100.00"},
        "total": {"amount": "900.00"},
    }


def test_health_and_readiness(sims: Simulators) -> None:
    with gateway_client(sims.settings()) as client:
        assert client.get("/healthz").json() == {"status": "ok"}
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        assert ready.json()["sources"]["adobe"] == {"kind": "adobe_vip", "healthy": True}


def test_introspection_follows_the_config(sims: Simulators) -> None:
    conf = sims.config()
    conf["security"]["introspection"] = False
    from gateway.config import settings_from_mapping

    with gateway_client(settings_from_mapping(conf)) as client:
        body = gql(client, "{ __schema { queryType { name } } }")
        assert "data" not in body and set(codes(body)) == {"GRAPHQL_VALIDATION_FAILED"}
    with gateway_client(sims.settings()) as client:
        body = gql(client, "{ __schema { queryType { name } } }")
        assert body["data"]["__schema"]["queryType"]["name"] == "Query"


def test_unreachable_backend_costs_only_its_fields(sims: Simulators) -> None:
    settings = sims.settings(overrides={"eu-shop": {"base_url": "http://127.0.0.1:9/hamgam"}})
    with gateway_client(settings) as client:
        body = gql(
            client,
            """{ a: orderBySourceId(source: "eu-shop", sourceId: "123") { id }
            b: orderBySourceId(source: "reseller", sourceId: "order-id-1") { sourceId } }""",
        )
        assert body["data"]["a"] is None and body["data"]["b"] == {"sourceId": "order-id-1"}
        (error,) = body["errors"]
        assert error["extensions"] == {"code": "BACKEND_UNAVAILABLE", "source": "eu-shop"}
        sources = {
            s["name"]: s["healthy"]
            for s in gql(client, "{ sources { name healthy } }")["data"]["sources"]
        }
        assert sources["eu-shop"] is False and sources["reseller"] is True
        # the replica still serves (partial answers): ready, with the source's state
        ready = client.get("/readyz")
        assert ready.status_code == 200 and ready.json()["ready"] is True
        assert ready.json()["sources"]["eu-shop"] == {"kind": "hamgam", "healthy": False}
        assert ready.json()["sources"]["reseller"] == {"kind": "zaveit", "healthy": True}
    assert json.dumps(body).count("Traceback") == 0


def test_types_served_as_the_domain_objects_match_them_field_for_field() -> None:
    # Money and Price answer straight from domain objects: any field the GraphQL type
    # has that the domain class lacks (or a resolver, or an interface) would break that.
    for graphql_type, domain_type in SERVED_AS_IS.items():
        definition = get_object_definition(graphql_type, strict=True)
        assert not definition.interfaces and definition.is_type_of is None
        assert all(f.base_resolver is None for f in definition.fields)
        assert [f.python_name for f in definition.fields] == [f.name for f in fields(domain_type)]
