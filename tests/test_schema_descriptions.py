"""Every type, field, argument and enum value of the schema is described (GraphiQL's docs
pane and schema.graphql show them), as a client sees it through introspection."""

from __future__ import annotations

from typing import Any

from graphql import get_introspection_query

from tests.conftest import Simulators, gateway_client


def undescribed(schema: dict[str, Any]) -> list[str]:
    """Paths of everything without a description, built-in introspection types excluded."""
    missing: list[str] = []

    def check(path: str, item: dict[str, Any]) -> None:
        if not (item.get("description") or "").strip():
            missing.append(path)

    for t in schema["types"]:
        name = t["name"]
        if name.startswith("__"):
            continue
        check(name, t)
        for field in (t.get("fields") or []) + (t.get("inputFields") or []):
            check(f"{name}.{field['name']}", field)
            for arg in field.get("args") or []:
                check(f"{name}.{field['name']}({arg['name']})", arg)
        for value in t.get("enumValues") or []:
            check(f"{name}.{value['name']}", value)
    return missing


def test_every_type_field_argument_and_enum_value_has_a_description(sims: Simulators) -> None:
    query = get_introspection_query(descriptions=True, input_value_deprecation=True)
    with gateway_client(sims.settings()) as client:
        r = client.post("/graphql", json={"query": query})
    assert r.status_code == 200 and "errors" not in r.json(), r.text
    schema = r.json()["data"]["__schema"]
    assert undescribed(schema) == []

    # The walk reaches what it claims to (so an empty result means something).
    types = {t["name"]: t for t in schema["types"]}
    assert {"Order", "Money", "OrderFilter", "OrderStatus", "Decimal", "DateTime"} <= set(types)
    orders = next(f for f in types["Query"]["fields"] if f["name"] == "orders")
    assert [a["name"] for a in orders["args"]] == ["filter", "first", "after"]
    assert len(types["OrderStatus"]["enumValues"]) == 7
    assert len(types["OrderFilter"]["inputFields"]) == 5

    # A few that say what a client most needs to know.
    money = {f["name"]: f["description"] for f in types["Money"]["fields"]}
    assert "exact" in money["amount"].lower() or "exactly" in money["amount"].lower()
    order = {f["name"]: f["description"] for f in types["Order"]["fields"]}
    assert "<customer-id>/<order-id>" in order["sourceId"]
    assert "string" in types["Decimal"]["description"] and "UTC" in types["DateTime"]["description"]


def test_the_walk_finds_what_lacks_a_description() -> None:
    schema = {
        "types": [
            {"name": "__Type", "description": None, "fields": []},
            {
                "name": "Thing",
                "description": "A thing.",
                "fields": [
                    {"name": "a", "description": " ", "args": []},
                    {"name": "b", "description": "B.", "args": [{"name": "x"}]},
                ],
                "inputFields": None,
                "enumValues": None,
            },
            {"name": "Colour", "description": "", "enumValues": [{"name": "RED"}]},
        ]
    }
    assert undescribed(schema) == ["Thing.a", "Thing.b(x)", "Colour", "Colour.RED"]
