"""Fields a kind never has: declared in each adapter (NEVER_HAS, CUSTOMER_NEVER_HAS in its
normalize.py), answered null without a backend call, and true of every order it serves."""

from __future__ import annotations

import importlib
from types import ModuleType, SimpleNamespace
from typing import Any

import pytest
from graphql import GraphQLObjectType, GraphQLSchema, get_named_type

from gateway.schema.query import build_schema
from gateway.simulation import Recorded
from gateway.sources.manifest import load
from tests.conftest import KINDS, SOURCE_OF, Simulators, gateway_client, gql


def _declared(kind: str) -> ModuleType | SimpleNamespace:
    """A Python kind's normalize module, or a manifest kind's declarations (its file)."""
    try:
        return importlib.import_module(f"gateway.sources.{kind}.normalize")
    except ModuleNotFoundError:
        manifest = load(str(importlib.import_module(f"gateway.sources.{kind}").MANIFEST))
        return SimpleNamespace(
            NEVER_HAS=frozenset(manifest.never_has),
            CUSTOMER_NEVER_HAS=frozenset(manifest.customer_never_has),
        )


NORMALIZE: dict[str, ModuleType | SimpleNamespace] = {kind: _declared(kind) for kind in KINDS}
SCHEMA: GraphQLSchema = build_schema(introspection=True)._schema
FIRST = 20


def selection(type_name: str, paths: set[str]) -> str:
    """A GraphQL selection of dotted ``paths`` below ``type_name``; a path that ends on an
    object selects every scalar below it (``price`` is the whole price)."""
    parent = SCHEMA.get_type(type_name)
    assert isinstance(parent, GraphQLObjectType)
    heads: dict[str, set[str]] = {}
    for path in paths:
        head, _, rest = path.partition(".")
        heads.setdefault(head, set())
        if rest:
            heads[head].add(rest)
    parts = []
    for head, below in sorted(heads.items()):
        field = parent.fields[head]
        named = get_named_type(field.type)
        if isinstance(named, GraphQLObjectType):
            inner = below or {
                name
                for name, f in named.fields.items()
                if not f.args and name not in ("orders", "licenses")
            }
            parts.append(f"{head} {{ {selection(named.name, inner)} }}")
        else:
            assert not below, head
            parts.append(head)
    return " ".join(parts)


def list_query(source: str, order_paths: set[str], customer_paths: set[str]) -> str:
    customer = f"customer {{ {selection('Customer', {'id', *customer_paths})} }}"
    return f"""{{ orders(first: {FIRST}, filter: {{sources: ["{source}"]}}) {{
      nodes {{ {selection("Order", {"id", *order_paths})} {customer} }} }} }}"""


def calls(sims: Simulators, kind: str) -> list[tuple[str, str]]:
    entries: list[Recorded] = sims.log.of(kind)
    return [(e.path, "&".join(f"{k}={v}" for k, v in e.params)) for e in entries]


def is_empty(value: Any) -> bool:
    """Null, an empty list, or an object whose every value is empty (a path below it)."""
    if isinstance(value, dict):
        return all(is_empty(v) for v in value.values())
    return value is None or value == []


def test_every_kind_declares_what_it_never_has() -> None:
    for kind, module in NORMALIZE.items():
        for name, type_name in (("NEVER_HAS", "Order"), ("CUSTOMER_NEVER_HAS", "Customer")):
            declared = getattr(module, name)
            assert isinstance(declared, frozenset), (kind, name)
            selection(type_name, set(declared))  # every path is a field of the schema
    # the case that started it: a HighLevel order has no number
    assert "number" in NORMALIZE["highlevel"].NEVER_HAS


@pytest.mark.parametrize("kind", KINDS)
def test_a_field_a_kind_never_has_costs_no_call(sims: Simulators, kind: str) -> None:
    module = NORMALIZE[kind]
    source = SOURCE_OF[kind]
    with gateway_client(sims.settings([kind])) as client:
        plain = gql(client, list_query(source, set(), set()))
        assert "errors" not in plain
        baseline = calls(sims, kind)
        sims.log.clear()
        body = gql(
            client, list_query(source, set(module.NEVER_HAS), set(module.CUSTOMER_NEVER_HAS))
        )
        assert "errors" not in body, body["errors"]
    nodes = body["data"]["orders"]["nodes"]
    assert len(nodes) == FIRST
    # exactly the calls of a list asking for ids alone: its pages (Adobe: a list per
    # customer), not a call per order (HighLevel: 1, never 1 + 20) or per customer
    assert calls(sims, kind) == baseline
    assert len(baseline) < FIRST
    for node in nodes:
        assert [n for n in module.NEVER_HAS if not is_empty(_at(node, n))] == []
        customer = node["customer"]
        if customer is not None:
            assert [n for n in module.CUSTOMER_NEVER_HAS if not is_empty(_at(customer, n))] == []


@pytest.mark.parametrize("kind", ["zaveit", "highlevel"])
def test_a_field_only_the_full_order_has_still_loads_it(sims: Simulators, kind: str) -> None:
    """The counting above can see a call per order: a field a list item lacks makes one."""
    source = SOURCE_OF[kind]
    lacking = {"zaveit": "updatedAt", "highlevel": "price.tax"}[kind]
    with gateway_client(sims.settings([kind])) as client:
        gql(client, list_query(source, set(), set()))
        baseline = len(calls(sims, kind))
        sims.log.clear()
        body = gql(client, list_query(source, {lacking}, set()))
        assert "errors" not in body
    assert len(calls(sims, kind)) >= baseline + FIRST


@pytest.mark.parametrize("kind", KINDS)
def test_what_a_kind_never_has_is_empty_in_every_full_order(sims: Simulators, kind: str) -> None:
    """The declarations are true: complete orders (a list of summaries loads them when
    line items are asked for) and complete customers have nothing there either."""
    module = NORMALIZE[kind]
    source = SOURCE_OF[kind]
    customer_full = {"id", "email", *module.CUSTOMER_NEVER_HAS}
    query = list_query(source, {"lineItems.id", "raw", *module.NEVER_HAS}, customer_full)
    with gateway_client(sims.settings([kind])) as client:
        body = gql(client, query)
    assert "errors" not in body, body["errors"]
    nodes = body["data"]["orders"]["nodes"]
    assert len(nodes) == FIRST
    assert all(node["raw"] is not None for node in nodes)  # complete orders
    for node in nodes:
        assert [n for n in module.NEVER_HAS if not is_empty(_at(node, n))] == []
        customer = node["customer"]
        if customer is not None:
            assert [n for n in module.CUSTOMER_NEVER_HAS if not is_empty(_at(customer, n))] == []


def _at(value: Any, path: str) -> Any:
    for part in path.split("."):
        if value is None:
            return None
        value = value[part]
    return value
