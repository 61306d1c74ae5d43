"""With introspection off, no error suggests a name the client did not write.

graphql-core answers a misspelling with the right name ("Did you mean 'customer'?"), and
tools such as Clairvoyance rebuild a schema from those hints. Off: every kind is left out,
over POST and GET, at validation and at variable coercion. On: they help developers.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
)
from starlette.testclient import TestClient

from gateway.config import settings_from_mapping
from gateway.schema.query import build_schema
from tests.conftest import Simulators, gateway_client


@pytest.fixture(scope="module")
def clients(sims: Simulators) -> Iterator[dict[bool, TestClient]]:
    """A gateway with introspection on (True) and one with it off (False)."""
    made = {}
    for introspection in (True, False):
        conf = sims.config()
        conf["security"]["introspection"] = introspection
        made[introspection] = gateway_client(settings_from_mapping(conf)).__enter__()
    yield made
    for client in made.values():
        client.__exit__(None, None, None)


def ask(
    client: TestClient, query: str, variables: dict[str, Any] | None = None, *, get: bool = False
) -> list[dict[str, Any]]:
    if get:
        params = {"query": query}
        if variables is not None:
            params["variables"] = json.dumps(variables)
        response = client.get("/graphql", params=params)
    else:
        response = client.post("/graphql", json={"query": query, "variables": variables})
    errors: list[dict[str, Any]] = response.json()["errors"]
    return errors


VAR_FILTER = "query($f: OrderFilter) { orders(filter: $f) { nodes { id } } }"

#: Every kind of suggestion graphql-core makes in an executable document: the request,
#: then the message with introspection on and with it off.
KINDS: dict[str, tuple[str, dict[str, Any] | None, str, str]] = {
    "field": (
        "{ orders { nodes { custome { email } } } }",
        None,
        "Cannot query field 'custome' on type 'Order'. Did you mean 'customer'?",
        "Cannot query field 'custome' on type 'Order'.",
    ),
    "field of an interface (a type)": (
        '{ node(id: "x") { number } }',
        None,
        "Cannot query field 'number' on type 'Node'. "
        "Did you mean to use an inline fragment on 'Order'?",
        "Cannot query field 'number' on type 'Node'.",
    ),
    "selection of an object field": (
        '{ order(id: "x") }',
        None,
        "Field 'order' of type 'Order' must have a selection of subfields. "
        "Did you mean 'order { ... }'?",
        "Field 'order' of type 'Order' must have a selection of subfields.",
    ),
    "argument": (
        "{ orders(frist: 1) { nodes { id } } }",
        None,
        "Unknown argument 'frist' on field 'Query.orders'. Did you mean 'first'?",
        "Unknown argument 'frist' on field 'Query.orders'.",
    ),
    "directive argument": (
        "{ sources { name @include(if: true, iff: true) } }",
        None,
        "Unknown argument 'iff' on directive '@include'. Did you mean 'if'?",
        "Unknown argument 'iff' on directive '@include'.",
    ),
    "type of a variable": (
        "query($f: OrderFiltr) { orders(filter: $f) { nodes { id } } }",
        None,
        "Unknown type 'OrderFiltr'. Did you mean 'OrderFilter', 'Order', 'OrderEdge', "
        "'OrderEvent', or 'OrderStatus'?",
        "Unknown type 'OrderFiltr'.",
    ),
    "type of a fragment": (
        '{ node(id: "x") { ... on Ordr { number } } }',
        None,
        "Unknown type 'Ordr'. Did you mean 'Order'?",
        "Unknown type 'Ordr'.",
    ),
    "enum value": (
        "{ orders(filter: {status: [COMPLETD]}) { nodes { id } } }",
        None,
        "Value 'COMPLETD' does not exist in 'OrderStatus' enum. "
        "Did you mean the enum value 'COMPLETED'?",
        "Value 'COMPLETD' does not exist in 'OrderStatus' enum.",
    ),
    "enum value written as a string": (
        '{ orders(filter: {status: ["COMPLETED"]}) { nodes { id } } }',
        None,
        "Enum 'OrderStatus' cannot represent non-enum value: \"COMPLETED\". "
        "Did you mean the enum value 'COMPLETED'?",
        "Enum 'OrderStatus' cannot represent non-enum value: \"COMPLETED\".",
    ),
    "input field": (
        "{ orders(filter: {statu: [COMPLETED]}) { nodes { id } } }",
        None,
        "Expected value of type 'OrderFilter' not to include unknown field 'statu'. "
        "Did you mean 'status'? Found: { statu: [COMPLETED] }.",
        "Expected value of type 'OrderFilter' not to include unknown field 'statu', "
        "found: { statu: [COMPLETED] }.",
    ),
    "enum value in a variable": (
        VAR_FILTER,
        {"f": {"status": ["COMPLETD"]}},
        "Variable '$f' has invalid value at .status[0]: Value 'COMPLETD' does not exist "
        "in 'OrderStatus' enum. Did you mean the enum value 'COMPLETED'?",
        "Variable '$f' has invalid value at .status[0]: Value 'COMPLETD' does not exist "
        "in 'OrderStatus' enum.",
    ),
    "input field in a variable": (
        VAR_FILTER,
        {"f": {"statu": ["COMPLETED"]}},
        "Variable '$f' has invalid value: Expected value of type 'OrderFilter' not to "
        "include unknown field 'statu'. Did you mean 'status'? Found: {'statu': ['COMPLETED']}.",
        "Variable '$f' has invalid value: Expected value of type 'OrderFilter' not to "
        "include unknown field 'statu', found: {'statu': ['COMPLETED']}.",
    ),
}


@pytest.mark.parametrize("get", [False, True], ids=["POST", "GET"])
@pytest.mark.parametrize("kind", list(KINDS))
def test_each_kind_of_suggestion_is_kept_with_introspection_and_left_out_without(
    clients: dict[bool, TestClient], kind: str, get: bool
) -> None:
    query, variables, on, off = KINDS[kind]
    assert [e["message"] for e in ask(clients[True], query, variables, get=get)] == [on]
    (error,) = ask(clients[False], query, variables, get=get)
    assert error["message"] == off
    code = "BAD_USER_INPUT" if variables else "GRAPHQL_VALIDATION_FAILED"
    assert error["extensions"] == {"code": code}


def test_graphql_core_suggests_no_directive_either_way(clients: dict[bool, TestClient]) -> None:
    # graphql-core has no suggestion for an unknown directive's name (only for its
    # arguments, above): the message is what the client wrote, on and off.
    for introspection in (True, False):
        errors = ask(clients[introspection], "{ sources { name @skp(if: true) } }")
        assert [e["message"] for e in errors] == ["Unknown directive '@skp'."]


def _misspelt(name: str) -> list[str]:
    """What a tool guessing near a name sends: its last letter dropped, or two swapped."""
    out = {name[:-1], name[1] + name[0] + name[2:] if len(name) > 1 else name + "x"}
    return sorted(n for n in out if n and n != name and n[0] != "_")


def _sweep() -> list[tuple[str, dict[str, Any] | None]]:
    """Requests that misspell every name of the schema where a client could write it."""
    schema = build_schema()._schema
    requests: list[tuple[str, dict[str, Any] | None]] = []
    for type_ in schema.type_map.values():
        if type_.name.startswith("__"):
            continue
        for wrong in _misspelt(type_.name):
            requests.append((f"query($v: {wrong}) {{ __typename }}", None))
            requests.append((f"{{ ...on {wrong} {{ __typename }} }}", None))
        if isinstance(type_, GraphQLObjectType | GraphQLInterfaceType):
            for field_name, field in type_.fields.items():
                for wrong in _misspelt(field_name):
                    requests.append(
                        (f"{{ __typename }} fragment F on {type_.name} {{ {wrong} }}", None)
                    )
                for arg_name in field.args:
                    for wrong in _misspelt(arg_name):
                        requests.append(
                            (
                                f"{{ __typename }} fragment F on {type_.name} "
                                f"{{ {field_name}({wrong}: 1) {{ __typename }} }}",
                                None,
                            )
                        )
        if isinstance(type_, GraphQLEnumType) and type_.name == "OrderStatus":
            for value in type_.values:
                for wrong in _misspelt(value):
                    requests.append(
                        (f"{{ orders(filter: {{status: [{wrong}]}}) {{ nodes {{ id }} }} }}", None)
                    )
                    requests.append((VAR_FILTER, {"f": {"status": [wrong]}}))
                requests.append(
                    (f'{{ orders(filter: {{status: ["{value}"]}}) {{ nodes {{ id }} }} }}', None)
                )
        if isinstance(type_, GraphQLInputObjectType):
            for input_field in type_.fields:
                for wrong in _misspelt(input_field):
                    requests.append(
                        (f"{{ orders(filter: {{{wrong}: null}}) {{ nodes {{ id }} }} }}", None)
                    )
                    requests.append((VAR_FILTER, {"f": {wrong: None}}))
    for directive in ("include", "skip"):
        for wrong in (*_misspelt(directive), "iff", "i"):
            requests.append((f"{{ __typename @{directive}({wrong}: true) }}", None))
            requests.append((f"{{ __typename @{wrong}(if: true) }}", None))
    return requests


#: A name quoted in a message: 'customer', 'Query.orders', '$f', '@include'.
QUOTED = re.compile(r"'([$@]?[_A-Za-z][_0-9A-Za-z]*(?:\.[_A-Za-z][_0-9A-Za-z]*)?)'")


def test_a_sweep_of_misspellings_finds_no_hint_with_introspection_off(
    clients: dict[bool, TestClient],
) -> None:
    requests = _sweep()
    assert len(requests) > 250
    # A message may name the type the client asked on ("on type 'Order'", "in
    # 'OrderStatus' enum"); any other name in it must be one the client wrote.
    type_names = set(build_schema()._schema.type_map)
    hinted_on = 0
    for index, (query, variables) in enumerate(requests):
        sent = query + json.dumps(variables)
        # Every request over POST, every other one also over GET: both validate.
        for get in (False, True) if index % 2 else (False,):
            errors = ask(clients[False], query, variables, get=get)
            assert errors, query
            for error in errors:
                message = error["message"]
                assert "Did you mean" not in message, (query, message)
                for name in QUOTED.findall(message):
                    for part in name.lstrip("$@").split("."):
                        assert part in sent or part in type_names, (query, message, part)
        hinted_on += any(
            "Did you mean" in e["message"] for e in ask(clients[True], query, variables)
        )
    # the sweep reaches the hints: most of its requests get one where introspection is on
    assert hinted_on > len(requests) // 2
