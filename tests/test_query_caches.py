"""The validation cache is keyed by the document object, not by hashing its AST."""

from __future__ import annotations

from graphql import parse
from graphql.validation import specified_rules

from gateway.schema.preparation import QueryCaches, Validations, validate_document
from gateway.schema.query import build_schema
from tests.conftest import Simulators, gateway_client, gql

RULES = tuple(specified_rules)
BAD = "{ orders(first: 1) { nodes { nope } } }"


def test_a_document_is_validated_once_and_each_setting_apart() -> None:
    schema = build_schema(introspection=False)._schema
    validations = Validations(maxsize=4)
    document = parse(BAD)
    errors = validations(schema, document, RULES, True)
    assert validations(schema, document, RULES, True) is errors  # kept
    assert [e.message for e in errors] == [
        e.message for e in validate_document(schema, document, RULES, True)
    ]
    # the same text parsed again is another document: validated again, same answer
    again = validations(schema, parse(BAD), RULES, True)
    assert again is not errors and [e.message for e in again] == [e.message for e in errors]
    # suggestions and rules are part of the key
    shown = validations(schema, document, RULES, False)
    assert shown is not errors
    assert validations(schema, document, RULES[:1], True) == []
    assert len(validations) == 4
    validations(schema, parse("{ __typename }"), RULES, True)
    assert len(validations) == 1  # emptied when full


def test_query_caches_validate_through_the_gateway_alike(sims: Simulators) -> None:
    # The same invalid query twice, and a valid one, through the app with caches on.
    assert isinstance(QueryCaches().validate, Validations)
    with gateway_client(sims.settings()) as client:
        first = client.post("/graphql", json={"query": BAD}).json()
        second = client.post("/graphql", json={"query": BAD}).json()
        assert first == second and "data" not in first
        assert "nope" in first["errors"][0]["message"]
        body = gql(client, "{ orders(first: 1) { nodes { sourceId } } }")
        assert len(body["data"]["orders"]["nodes"]) == 1
