"""Real GraphQL clients read the live gateway (uvicorn on loopback over the simulators).

gql 3.5 on graphql-core 3.2 (Python's BI scripts) and graphql-js 16 (Apollo Client,
GraphiQL, GraphQL Code Generator) each fetch the schema by introspection and build it.
They run as subprocesses: gql needs graphql-core < 3.2.7 and lives in .venv-clients,
graphql-js in tests/clients/js/node_modules (both made by `make install`).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from graphql import (
    DirectiveDefinitionNode,
    TypeDefinitionNode,
    get_introspection_query,
    parse,
    print_ast,
)

from gateway.app import create_app
from gateway.simulators import BackgroundServer
from tests.conftest import Simulators

ROOT = Path(__file__).resolve().parent.parent
CLIENTS = ROOT / "tests" / "clients"
CLIENTS_PYTHON = ROOT / ".venv-clients" / "bin" / "python"
GRAPHQL_JS = CLIENTS / "js" / "node_modules" / "graphql" / "package.json"

#: DirectiveLocations of the released spec (October 2021 edition, §3.13).
RELEASED_LOCATIONS = {
    "QUERY", "MUTATION", "SUBSCRIPTION", "FIELD", "FRAGMENT_DEFINITION", "FRAGMENT_SPREAD",
    "INLINE_FRAGMENT", "VARIABLE_DEFINITION", "SCHEMA", "SCALAR", "OBJECT",
    "FIELD_DEFINITION", "ARGUMENT_DEFINITION", "INTERFACE", "UNION", "ENUM", "ENUM_VALUE",
    "INPUT_OBJECT", "INPUT_FIELD_DEFINITION",
}  # fmt: skip

PAGE_QUERY = """
query Page($filter: OrderFilter, $first: Int, $after: String) {
  orders(filter: $filter, first: $first, after: $after) {
    edges { cursor node { sourceId createdAt } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


@pytest.fixture(scope="module")
def live_url(sims: Simulators) -> Iterator[str]:
    server = BackgroundServer(create_app(sims.settings()), lifespan="on").start()
    yield f"{server.base_url}/graphql"
    server.stop()


def run_client(argv: list[str]) -> dict[str, Any]:
    done = subprocess.run(argv, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def definitions(sdl: str) -> dict[str, str]:
    """Each type or directive definition of an SDL, printed alike whoever wrote it."""
    return {
        d.name.value: print_ast(d)
        for d in parse(sdl).definitions
        if isinstance(d, TypeDefinitionNode | DirectiveDefinitionNode)
    }


def committed_schema() -> dict[str, str]:
    return definitions((ROOT / "schema.graphql").read_text(encoding="utf-8"))


def eu_shop_order_ids(url: str) -> list[str]:
    """The eu-shop source's orders, newest first, in one page (the paging's reference)."""
    variables = {"filter": {"sources": ["eu-shop"]}, "first": 500}
    body = httpx.post(url, json={"query": PAGE_QUERY, "variables": variables}).json()
    assert body["data"]["orders"]["pageInfo"]["hasNextPage"] is False
    return [edge["node"]["sourceId"] for edge in body["data"]["orders"]["edges"]]


def test_gql_on_graphql_core_3_2_reads_the_schema_queries_and_pages(live_url: str) -> None:
    if not CLIENTS_PYTHON.exists():
        pytest.fail("the client venv is missing: run `make install`")
    script = str(CLIENTS / "python" / "read_orders.py")
    report = run_client([str(CLIENTS_PYTHON), script, live_url, "eu-shop", "123", "7"])

    assert report["graphqlCore"].startswith("3.2.")
    # A query with variables, answered with exact money.
    assert report["order"] == {
        "id": "T3JkZXI6ZXUtc2hvcDoxMjM",
        "number": "HG-2024-000123",
        "status": "COMPLETED",
        "sourceStatus": "delivered",
        "price": {"total": {"amount": "1850.00", "currency": "EUR"}},
        "customer": {"email": "sara.ahmadi@example.ir"},
        "lineItems": [
            {"productName": "Walnut desk lamp", "quantity": 2},
            {"productName": "Linen shade", "quantity": 1},
        ],
    }
    # Paging with cursors gives every order once, in the order one big page gives them.
    everything = eu_shop_order_ids(live_url)
    pages = report["pages"]
    assert len(everything) > 14
    assert len(pages) == math.ceil(len(everything) / 7)
    assert all(len(page) == 7 for page in pages[:-1])
    assert [i for page in pages for i in page] == everything
    # gql checked a misspelt document against the schema it fetched, before sending it.
    assert report["localError"].startswith("Cannot query field 'custome' on type 'Order'.")
    # The schema gql built is schema.graphql; graphql-core 3.2 prints @oneOf, which it
    # does not count among the specified directives.
    built = definitions(report["sdl"])
    assert built.pop("oneOf").endswith("directive @oneOf on INPUT_OBJECT")
    assert built == committed_schema()


def test_graphql_js_16_builds_and_validates_the_live_schema(live_url: str) -> None:
    node = shutil.which("node")
    if node is None or not GRAPHQL_JS.exists():
        pytest.fail("node or graphql-js is missing: run `bash .ci/run` or `make install`")
    script = str(CLIENTS / "js" / "read_schema.mjs")
    report = run_client([node, script, live_url, PAGE_QUERY])

    assert report["version"].startswith("16.")
    assert report["schemaErrors"] == []
    assert report["documentErrors"] == []
    assert definitions(report["sdl"]) == committed_schema()
    deprecated = next(d for d in report["directives"] if d["name"] == "deprecated")
    assert deprecated["locations"] == [
        "FIELD_DEFINITION", "ARGUMENT_DEFINITION", "INPUT_FIELD_DEFINITION", "ENUM_VALUE"
    ]  # fmt: skip


def test_introspection_names_only_released_directive_locations(live_url: str) -> None:
    query = get_introspection_query(
        descriptions=True,
        specified_by_url=True,
        directive_is_repeatable=True,
        schema_description=True,
        input_value_deprecation=True,
    )
    body = httpx.post(live_url, json={"query": query}).json()
    directives = body["data"]["__schema"]["directives"]
    named = {loc for d in directives for loc in d["locations"]}
    assert named <= RELEASED_LOCATIONS, named - RELEASED_LOCATIONS
    assert {d["name"] for d in directives} == {
        "include",
        "skip",
        "deprecated",
        "specifiedBy",
        "oneOf",
        "defer",
    }  # fmt: skip  (defer: docs/defer.md)
