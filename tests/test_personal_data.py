"""Personal data is declared once (the ``personal`` marker on a schema field) and every
consequence follows it: the description a client reads, the scope the analysis asks for,
the nulling a caller without pii:read gets. Nothing here names a personal field except
the floor the docs promise, so marking a field is the one change that makes it personal."""

from __future__ import annotations

import re
from typing import Any

import pytest
import strawberry
from graphql import get_introspection_query
from starlette.testclient import TestClient

from gateway.compat.private import core_schema
from gateway.config import settings_from_mapping
from gateway.schema.personal import SUFFIX, declare, fields_of, hide, personal
from gateway.schema.query import build_schema
from tests.conftest import SHIPPED, Simulators, codes, gateway_client

ALL, NO_PII = "all-key-0123456789", "no-pii-key-0123456789"
#: What README.md and docs/bi.md promise is personal: customers' and licence users'
#: names, emails, phones and addresses. More may be declared; none of these may go.
PROMISED = {
    ("Customer", f) for f in ("email", "firstName", "lastName", "name", "phone", "address")
} | {("LicenseUser", f) for f in ("email", "firstName", "lastName")}

Schema = dict[str, dict[str, Any]]


def declared() -> frozenset[tuple[str, str]]:
    plain, subgraph = (fields_of(core_schema(build_schema(federation=f))) for f in (False, True))
    assert plain == subgraph  # the federation subgraph serves the same types
    return plain


def secured(sims: Simulators) -> Any:
    # the shipped kinds' newest orders together show every personal field (a licence's
    # user among them); a kind added later could push those out of the page asked
    conf = sims.config(SHIPPED)
    conf["security"] = {
        "require_auth": True,
        "introspection": True,
        "api_keys": [
            {"name": "all", "key": ALL, "scopes": ["orders:read", "pii:read"]},
            {"name": "no-pii", "key": NO_PII, "scopes": ["orders:read"]},
        ],
    }
    return settings_from_mapping(conf)


def ask(client: TestClient, key: str, query: str) -> dict[str, Any]:
    r = client.post("/graphql", json={"query": query}, headers={"authorization": f"Bearer {key}"})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def introspect(client: TestClient) -> Schema:
    query = get_introspection_query(descriptions=True)
    body = ask(client, ALL, query)
    assert "errors" not in body, body
    return {t["name"]: t for t in body["data"]["__schema"]["types"]}


def named(ref: dict[str, Any]) -> str:
    while ref["ofType"] is not None:
        ref = ref["ofType"]
    name: str = ref["name"]
    return name


def selection(
    types: Schema, name: str, path: tuple[str, ...], skip: set[tuple[str, str]]
) -> tuple[str, set[tuple[str, str]]]:
    """Every field of ``name`` a query can select without arguments (``first: 3`` where a
    list pages), each object once per path (no cycles), with ``__typename`` in each object;
    and the ``(type, field)`` pairs it selected. ``skip``: fields left out."""
    parts, chosen = ["__typename"], set()
    for f in types[name]["fields"]:
        key = (name, f["name"])
        args = {a["name"]: a for a in f["args"]}
        required = [
            a for a in args.values() if a["type"]["kind"] == "NON_NULL" and not a["defaultValue"]
        ]
        child = named(f["type"])
        if key in skip or required or f["name"].startswith("_") or child in path:
            continue
        call = "(first: 3)" if "first" in args else ""
        if types[child]["kind"] in ("OBJECT", "INTERFACE"):
            inner, below = selection(types, child, (*path, name), skip)
            parts.append(f"{f['name']}{call} {{ {inner} }}")
            chosen |= below
        elif types[child]["kind"] in ("SCALAR", "ENUM"):
            parts.append(f["name"] + call)
        else:
            continue
        chosen.add(key)
    return " ".join(parts), chosen


#: Left out of the generated queries: ``raw`` is the raw:read scope's (tests/test_security.py).
RAW = {("Order", "raw")}


def everything(types: Schema, skip: set[tuple[str, str]]) -> tuple[str, set[tuple[str, str]]]:
    """A query selecting everything reachable from Query.orders (the order graph) but
    ``raw`` and ``skip``."""
    inner, chosen = selection(types, "Order", ("Query", "OrderConnection"), skip | RAW)
    return f"{{ orders(first: 20) {{ nodes {{ {inner} }} }} }}", chosen


def compare(
    full: Any,
    masked: Any,
    personal_fields: frozenset[tuple[str, str]],
    shown: dict[tuple[str, str], int],
    same: list[int],
) -> None:
    """Walks the two answers side by side: a personal field null in ``masked``, every
    other value equal. ``shown`` counts each personal field's non-null values in
    ``full``; ``same`` counts the equal leaves."""
    if isinstance(full, list):
        assert isinstance(masked, list) and len(full) == len(masked)
        for a, b in zip(full, masked, strict=True):
            compare(a, b, personal_fields, shown, same)
    elif isinstance(full, dict):
        assert isinstance(masked, dict) and masked.keys() == full.keys()
        kind: str = full.get("__typename", "")  # none: the answer's root, the connection
        for key, value in full.items():
            if (kind, key) in personal_fields:
                assert masked[key] is None, (kind, key, masked[key])
                shown[(kind, key)] = shown.get((kind, key), 0) + (value is not None)
            else:
                compare(value, masked[key], personal_fields, shown, same)
    else:  # a leaf: as the full answer has it
        assert full == masked
        same[0] += 1


def test_the_marked_fields_are_those_whose_description_says_personal(sims: Simulators) -> None:
    found = declared()
    assert found >= PROMISED
    with gateway_client(secured(sims)) as client:
        types = introspect(client)
    descriptions = {
        (t["name"], f["name"]): f["description"] or ""
        for t in types.values()
        for f in t.get("fields") or []
    }
    described = {field for field, text in descriptions.items() if text.endswith(SUFFIX)}
    assert described == found
    # no other field mentions the rule (a description edited by hand would)
    mentions = {field for field, text in descriptions.items() if "personal data" in text.lower()}
    assert mentions == found


def test_without_pii_read_exactly_the_marked_fields_are_named_and_null(sims: Simulators) -> None:
    found = declared()
    with gateway_client(secured(sims)) as client:
        types = introspect(client)
        query, chosen = everything(types, set())
        assert found <= chosen, "a personal field the order graph does not reach"
        full, masked = ask(client, ALL, query), ask(client, NO_PII, query)
        # the same query without the personal fields asks for no scope
        rest, rest_chosen = everything(types, set(found))
        assert not rest_chosen & found
        plain = ask(client, NO_PII, rest)

    assert "errors" not in full, full.get("errors")
    assert codes(masked) == ["FORBIDDEN"]
    listed = re.search(r"pii:read scope \((.*)\)", masked["errors"][0]["message"])
    assert listed is not None, masked["errors"][0]["message"]
    assert set(listed.group(1).split(", ")) == {f"{t}.{f}" for t, f in found}

    shown: dict[tuple[str, str], int] = {}
    same = [0]
    nodes = full["data"]["orders"]["nodes"]
    assert len(nodes) == 20
    compare(full["data"], masked["data"], found, shown, same)
    # each personal field had a value to hide, and the rest of the answer was compared
    assert set(shown) == set(found) and all(shown.values()), shown
    assert same[0] > 500

    assert "errors" not in plain, plain.get("errors")
    assert len(plain["data"]["orders"]["nodes"]) == 20


@strawberry.type(description="A pet.")
class Pet:
    name: str | None = strawberry.field(description="Its name.")
    owner_name: str | None = personal(description="Who owns it.")


@strawberry.type(description="The root.")
class PetQuery:
    @strawberry.field
    def pet(self) -> Pet:
        return Pet(name="Rex", owner_name="Ada Lovelace")


def test_marking_a_field_is_the_one_change() -> None:
    """On a type of its own, the marker alone gives the description, the declared set and
    the nulling."""
    schema = strawberry.Schema(query=PetQuery)
    core = core_schema(schema)
    with pytest.raises(KeyError):  # never taken to hold no personal data unasked
        fields_of(core)
    assert declare(schema, core) == {("Pet", "ownerName")} == fields_of(core)
    assert f'"""Who owns it.{SUFFIX}"""\n  ownerName: String' in schema.as_str()
    pet = hide(Pet(name="Rex", owner_name="Ada Lovelace"))
    assert (pet.name, pet.owner_name) == ("Rex", None)
