"""An export's plan from a query: columns, rows and the paging rewrite (no I/O)."""

from __future__ import annotations

from typing import Any

import pytest
from graphql import GraphQLSchema, parse, validate

from gateway.errors import BadUserInput, GatewayError
from gateway.export.document import AFTER_VAR, FIRST_VAR, plan_export
from gateway.export.flatten import rows
from gateway.schema.query import build_schema

SCHEMA: GraphQLSchema = build_schema()._schema


def plan(query: str, variables: dict[str, Any] | None = None) -> Any:
    return plan_export(SCHEMA, query, None, variables or {})


def test_columns_follow_the_selection_with_aliases_and_fragments() -> None:
    p = plan(
        """query { orders(first: 10, filter: {sources: ["a"]}) { nodes {
             ...Money  n: number  customer { email ... on Customer { company } }
             __typename } } }
           fragment Money on Order { total: price { total { amount currency } } number }"""
    )
    assert p.shape.columns() == [
        "total.total.amount", "total.total.currency", "number", "n",
        "customer.email", "customer.company", "__typename",
    ]  # fmt: skip


def test_the_paging_rewrite_is_a_valid_document_with_variables() -> None:
    p = plan('{ orders(first: 10, after: "abc", filter: {sources: ["a"]}) { nodes { id } } }')
    assert p.after == "abc"
    assert (p.first_var, p.after_var) == (FIRST_VAR, AFTER_VAR)
    assert validate(SCHEMA, parse(p.query)) == []
    assert f'orders(filter: {{ sources: ["a"] }}, first: ${FIRST_VAR}, after: ${AFTER_VAR})' in (
        p.query
    )
    assert "pageInfo {" in p.query and "hasNextPage" in p.query and "endCursor" in p.query


def test_the_clients_own_variables_are_reused() -> None:
    variables: dict[str, Any] = {"c": "xyz", "n": 3}
    p = plan(
        "query($c: String, $n: Int) { orders(first: $n, after: $c) { nodes { id } } }",
        variables,
    )
    assert (p.first_var, p.after_var, p.after) == ("n", "c", "xyz")
    assert validate(SCHEMA, parse(p.query)) == []  # no unused variable


def test_rows_repeat_the_parent_and_leave_empty_lists_one_row() -> None:
    p = plan(
        "{ orders { nodes { id lineItems { sku licenses { key } } price { total { amount } } } } }"
    )
    assert p.shape.columns() == [
        "id",
        "lineItems.sku",
        "lineItems.licenses.key",
        "price.total.amount",
    ]
    order = {
        "id": "o1",
        "lineItems": [
            {"sku": "A", "licenses": [{"key": "k1"}, {"key": "k2"}]},
            {"sku": "B", "licenses": []},
        ],
        "price": {"total": {"amount": "10.00"}},
    }
    assert rows(p.shape, order) == [
        ["o1", "A", "k1", "10.00"],
        ["o1", "A", "k2", "10.00"],
        ["o1", "B", None, "10.00"],
    ]
    assert rows(p.shape, {"id": "o2", "lineItems": [], "price": None}) == [["o2", None, None, None]]


def test_edges_lift_the_node() -> None:
    p = plan("{ orders { edges { cursor order: node { id } } } }")
    assert p.shape.columns() == ["cursor", "id"]
    data = {"orders": {"edges": [{"cursor": "c1", "order": {"id": "o1"}}], "pageInfo": {}}}
    assert p.objects(data) == [{"cursor": "c1", "id": "o1"}]


@pytest.mark.parametrize(
    ("query", "words"),
    [
        # cousins through objects explode the same row as siblings would
        (
            "{ orders { nodes { lineItems { sku } customer { orders { nodes { id } } } } } }",
            "lineItems and customer.orders.nodes",
        ),
        ("{ orders { nodes { lineItems { licenses { key } features: licenses { key } } } } }",
         "lineItems.licenses and lineItems.features"),
        ("{ orders { edges { cursor node { cursor: id } } } }", "collide"),
        ("{ __typename }", "not a list"),
        ('query($_exportFirst: Int) { orders(first: $_exportFirst) { nodes { id } } }', "reserved"),
        ("query A { sources { name } } query B { sources { name } }", "operationName"),
    ],
)  # fmt: skip
def test_refused(query: str, words: str) -> None:
    with pytest.raises(GatewayError) as caught:
        plan(query)
    assert isinstance(caught.value, BadUserInput)
    assert words in caught.value.message
