"""Sources from a manifest (docs/manifests.md): WooCommerce as a kind, Hamgam re-expressed
and answering byte for byte as its Python kind, a user's file, and its one-line errors."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import settings_from_mapping
from gateway.errors import ConfigError
from gateway.sources import hamgam, woocommerce
from gateway.sources.manifest import ManifestError, load
from gateway.sources.registry import kinds, manifest_json_schema
from tests.conftest import Simulators, gql

HAMGAM_MANIFEST = Path(hamgam.__file__).parent / "manifest.toml"
ROOT = Path(__file__).resolve().parent.parent


def _as_manifest(conf: dict[str, Any], source: str) -> dict[str, Any]:
    """The config with one source's kind replaced by the Hamgam manifest."""
    table = dict(conf["sources"][source])
    table.update(kind="manifest", manifest=str(HAMGAM_MANIFEST))
    return {**conf, "sources": {**conf["sources"], source: table}}


#: what a frontend and a BI tool ask of one shop (every unified field the kind has)
HAMGAM_QUERIES: list[tuple[str, dict[str, Any]]] = [
    (
        """query($s: String!, $id: String!) { orderBySourceId(source: $s, sourceId: $id) {
        id source sourceKind sourceId number status sourceStatus createdAt updatedAt isTest
        currency raw price { currency subtotal { amount currency } discount { amount }
        tax { amount } shipping { amount } total { amount currency } paid { amount }
        outstanding { amount } }
        customer { id sourceId name email firstName lastName phone company address { city } }
        lineItems { id productId productName sku quantity unitPrice { amount currency }
        discount { amount } total { amount } } } }""",
        {"s": "eu-shop", "id": "123"},
    ),
    (
        """query($after: String) { orders(first: 37, after: $after,
        filter: {sources: ["eu-shop"]}) { edges { cursor node { sourceId number status
        createdAt price { total { amount currency } } customer { name } } }
        pageInfo { hasNextPage endCursor } } }""",
        {"after": None},
    ),
    (
        """{ orders(first: 120, filter: {sources: ["eu-shop"], status: [COMPLETED]}) {
        nodes { sourceId status sourceStatus } pageInfo { hasNextPage } } }""",
        {},
    ),
    (
        """{ orders(first: 10, filter: {sources: ["eu-shop"], status: [UNKNOWN]}) {
        nodes { sourceId } } }""",
        {},
    ),
    (
        """query($s: String!) { missing: orderBySourceId(source: $s, sourceId: "999999") { id }
        bad: orderBySourceId(source: $s, sourceId: "abc") { id } }""",
        {"s": "eu-shop"},
    ),
]


def test_hamgam_as_a_manifest_answers_byte_for_byte_as_its_python_kind(
    sims: Simulators,
) -> None:
    conf = sims.config(["hamgam"])
    python_kind = create_app(settings_from_mapping(conf))
    manifest_kind = create_app(settings_from_mapping(_as_manifest(conf, "eu-shop")))
    with TestClient(python_kind) as one, TestClient(manifest_kind) as other:
        first = one.post("/graphql", json={"query": "{ orders(first: 1) { nodes { customer {"
                         " email } } } }"}).json()  # fmt: skip
        email = first["data"]["orders"]["nodes"][0]["customer"]["email"]
        queries = [
            *HAMGAM_QUERIES,
            (
                "query($e: String!) { customersByEmail(email: $e) { id sourceKind email name"
                " phone } }",
                {"e": email.upper()},
            ),
        ]
        for query, variables in queries:
            a = one.post("/graphql", json={"query": query, "variables": variables})
            b = other.post("/graphql", json={"query": query, "variables": variables})
            assert b.status_code == a.status_code
            assert b.content == a.content, query
            assert b"errors" not in a.content or "missing" in query
        # a page of the list reaches the second page in both
        page = one.post("/graphql", json={"query": HAMGAM_QUERIES[1][0]}).json()
        after = page["data"]["orders"]["pageInfo"]["endCursor"]
        a = one.post(
            "/graphql", json={"query": HAMGAM_QUERIES[1][0], "variables": {"after": after}}
        )
        b = other.post(
            "/graphql", json={"query": HAMGAM_QUERIES[1][0], "variables": {"after": after}}
        )
        assert a.json()["data"]["orders"]["edges"] and b.content == a.content


def test_woocommerce_simulator_serves_the_documented_shapes(sims: Simulators) -> None:
    samples = json.loads((Path(woocommerce.__file__).parent / "samples.json").read_text())
    key, secret = samples["credentials"]["consumer_key"], samples["credentials"]["consumer_secret"]
    basic = "Basic " + base64.b64encode(f"{key}:{secret}".encode()).decode()
    base = f"{sims.base_url}/woocommerce/wp-json/wc/v3"
    refused = httpx.get(f"{base}/orders")
    assert refused.status_code == 401
    assert refused.json()["code"] == "woocommerce_rest_cannot_view"
    page = httpx.get(f"{base}/orders", params={"per_page": 20}, headers={"authorization": basic})
    assert page.status_code == 200
    total = int(page.headers["x-wp-total"])
    assert total == len(sims.set.data["woocommerce"].orders) > 20
    assert int(page.headers["x-wp-totalpages"]) == -(-total // 20)
    assert 'rel="next"' in page.headers["link"] and "page=2" in page.headers["link"]
    orders = page.json()
    assert len(orders) == 20
    created = [o["date_created_gmt"] for o in orders]
    assert created == sorted(created, reverse=True)  # newest first, as orderby=date&order=desc
    assert all(len(c) == 19 and "+" not in c and not c.endswith("Z") for c in created)
    assert all(isinstance(o["total"], str) for o in orders)
    missing = httpx.get(f"{base}/orders/1", headers={"authorization": basic})
    assert missing.status_code == 404
    assert missing.json()["code"] == "woocommerce_rest_shop_order_invalid_id"


def test_woocommerce_orders_read_exactly(sims: Simulators) -> None:
    with TestClient(create_app(sims.settings())) as client:
        body = gql(
            client,
            """{ guest: orderBySourceId(source: "woo", sourceId: "728") { status sourceStatus
              customer { id sourceId email name phone address { city country } }
              lineItems { productName sku quantity unitPrice { amount currency }
                          total { amount } }
              price { total { amount } discount { amount } } }
            shipped: orderBySourceId(source: "woo", sourceId: "732") { status sourceStatus
              currency lineItems { unitPrice { amount currency } } }
            shirt: orderBySourceId(source: "woo", sourceId: "731") {
              lineItems { unitPrice { amount } } } }""",
        )
    assert "errors" not in body
    guest = body["data"]["guest"]
    assert (guest["status"], guest["sourceStatus"]) == ("COMPLETED", "completed")
    customer = guest["customer"]
    # a guest: the billing details, no customer id, and nothing to fetch
    assert customer["sourceId"] == "" and customer["email"] == "ann.guest@example.org"
    assert customer["name"] == "Ann Guest" and customer["address"]["city"] == "San Francisco"
    lines = guest["lineItems"]
    assert [(li["productName"], li["sku"], li["quantity"]) for li in lines] == [
        ("Album", "woo-album", 3),
        ("Beanie with Logo", "Woo-beanie-logo", 1),
    ]
    assert lines[1]["total"]["amount"] == "17.50" and guest["price"]["discount"]["amount"] == "0.50"
    # an unknown status is UNKNOWN with the backend's own value kept
    shipped = body["data"]["shipped"]
    assert (shipped["status"], shipped["sourceStatus"]) == ("UNKNOWN", "partially-shipped")
    assert shipped["currency"] == "JPY"
    # the line price is a JSON number (18.5): read exactly as written
    assert body["data"]["shirt"]["lineItems"][0]["unitPrice"]["amount"].startswith("18.5")
    assert not [e for e in sims.log.of("woocommerce") if "/customers" in e.path]


def test_woocommerce_pushes_statuses_and_dates_down_in_one_call(sims: Simulators) -> None:
    with TestClient(create_app(sims.settings())) as client:
        body = gql(
            client,
            """{ orders(first: 5, filter: {sources: ["woo"], status: [PENDING, REFUNDED],
            createdAfter: "2017-03-01T00:00:00Z"}) { nodes { sourceId status sourceStatus } } }""",
        )
        none = gql(
            client,
            """{ orders(first: 5, filter: {sources: ["woo"], status: [PROCESSING]}) {
            nodes { sourceStatus } } }""",
        )
    nodes = body["data"]["orders"]["nodes"]
    assert {n["sourceStatus"] for n in nodes} <= {
        "pending",
        "on-hold",
        "checkout-draft",
        "refunded",
    }
    assert [n["sourceId"] for n in nodes][:2] == ["731", "729"]
    calls = [e for e in sims.log.of("woocommerce") if e.path == "/wp-json/wc/v3/orders"]
    first = calls[0]
    assert first.param("status") == "pending,on-hold,checkout-draft,refunded"
    assert first.param("after") == "2017-02-28T23:59:59"
    assert first.param("dates_are_gmt") == "true"
    assert first.param("orderby") == "date" and first.param("order") == "desc"
    assert all(n["sourceStatus"] == "processing" for n in none["data"]["orders"]["nodes"])


def test_a_users_manifest_is_a_source_and_its_errors_name_file_and_line(
    sims: Simulators, tmp_path: Path
) -> None:
    own = tmp_path / "shop.toml"
    text = HAMGAM_MANIFEST.read_text().replace(
        'kind = "hamgam"\nsource_kind = "hamgam"', 'kind = "my-shop"\nsource_kind = "manifest"'
    )
    own.write_text(text)
    conf = sims.config(["hamgam"])
    table = {**conf["sources"]["eu-shop"], "kind": "manifest", "manifest": str(own)}
    settings = settings_from_mapping({**conf, "sources": {"mine": table}})
    with TestClient(create_app(settings)) as client:
        body = gql(client, '{ orderBySourceId(source: "mine", sourceId: "123") { sourceKind '
                   "number } sources { name kind } }")  # fmt: skip
    assert body["data"]["orderBySourceId"] == {"sourceKind": "MANIFEST", "number": "HG-2024-000123"}
    assert body["data"]["sources"] == [{"name": "mine", "kind": "MANIFEST"}]

    broken = tmp_path / "broken.toml"
    lines = text.splitlines()
    at = lines.index("[list]")
    lines[at + 3] = 'paging = "sideways"'
    broken.write_text("\n".join(lines) + "\n")
    with pytest.raises(ConfigError) as refused:
        settings_from_mapping({**conf, "sources": {"mine": {**table, "manifest": str(broken)}}})
    message = str(refused.value)
    assert "\n" not in message
    assert message.startswith(f"sources.mine.manifest: {broken}:{at + 4}: list.paging: ")
    assert "'page' or 'offset'" in message

    # source_kind names a registered kind (or "manifest"): the registry's, checked when read
    unknown = tmp_path / "unknown.toml"
    unknown.write_text(text.replace('source_kind = "manifest"', 'source_kind = "nosuchkind"'))
    line = text.splitlines().index('source_kind = "manifest"') + 1
    with pytest.raises(ConfigError) as refused:
        settings_from_mapping({**conf, "sources": {"mine": {**table, "manifest": str(unknown)}}})
    *names, last = [repr(kind.value) for kind in kinds()]  # the registry's, in its order
    assert str(refused.value) == (
        f"sources.mine.manifest: {unknown}:{line}: source_kind: Input should be "
        f"{', '.join(names)} or {last}"
    )

    missing_key = {k: v for k, v in table.items() if k != "token"}
    with pytest.raises(ConfigError, match=r"^sources\.mine\.token: required key is missing$"):
        settings_from_mapping({**conf, "sources": {"mine": missing_key}})


def test_a_hook_reads_what_the_manifest_cannot_say(sims: Simulators, tmp_path: Path) -> None:
    own = tmp_path / "hooked.toml"
    own.write_text(
        HAMGAM_MANIFEST.read_text()
        + '\n[hooks]\norder = "tests.manifest_hooks:number_without_year"\n'
    )
    conf = sims.config(["hamgam"])
    table = {**conf["sources"]["eu-shop"], "kind": "manifest", "manifest": str(own)}
    with TestClient(create_app(settings_from_mapping({**conf, "sources": {"x": table}}))) as c:
        body = gql(c, '{ orderBySourceId(source: "x", sourceId: "123") { number } }')
    assert body["data"]["orderBySourceId"] == {"number": "HG-000123"}

    own.write_text(HAMGAM_MANIFEST.read_text() + '\n[hooks]\norder = "tests.nowhere:f"\n')
    with pytest.raises(ManifestError, match=r"hooked\.toml:\d+: hooks\.order: No module named"):
        load.__wrapped__(str(own))


def test_a_toml_error_names_the_line(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text('kind = "x"\nsource_kind = \n')
    with pytest.raises(ManifestError, match=r"bad\.toml: not valid TOML \(.*line 2"):
        load(str(bad))


def test_gateway_check_reports_a_broken_manifest_in_one_line(tmp_path: Path) -> None:
    broken = tmp_path / "broken.toml"
    broken.write_text(HAMGAM_MANIFEST.read_text().replace('order_path = "/api/orders/{id}"\n', ""))
    config = tmp_path / "gateway.toml"
    config.write_text(
        '[sources.mine]\nkind = "manifest"\n'
        f'manifest = "{broken}"\nbase_url = "http://127.0.0.1:9"\ntoken = "t"\ncurrency = "EUR"\n'
    )
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "check", "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode != 0
    assert f"{broken}: order_path: required key is missing" in done.stderr + done.stdout
    assert "Traceback" not in done.stderr


def test_the_manifest_schema_is_docs_manifest_schema_json() -> None:
    committed = json.loads((ROOT / "docs" / "manifest.schema.json").read_text())
    assert committed == manifest_json_schema(), (
        "docs/manifest.schema.json is stale: run `make docs`"
    )


def test_a_bad_woocommerce_payload_costs_only_its_own_object(sims: Simulators) -> None:
    orders = sims.set.data["woocommerce"].orders
    good = next(o for o in orders if o["id"] == 727)
    orders.append({**good, "id": 999, "total": "lots"})
    with TestClient(create_app(sims.settings())) as client:
        body = gql(
            client,
            """{ a: orderBySourceId(source: "woo", sourceId: "727") { number }
            b: orderBySourceId(source: "woo", sourceId: "999") { number }
            c: orderBySourceId(source: "eu-shop", sourceId: "123") { number } }""",
        )
        sims.set.faults.set("woocommerce", "garbage")  # HTML where JSON was promised
        garbage = gql(
            client,
            """{ a: orderBySourceId(source: "woo", sourceId: "731") { number }
            c: orderBySourceId(source: "eu-shop", sourceId: "123") { number } }""",
        )
    assert body["data"] == {"a": {"number": "727"}, "b": None, "c": {"number": "HG-2024-000123"}}
    (error,) = body["errors"]
    assert error["path"] == ["b"]
    assert error["extensions"] == {"code": "BACKEND_ERROR", "source": "woo"}
    assert "lots" not in error["message"]
    assert garbage["data"] == {"a": None, "c": {"number": "HG-2024-000123"}}
    assert [e["extensions"]["source"] for e in garbage["errors"]] == ["woo"]


@pytest.mark.parametrize(
    ("change", "says"),
    [
        (
            ('value = "Token {token}"', 'value = "Token {tokn}"'),
            "auth.value: {tokn} is no setting of this manifest (its [settings]: currency, token)",
        ),
        (
            ('pattern = "^[A-Z]{3}$"', 'pattern = "^[A-Z{3}$"'),
            "settings.currency.pattern: not a regular expression",
        ),
        (
            ('{ amount = "total", unit = "minor" }', '{ amount = "total", unit = "cents" }'),
            "order.price.total.unit: Input should be 'major' or 'minor'",
        ),
        (
            ('created_at = "created_at"', "created_at = 5"),
            "order.created_at: expected a path (text) or a table",
        ),
    ],
)
def test_every_manifest_mistake_is_one_line_with_its_line(
    tmp_path: Path, change: tuple[str, str], says: str
) -> None:
    text = HAMGAM_MANIFEST.read_text()
    old, new = change
    assert old in text
    broken = tmp_path / "broken.toml"
    broken.write_text(text.replace(old, new, 1))
    line = next(n for n, written in enumerate(broken.read_text().splitlines(), 1) if new in written)
    with pytest.raises(ManifestError) as refused:
        load.__wrapped__(str(broken))
    assert str(refused.value).startswith(f"{broken}:{line}: {says}")
    assert "\n" not in str(refused.value)
