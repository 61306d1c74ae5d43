"""Execution plans (gateway.schema.plan) answer exactly as graphql-core does.

Every query runs twice over the same simulators, with plans and with graphql-core's
executor as it is (``GatewayExecutor.use_plans = False``): the two JSON answers must be
the same, data, nulls, errors (message, path, locations, code) and their order.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
import strawberry
from graphql import Undefined
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis_graphql import nodes, queries
from starlette.testclient import TestClient

from gateway.schema.executor import GatewayExecutor
from gateway.schema.query import schema_sdl
from tests.conftest import Simulators, gateway_client

_SCALARS = {
    "DateTime": st.sampled_from(["2024-01-01T00:00:00Z", "2026-13-45"]).map(nodes.String),
    "Decimal": st.sampled_from(["1.5", "x"]).map(nodes.String),
    "JSON": st.just(nodes.String("{}")),
}


@pytest.fixture(scope="module")
def shared(sims: Simulators) -> Iterator[TestClient]:
    with gateway_client(sims.settings()) as client:
        yield client


def both(
    client: TestClient, query: str, variables: dict[str, Any] | None = None
) -> tuple[Any, Any]:
    """(the answer with plans, graphql-core's answer), each the status and JSON body; the
    planned answer is asked twice (the second from the plan the first one made) and must
    not change."""
    answers = []
    for planned in (True, True, False):
        GatewayExecutor.use_plans = planned
        try:
            r = client.post("/graphql", json={"query": query, "variables": variables or {}})
        finally:
            GatewayExecutor.use_plans = True
        answers.append((r.status_code, r.json()))
    assert answers[0] == answers[1], "the plan's second answer differs from its first"
    return answers[0], answers[2]


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(query=queries(schema_sdl(), custom_scalars=_SCALARS))
def test_generated_queries_answer_as_graphql_core_does(shared: TestClient, query: str) -> None:
    planned, plain = both(shared, query)
    assert planned == plain, query


ONE = """{ orderBySourceId(source: "eu-shop", sourceId: "123") { number status
  customer { email name } lineItems { productName quantity total { amount } } } }"""

WRITTEN = [
    ONE,
    # aliases, the same field twice, __typename at every level, a missing order (null
    # and NOT_FOUND beside data)
    """{ a: orderBySourceId(source: "eu-shop", sourceId: "123") { __typename n: number
         number price { __typename total { amount currency } tax { amount } } }
       b: orderBySourceId(source: "eu-shop", sourceId: "999999") { number }
       __typename }""",
    # named and inline fragments, on an interface (node) and on the concrete type
    """query { node(id: "T3JkZXI6ZXUtc2hvcDoxMjM=") { id ...O ... on Customer { email } }
         orders(first: 5) { nodes { ...O customer { ... on Customer { email name } } } } }
       fragment O on Order { __typename id sourceKind status price { total { amount } } }""",
    # @skip/@include with literals, lists of objects with plain and resolved fields
    """{ orders(first: 20, filter: {sources: ["adobe", "eu-shop"]}) {
         pageInfo { hasNextPage @include(if: true) endCursor @skip(if: true) }
         nodes { source sourceId createdAt lineItems { sku productName quantity
           unitPrice { amount currency } total @skip(if: false) { amount } } } } }""",
    # a list field over every source, with raw (JSON) payloads
    """{ sources { name kind healthy } orders(first: 3) { nodes { raw sourceStatus } } }""",
]


@pytest.mark.parametrize("query", WRITTEN)
def test_written_queries_answer_as_graphql_core_does(shared: TestClient, query: str) -> None:
    planned, plain = both(shared, query)
    assert planned == plain
    assert planned[0] == 200 and planned[1].get("data")


@pytest.mark.parametrize("shown", [True, False])
def test_include_read_from_a_variable_is_collected_per_request(
    shared: TestClient, shown: bool
) -> None:
    query = """query ($shown: Boolean!) { orderBySourceId(source: "eu-shop", sourceId: "123")
      { number customer @include(if: $shown) { email } } }"""
    planned, plain = both(shared, query, {"shown": shown})
    assert planned == plain
    order = planned[1]["data"]["orderBySourceId"]
    assert ("customer" in order) is shown and order["number"]


def test_plain_fields_are_read_from_the_plan(
    shared: TestClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only resolvers go through graphql-core's execute_field: the plain fields (number,
    status, email, name, productName, quantity, total, amount) are read from steps."""
    executed: Counter[str] = Counter()
    original = GatewayExecutor.execute_field

    def counted(self: GatewayExecutor, parent: Any, source: Any, details: Any, *rest: Any) -> Any:
        executed[f"{parent.name}.{details[0].node.name.value}"] += 1
        return original(self, parent, source, details, *rest)

    monkeypatch.setattr(GatewayExecutor, "execute_field", counted)
    for _ in range(2):  # the second request reuses the first one's plan
        body = shared.post("/graphql", json={"query": ONE}).json()
    order = body["data"]["orderBySourceId"]
    assert order["customer"]["email"] and order["lineItems"][0]["total"]["amount"]
    assert executed == {"Query.orderBySourceId": 2, "Order.customer": 2, "Order.lineItems": 2}


# -- values the gateway's types do not hold today, but a plan must not misread -----------


@strawberry.type
class _Inner:
    a: int
    b: str | None


@strawberry.type
class _Outer:
    inner: _Inner | None
    req: _Inner
    s: str | None
    n: int


async def _later() -> _Inner:
    return _Inner(a=1, b="x")


@strawberry.type
class _Query:
    @strawberry.field
    def undefined(self) -> _Outer:
        return _Outer(inner=Undefined, req=_Inner(a=1, b=None), s="x", n=1)  # type: ignore[arg-type]

    @strawberry.field
    def awaitable(self) -> _Outer:
        return _Outer(inner=_later(), req=_Inner(a=1, b=None), s="y", n=2)  # type: ignore[arg-type]

    @strawberry.field
    def null_in_non_null(self) -> _Outer | None:
        return _Outer(inner=None, req=_Inner(a=None, b="z"), s=None, n=3)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "query",
    [
        "{ undefined { inner { a } n } }",
        "{ awaitable { inner { a b } s n } }",
        "{ nullInNonNull { req { a b } inner { a } n } }",
    ],
)
async def test_unusual_values_are_left_to_graphql_core(query: str) -> None:
    """Undefined is null, an awaitable is awaited, a null in a non-null field is an error
    that nulls its parent: as graphql-core completes them, plans or not."""
    schema = strawberry.Schema(query=_Query, execution_context_class=GatewayExecutor)
    answers = []
    for planned in (True, True, False):
        GatewayExecutor.use_plans = planned
        try:
            result = await schema.execute(query)
        finally:
            GatewayExecutor.use_plans = True
        answers.append((result.data, [(e.message, e.path) for e in result.errors or []]))
    assert answers[0] == answers[1] == answers[2]
