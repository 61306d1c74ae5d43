"""/export over the simulators: the values GraphQL gives, laid out as CSV or NDJSON rows."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway.config import settings_from_mapping
from tests.conftest import Simulators, codes, gateway_client, gql

ORDER_FIELDS = """
    id source sourceKind number status isTest createdAt
    price { total { amount currency } tax { amount } }
    customer { email company }
"""


def export(client: TestClient, query: str, **params: Any) -> Any:
    return client.get("/export", params={"query": query, **params})


def table(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


def graphql_nodes(client: TestClient, selection: str, args: str = "") -> list[dict[str, Any]]:
    """Every order of the list, paged through /graphql with first: 500."""
    nodes: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        body = gql(
            client,
            f"query($after: String) {{ orders(first: 500, after: $after{args}) "
            f"{{ nodes {{ {selection} }} pageInfo {{ hasNextPage endCursor }} }} }}",
            {"after": after},
        )
        assert "errors" not in body, body
        page = body["data"]["orders"]
        nodes += page["nodes"]
        if not page["pageInfo"]["hasNextPage"]:
            return nodes
        after = page["pageInfo"]["endCursor"]


def text(value: Any) -> str:
    """What a CSV cell holds for a GraphQL value."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


@pytest.fixture
def small_pages(sims: Simulators) -> Iterator[TestClient]:
    """Pages of 7 orders: every export here spans many pages."""
    conf = sims.config()
    conf["security"]["limits"] = {"max_page_size": 7}
    with gateway_client(settings_from_mapping(conf)) as c:
        yield c


def test_csv_holds_what_graphql_answers_row_for_row(
    client: TestClient, small_pages: TestClient
) -> None:
    expected = graphql_nodes(client, ORDER_FIELDS)
    response = export(small_pages, f"{{ orders {{ nodes {{ {ORDER_FIELDS} }} }} }}")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/csv; charset=utf-8"
    assert response.text.startswith("id,source,sourceKind,number,status,isTest,createdAt,")
    assert "\r\n" in response.text  # RFC 4180 line ends
    rows = table(response.text)
    assert list(rows[0]) == [
        "id", "source", "sourceKind", "number", "status", "isTest", "createdAt",
        "price.total.amount", "price.total.currency", "price.tax.amount",
        "customer.email", "customer.company",
    ]  # fmt: skip
    assert len(rows) == len(expected) > 7 * 3
    for row, node in zip(rows, expected, strict=True):
        assert row["id"] == node["id"]
        assert row["status"] == node["status"]  # enum by name
        assert row["isTest"] == text(node["isTest"])
        assert row["createdAt"] == text(node["createdAt"])
        price = node["price"] or {}
        assert row["price.total.amount"] == text((price.get("total") or {}).get("amount"))
        assert row["price.tax.amount"] == text((price.get("tax") or {}).get("amount"))
        assert row["customer.email"] == text((node["customer"] or {}).get("email"))
    # exact decimals, ISO-8601 UTC dates
    assert any(r["price.total.amount"].endswith(".00") for r in rows)
    assert all(r["createdAt"].endswith("+00:00") for r in rows if r["createdAt"])


def test_ndjson_keeps_the_selection_shape(client: TestClient, small_pages: TestClient) -> None:
    expected = graphql_nodes(client, ORDER_FIELDS + " lineItems { sku quantity }")
    response = export(
        small_pages,
        f"{{ orders {{ nodes {{ {ORDER_FIELDS} lineItems {{ sku quantity }} }} }} }}",
        format="ndjson",
    )
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/x-ndjson"
    lines = response.text.splitlines()
    assert [json.loads(line) for line in lines] == expected


def test_line_items_and_their_licences_explode_into_rows(
    sims: Simulators, client: TestClient, small_pages: TestClient
) -> None:
    for order in sims.set.data["hamgam"].orders[1:4]:  # put back after the test
        order["items"] = []
    selection = "number o: id lineItems { sku qty: quantity licenses { key } }"
    expected = graphql_nodes(client, selection)
    response = export(small_pages, f"{{ orders {{ nodes {{ {selection} }} }} }}")
    rows = table(response.text)
    assert list(rows[0]) == [
        "number",
        "o",
        "lineItems.sku",
        "lineItems.qty",
        "lineItems.licenses.key",
    ]
    want: list[tuple[str, str, str, str]] = []
    for node in expected:
        items = node["lineItems"] or [None]
        for item in items:
            licences = (item or {}).get("licenses") or [None]
            for lic in licences:
                want.append(
                    (
                        node["o"],
                        text((item or {}).get("sku")),
                        text((item or {}).get("qty")),
                        text((lic or {}).get("key")),
                    )
                )
    got = [
        (r["o"], r["lineItems.sku"], r["lineItems.qty"], r["lineItems.licenses.key"]) for r in rows
    ]
    assert got == want
    # the data has orders without items, orders with several, and items with licences
    assert any(not n["lineItems"] for n in expected)
    assert any(len(n["lineItems"]) > 1 for n in expected)
    assert any(r["lineItems.licenses.key"] for r in rows)
    empty = next(n["o"] for n in expected if not n["lineItems"])
    assert [r for r in rows if r["o"] == empty] == [
        {"number": text(next(n["number"] for n in expected if n["o"] == empty)), "o": empty,
         "lineItems.sku": "", "lineItems.qty": "", "lineItems.licenses.key": ""}
    ]  # fmt: skip


def test_edges_give_one_row_per_node_with_the_cursor(client: TestClient) -> None:
    response = export(client, "{ orders { edges { cursor node { id number } } } }", limit=5)
    rows = table(response.text)
    assert list(rows[0]) == ["cursor", "id", "number"]
    first = gql(client, "{ orders(first: 5) { edges { cursor node { id number } } } }")
    edges = first["data"]["orders"]["edges"]
    assert [(r["cursor"], r["id"]) for r in rows] == [(e["cursor"], e["node"]["id"]) for e in edges]


def test_raw_is_json_text(client: TestClient) -> None:
    expected = graphql_nodes(client, "id raw")
    rows = table(export(client, "{ orders { nodes { id raw } } }").text)
    assert len(rows) == len(expected)
    for row, node in zip(rows, expected, strict=True):
        assert json.loads(row["raw"]) == node["raw"]


def test_a_plain_list_field_exports_too(client: TestClient) -> None:
    email = gql(client, "{ orders(first: 1) { nodes { customer { email } } } }")["data"]["orders"][
        "nodes"
    ][0]["customer"]["email"]
    query = "query($e: String!) { customersByEmail(email: $e) { source email name } }"
    expected = gql(client, query, {"e": email})["data"]["customersByEmail"]
    rows = table(export(client, query, variables=json.dumps({"e": email})).text)
    assert [(r["source"], r["email"], r["name"]) for r in rows] == [
        (c["source"], c["email"], text(c["name"])) for c in expected
    ]
    assert len(rows) >= 1


def test_after_and_filter_start_where_the_client_says(client: TestClient) -> None:
    query = (
        "query($after: String) { orders(first: 3, after: $after, "
        'filter: {sources: ["eu-shop"]}) { nodes { id source } } }'
    )
    first = gql(
        client,
        '{ orders(first: 3, filter: {sources: ["eu-shop"]}) { pageInfo { endCursor } } }',
    )
    cursor = first["data"]["orders"]["pageInfo"]["endCursor"]
    everything = graphql_nodes(client, "id", ', filter: {sources: ["eu-shop"]}')
    rows = table(export(client, query, variables=json.dumps({"after": cursor})).text)
    assert {r["source"] for r in rows} == {"eu-shop"}
    assert [r["id"] for r in rows] == [n["id"] for n in everything[3:]]


def test_limit_bom_and_accept(
    sims: Simulators, client: TestClient, small_pages: TestClient
) -> None:
    everything = export(small_pages, "{ orders { nodes { id } } }", format="ndjson")
    full_calls = sims.log.count
    sims.log.clear()
    limited = export(small_pages, "{ orders { nodes { id } } }", limit="9")
    assert len(table(limited.text)) == 9
    assert sims.log.count < full_calls / 4  # the limit stops the paging, too
    assert [r["id"] for r in table(limited.text)] == [
        json.loads(line)["id"] for line in everything.text.splitlines()[:9]
    ]
    bom = export(client, "{ orders { nodes { id } } }", limit="1", bom="1")
    assert bom.content.startswith(b"\xef\xbb\xbfid\r\n")
    ndjson = client.get(
        "/export",
        params={"query": "{ orders { nodes { id } } }", "limit": "2"},
        headers={"accept": "application/x-ndjson"},
    )
    assert ndjson.headers["content-type"] == "application/x-ndjson"
    assert len(ndjson.text.splitlines()) == 2
    posted = client.post(
        "/export", json={"query": "{ orders { nodes { id } } }", "limit": 3, "format": "csv"}
    )
    assert len(table(posted.text)) == 3


@pytest.mark.parametrize(
    ("query", "params", "code", "words"),
    [
        ('{ order(id: "x") { id } }', {}, "BAD_USER_INPUT", "'order' is not a list"),
        ("{ orders { pageInfo { hasNextPage } } }", {}, "BAD_USER_INPUT", "nodes"),
        (
            "{ orders { nodes { id } } sources { name } }",
            {},
            "BAD_USER_INPUT",
            "orders, sources",
        ),
        ("mutation { placeOrder }", {}, "BAD_USER_INPUT", "mutation"),
        ("{ orders { nodes { id }", {}, "GRAPHQL_PARSE_FAILED", "Syntax Error"),
        ("{ orders { nodes { nope } } }", {}, "GRAPHQL_VALIDATION_FAILED", "nope"),
        (
            "{ orders { nodes { lineItems { sku } licenses { key } } } }",
            {},
            "BAD_USER_INPUT",
            "lineItems and licenses",
        ),
        (
            "{ orders { nodes { id } edges { node { id } } } }",
            {},
            "BAD_USER_INPUT",
            "not nodes and edges",
        ),
        ("{ orders { nodes { id } } }", {"format": "xlsx"}, "BAD_USER_INPUT", "xlsx"),
        ("{ orders { nodes { id } } }", {"limit": "0"}, "BAD_USER_INPUT", "positive"),
        ("{ orders { nodes { id } } }", {"limit": "-3"}, "BAD_USER_INPUT", "positive"),
        ("{ orders { nodes { id } } }", {"limit": "ten"}, "BAD_USER_INPUT", "positive"),
        ("{ orders { nodes { id } } }", {"variables": "[1, 2]"}, "BAD_USER_INPUT", "object"),
        ("{ orders { nodes { id } } }", {"variables": "{nope"}, "BAD_USER_INPUT", "object"),
        ("{ orders { nodes { id } } }", {"bom": "yes"}, "BAD_USER_INPUT", "bom"),
        ("", {}, "BAD_USER_INPUT", "query is required"),
    ],
)
def test_bad_input_is_refused_before_any_byte(
    sims: Simulators, client: TestClient, query: str, params: dict[str, str], code: str, words: str
) -> None:
    response = export(client, query, **params)
    assert response.status_code == 400
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert codes(body) == [code]
    assert words in body["errors"][0]["message"]
    assert sims.log.count == 0  # refused before any backend call


@pytest.mark.parametrize(
    ("body", "words"),
    [
        ({"query": "{ orders { nodes { id } } }", "limit": 1.5}, "positive"),
        ({"query": "{ orders { nodes { id } } }", "limit": True}, "positive"),
        ({"query": "{ orders { nodes { id } } }", "variables": "x"}, "object"),
        ({"query": "{ orders { nodes { id } } }", "variables": [1]}, "object"),
    ],
)
def test_bad_post_input(client: TestClient, body: dict[str, Any], words: str) -> None:
    response = client.post("/export", json=body)
    assert response.status_code == 400
    assert codes(response.json()) == ["BAD_USER_INPUT"]
    assert words in response.json()["errors"][0]["message"]
    not_json = client.post("/export", content=b"[1]", headers={"content-type": "application/json"})
    assert codes(not_json.json()) == ["BAD_USER_INPUT"]
    assert client.put("/export").status_code == 405


def test_head_checks_the_export_without_a_backend_call(
    sims: Simulators, client: TestClient
) -> None:
    ok = client.head("/export", params={"query": "{ orders { nodes { id } } }"})
    assert ok.status_code == 200
    assert ok.headers["content-type"] == "text/csv; charset=utf-8"
    assert ok.content == b""
    assert "content-length" not in ok.headers  # unknown, not empty
    bad = client.head("/export", params={"query": '{ order(id: "x") { id } }'})
    assert bad.status_code == 400
    assert sims.log.count == 0


def test_variables_the_query_needs_are_checked_like_graphql(client: TestClient) -> None:
    query = "query($e: String!) { customersByEmail(email: $e) { email } }"
    response = export(client, query)
    assert response.status_code == 400
    assert codes(response.json()) == ["BAD_USER_INPUT"]


def secured(sims: Simulators, **limits: int) -> TestClient:
    conf = sims.config()
    conf["security"] = {
        "require_auth": True,
        "api_keys": [
            {"name": "bi", "key": "bi-key", "scopes": ["orders:read"]},
            {"name": "all", "key": "all-key", "scopes": ["orders:read", "pii:read", "raw:read"]},
            {"name": "none", "key": "no-key", "scopes": []},
        ],
        "limits": limits,
    }
    return gateway_client(settings_from_mapping(conf))


def test_credentials_and_scopes(sims: Simulators) -> None:
    with secured(sims) as c:
        anonymous = export(c, "{ orders { nodes { id } } }")
        assert anonymous.status_code == 401
        assert codes(anonymous.json()) == ["UNAUTHENTICATED"]
        bi = {"authorization": "Bearer bi-key"}
        pii = c.get(
            "/export",
            params={"query": "{ orders { nodes { id customer { email phone } } } }"},
            headers=bi,
        )
        assert pii.status_code == 403
        assert codes(pii.json()) == ["FORBIDDEN"]
        assert "Customer.email" in pii.json()["errors"][0]["message"]
        raw = c.get("/export", params={"query": "{ orders { nodes { raw } } }"}, headers=bi)
        assert raw.status_code == 403
        assert sims.log.count == 0  # refused before any backend call
        lacking = c.get(
            "/export",
            params={"query": "{ orders { nodes { id } } }"},
            headers={"authorization": "Bearer no-key"},
        )
        assert lacking.status_code == 403
        fine = c.get(
            "/export", params={"query": "{ orders { nodes { id customer { company } } } }"},
            headers=bi,
        )  # fmt: skip
        assert fine.status_code == 200
        assert len(table(fine.text)) > 50
        full = c.get(
            "/export",
            params={"query": "{ orders { nodes { id customer { email } } } }", "limit": "3"},
            headers={"x-api-key": "all-key"},
        )
        assert full.status_code == 200
        assert all("@" in r["customer.email"] for r in table(full.text))


def test_the_cost_limit_applies_per_page(sims: Simulators, client: TestClient) -> None:
    expected = graphql_nodes(client, "id customer { company }")
    calls_in_pages_of_500 = sims.log.count
    sims.log.clear()
    # 5 streams + 1 per order's customer: pages of at most 10 orders fit 15
    with secured(sims, max_cost=15) as c:
        response = c.get(
            "/export",
            params={"query": "{ orders { nodes { id customer { company } } } }"},
            headers={"authorization": "Bearer bi-key"},
        )
        assert response.status_code == 200
        assert [r["id"] for r in table(response.text)] == [n["id"] for n in expected]
        # smaller pages: each source's list is asked more often
        assert sims.log.count > calls_in_pages_of_500 + 5
    with secured(sims, max_cost=4) as c:  # fewer than the five sources' list calls
        too_big = c.get(
            "/export",
            params={"query": "{ orders { nodes { id } } }"},
            headers={"authorization": "Bearer bi-key"},
        )
        assert too_big.status_code == 400
        assert codes(too_big.json()) == ["QUERY_TOO_COMPLEX"]


def test_a_source_failing_on_the_first_page_is_an_error_status(
    sims: Simulators, client: TestClient
) -> None:
    sims.set.faults.set("hamgam", "status=500")
    response = export(client, "{ orders { nodes { id } } }")
    assert response.status_code == 502
    assert "eu-shop" in json.dumps(response.json())
    assert response.headers["content-type"] == "application/json"


def test_export_hides_suggestions_and_counts_directives_like_graphql(sims: Simulators) -> None:
    conf = sims.config()
    conf["security"]["introspection"] = False
    conf["security"]["limits"] = {"max_directives": 5}
    with gateway_client(settings_from_mapping(conf)) as client:
        wrong = export(client, "{ orders { nodes { sourc custome { email } } } }")
        many = export(client, "{ orders { nodes { id" + " @skip(if: false)" * 6 + " } } }")
    assert wrong.status_code == 400
    assert "Did you mean" not in wrong.text and "sourceId" not in wrong.text
    assert "'sourc'" in wrong.json()["errors"][0]["message"]
    assert many.status_code == 400
    (error,) = many.json()["errors"]
    assert error["extensions"]["code"] == "QUERY_TOO_COMPLEX"
    assert len(sims.log.entries) == 0


def test_persisted_only_refuses_other_exports_before_any_call(
    sims: Simulators, tmp_path: Any
) -> None:
    import hashlib

    listed = "{ orders { nodes { sourceId } } }"
    manifest = tmp_path / "manifest.json"
    manifest.write_text(json.dumps({hashlib.sha256(listed.encode()).hexdigest(): listed}))
    conf = sims.config(["hamgam"])
    conf["security"].update(persisted_queries=str(manifest), persisted_only=True)
    with gateway_client(settings_from_mapping(conf)) as client:
        refused = export(client, "{ orders { nodes { sourceId status } } }")
        assert len(sims.log.entries) == 0
        allowed = export(client, listed)
    assert refused.status_code == 400
    assert refused.json()["errors"][0]["extensions"]["code"] == "PERSISTED_QUERY_NOT_IN_LIST"
    assert allowed.status_code == 200
    assert len(table(allowed.text)) == len(sims.set.data["hamgam"].orders)
