"""Validation errors merged by message and bounded, on every path that validates; and the
``__DirectiveLocation`` enum introspection lists."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway.config import settings_from_mapping
from gateway.schema.error_list import MAX_DISTINCT
from tests.conftest import Simulators, codes, gateway_client, gql

#: graphql-cop's Directive Overloading probe, as it sends it.
COP = "query cop { __typename @aa@aa@aa@aa@aa@aa@aa@aa@aa@aa }"
#: where each of the ten ``@aa`` starts (1-based columns)
COP_COLUMNS = [COP.index("@aa") + 1 + 3 * i for i in range(10)]
#: The released spec's DirectiveLocation values (October 2021 edition, §3.13), in the
#: order it lists them.
RELEASED = [
    "QUERY", "MUTATION", "SUBSCRIPTION", "FIELD", "FRAGMENT_DEFINITION", "FRAGMENT_SPREAD",
    "INLINE_FRAGMENT", "VARIABLE_DEFINITION", "SCHEMA", "SCALAR", "OBJECT",
    "FIELD_DEFINITION", "ARGUMENT_DEFINITION", "INTERFACE", "UNION", "ENUM", "ENUM_VALUE",
    "INPUT_OBJECT", "INPUT_FIELD_DEFINITION",
]  # fmt: skip


def the_cop_error(body: dict[str, Any]) -> None:
    """One error, naming the directive once and every place it was written."""
    assert "data" not in body or body["data"] is None
    (error,) = body["errors"]
    assert error["message"] == "Unknown directive '@aa'."
    assert error["locations"] == [{"line": 1, "column": c} for c in COP_COLUMNS]
    assert error["extensions"] == {"code": "GRAPHQL_VALIDATION_FAILED"}


@pytest.mark.parametrize("introspection", [True, False])
def test_graphql_cop_directive_overloading_answers_one_error(
    sims: Simulators, introspection: bool
) -> None:
    conf = sims.config()
    conf["security"]["introspection"] = introspection
    with gateway_client(settings_from_mapping(conf)) as client:
        # as graphql-cop posts it: JSON with the operation name
        response = client.post("/graphql", json={"query": COP, "operationName": "cop"})
        assert response.status_code == 200
        the_cop_error(response.json())
        by_get = client.get(
            "/graphql", params={"query": COP}, headers={"accept": "application/json"}
        )
        the_cop_error(by_get.json())
    assert sims.log.entries == []


def test_apq_registration_answers_the_same_one_error(sims: Simulators) -> None:
    sha = hashlib.sha256(COP.encode()).hexdigest()
    apq = {"persistedQuery": {"version": 1, "sha256Hash": sha}}
    with gateway_client(sims.settings()) as client:
        body = client.post("/graphql", json={"query": COP, "extensions": apq}).json()
        the_cop_error(body)
        # a document that does not validate is not registered
        again = client.post("/graphql", json={"extensions": apq}).json()
        assert codes(again) == ["PERSISTED_QUERY_NOT_FOUND"]


def test_export_names_the_repeated_error_once(client: TestClient) -> None:
    query = "{ orders { nodes { id @aa @aa @aa } } }"
    response = client.get("/export", params={"query": query})
    assert response.status_code == 400
    (error,) = response.json()["errors"]
    assert error["extensions"]["code"] == "GRAPHQL_VALIDATION_FAILED"
    assert error["message"] == "Unknown directive '@aa'."


def test_a_manifest_document_is_refused_with_its_error_once(
    sims: Simulators, tmp_path: Any
) -> None:
    from gateway.app import create_app
    from gateway.errors import ConfigError

    path = tmp_path / "manifest.json"
    path.write_text(json.dumps({hashlib.sha256(COP.encode()).hexdigest(): COP}))
    conf = sims.config()
    conf["security"]["persisted_queries"] = str(path)
    with pytest.raises(ConfigError) as refused:
        create_app(settings_from_mapping(conf))
    assert "the document does not validate: Unknown directive '@aa'." in str(refused.value)


def test_distinct_errors_stay_apart_and_the_list_is_bounded(client: TestClient) -> None:
    # 30 unknown fields, each written twice: 30 distinct messages of two locations each
    names = [f"nope{i}" for i in range(30)]
    query = "{ " + " ".join(f"a{n}: {n} b{n}: {n}" for n in names) + " }"
    body = gql(client, query)
    errors = body["errors"]
    assert len(errors) == MAX_DISTINCT + 1
    for name, error in zip(names, errors[:MAX_DISTINCT], strict=False):
        assert error["message"].startswith(f"Cannot query field '{name}' on type 'Query'.")
        first, second = error["locations"]
        assert first["line"] == second["line"] == 1
        assert query[first["column"] - 1 :].startswith(f"a{name}: {name}")
        assert query[second["column"] - 1 :].startswith(f"b{name}: {name}")
    assert errors[-1]["message"] == (
        f"{30 - MAX_DISTINCT} more validation errors not listed: "
        f"a response lists at most {MAX_DISTINCT}"
    )
    assert codes(body) == ["GRAPHQL_VALIDATION_FAILED"] * (MAX_DISTINCT + 1)


def test_max_directives_still_refuses_first(sims: Simulators) -> None:
    many = "{ __typename" + " @aa" * 51 + " }"
    with gateway_client(sims.settings()) as client:
        (error,) = gql(client, many)["errors"]
    assert error["extensions"] == {
        "code": "QUERY_TOO_COMPLEX", "limit": "directives", "max": 50, "actual": 51
    }  # fmt: skip


def test_introspection_lists_the_released_directive_locations(client: TestClient) -> None:
    body = gql(client, '{ __type(name: "__DirectiveLocation") { kind enumValues { name } } }')
    found = body["data"]["__type"]
    assert found["kind"] == "ENUM"
    assert [v["name"] for v in found["enumValues"]] == RELEASED
    listed = gql(client, "{ __schema { types { name enumValues { name } } } }")
    (enum,) = [t for t in listed["data"]["__schema"]["types"] if t["name"] == "__DirectiveLocation"]
    assert [v["name"] for v in enum["enumValues"]] == RELEASED
    # the directives themselves still answer their locations through the enum
    directives = gql(client, "{ __schema { directives { name locations } } }")
    skip = next(d for d in directives["data"]["__schema"]["directives"] if d["name"] == "skip")
    assert skip["locations"] == ["FIELD", "FRAGMENT_SPREAD", "INLINE_FRAGMENT"]


def test_one_mistake_past_graphql_cores_error_cap_is_one_error(sims: Simulators) -> None:
    conf = sims.config()
    conf["security"]["limits"] = {"max_directives": 200}
    with gateway_client(settings_from_mapping(conf)) as client:
        body = gql(client, "{ __typename" + " @aa" * 150 + " }")
    repeated, aborted = body["errors"]
    # graphql-core stops at 100 errors and says so; the 100 are one error
    assert repeated["message"] == "Unknown directive '@aa'."
    assert len(repeated["locations"]) == 100
    assert aborted["message"] == (
        "Too many validation errors, error limit reached. Validation aborted."
    )
