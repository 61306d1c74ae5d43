"""The GraphiQL page works with no outside network: it and every file it names come from
the gateway, pinned by digest, under a Content-Security-Policy that allows nothing else."""

from __future__ import annotations

import base64
import hashlib
import json
import re
from html.parser import HTMLParser
from importlib import resources
from typing import Any
from urllib.parse import urlsplit

from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.config import settings_from_mapping
from gateway.sources.registry import kinds
from tests.conftest import Simulators, gateway_client

STATIC = resources.files("gateway") / "static" / "graphiql"
MANIFEST: dict[str, Any] = json.loads((STATIC / "manifest.json").read_text())
PINNED = {entry["file"]: entry for entry in MANIFEST["files"]}
KEY = "frontend-key-0123456789"
HTML = {"accept": "text/html"}


class Page(HTMLParser):
    """Every tag of the page with its attributes, and any text inside script or style."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: list[str] = []
        self._open: str | None = None
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._open = tag

    def handle_endtag(self, tag: str) -> None:
        self._open = None

    def handle_data(self, data: str) -> None:
        if self._open in ("script", "style") and data.strip():
            self.inline.append(data)

    def assets(self) -> list[tuple[str, str, str]]:
        """(tag, url, integrity) of each script and stylesheet the page loads."""
        found = []
        for tag, attrs in self.tags:
            url = attrs.get("src") if tag == "script" else None
            if tag == "link" and attrs.get("rel") == "stylesheet":
                url = attrs.get("href")
            if url is not None:
                found.append((tag, url, attrs.get("integrity") or ""))
        return found


def csp(response: Any) -> dict[str, list[str]]:
    header = response.headers["content-security-policy"]
    return {
        name: sources
        for name, *sources in (part.split() for part in header.split(";") if part.strip())
    }


def check_csp(response: Any) -> None:
    policy = csp(response)
    assert policy["default-src"] == ["'none'"]
    assert policy["script-src"] == ["'self'"]  # no inline script, no eval
    assert policy["style-src"] == ["'self'"]  # no inline style elements
    assert policy["connect-src"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    for name, sources in policy.items():
        # Nothing beyond this origin (data: URLs are GraphiQL's embedded fonts and icons).
        assert set(sources) <= {"'self'", "'none'", "data:"}, (name, sources)
        assert "data:" not in sources or name in ("font-src", "img-src")


def test_graphiql_page_and_every_file_it_names_come_from_the_gateway(sims: Simulators) -> None:
    with gateway_client(sims.settings()) as client:
        page = client.get("/graphql", headers=HTML)
        assert page.status_code == 200
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert page.headers["cache-control"] == "no-cache"
        check_csp(page)
        parsed = Page(page.text)

        # Nothing inline that the policy would have to allow, and no outside address.
        assert parsed.inline == []
        assert not [t for t, a in parsed.tags if "style" in a or any(k.startswith("on") for k in a)]
        assert "http:" not in page.text and "https:" not in page.text and "//" not in page.text
        for _tag, attrs in parsed.tags:
            for name in ("src", "href"):
                if attrs.get(name) is not None:
                    url = attrs[name] or ""
                    assert url.startswith("/graphiql/static/") or url == "data:,", url

        assets = parsed.assets()
        assert {urlsplit(u).path.rsplit("/", 1)[1] for _, u, _ in assets} == {
            *PINNED,
            "page.css",
            "start.js",
        }
        for tag, url, integrity in assets:
            name = urlsplit(url).path.rsplit("/", 1)[1]
            r = client.get(url)
            assert r.status_code == 200, url
            expected_type = "text/javascript" if tag == "script" else "text/css"
            assert r.headers["content-type"] == f"{expected_type}; charset=utf-8"
            assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert r.headers["x-content-type-options"] == "nosniff"
            check_csp(r)
            digest = hashlib.sha256(r.content).hexdigest()
            # The address changes with the bytes, so a year's caching is safe.
            assert urlsplit(url).query == f"v={digest[:16]}"
            sri = "sha384-" + base64.b64encode(hashlib.sha384(r.content).digest()).decode()
            assert integrity == sri
            if name in PINNED:
                assert digest == PINNED[name]["sha256"], f"{name} is not the pinned file"
            else:
                assert r.content == (STATIC / name).read_bytes()
            if tag == "script" and name not in PINNED:
                assert not re.search(r"https?://", r.text), f"{name} names an outside address"

        assert client.get("/graphiql/static/nothing.js").status_code == 404
        assert client.get("/graphiql/static/manifest.json").status_code == 404
        assert client.get("/graphiql/static/..%2fgraphiql.py").status_code == 404


def test_pinned_versions_are_those_strawberrys_page_would_load() -> None:
    """One set of versions known to work together through script tags (UMD builds)."""
    versions = {(e["package"], e["version"]) for e in MANIFEST["files"]}
    assert versions == {
        ("react", "18.2.0"),
        ("react-dom", "18.2.0"),
        ("graphiql", "3.8.3"),
        ("@graphiql/plugin-explorer", "1.0.2"),
    }
    for entry in MANIFEST["files"]:
        assert re.fullmatch(r"[0-9a-f]{64}", entry["sha256"])
        assert entry["integrity"].startswith("sha512-")


def example_query(client: TestClient) -> str:
    page = Page(client.get("/graphql", headers=HTML).text)
    start = next(u for t, u, _ in page.assets() if u.startswith("/graphiql/static/start.js"))
    lines = re.findall(r'^\s*"(.*)",$', client.get(start).text, re.MULTILINE)
    return "\n".join(line for line in lines if not line.startswith("#"))


def test_the_example_query_runs_and_shows_newest_orders_with_totals_and_emails(
    sims: Simulators,
) -> None:
    with gateway_client(sims.settings()) as client:
        query = example_query(client)
        assert query.lstrip().startswith("query NewestOrders")
        r = client.post("/graphql", json={"query": query})
        body = r.json()
        assert r.status_code == 200 and "errors" not in body, body
        nodes = body["data"]["orders"]["nodes"]
        assert len(nodes) == 10
        created = [n["createdAt"] for n in nodes]
        assert created == sorted(created, reverse=True)
        assert {n["sourceKind"] for n in nodes} <= {kind.name for kind in kinds()}
        with_total = [n for n in nodes if n["price"] and n["price"]["total"]]
        assert with_total and all(
            re.fullmatch(r"-?\d+(\.\d+)?", n["price"]["total"]["amount"]) for n in with_total
        )
        assert any(n["customer"] and "@" in (n["customer"]["email"] or "") for n in nodes)


def test_headers_editor_starts_with_a_key_placeholder_when_a_key_is_required(
    sims: Simulators,
) -> None:
    with gateway_client(sims.settings()) as client:  # the demo: open access
        (div,) = [a for t, a in Page(client.get("/graphql", headers=HTML).text).tags if t == "div"]
        assert div["data-default-headers"] == ""

    conf = sims.config()
    conf["security"] = {
        "require_auth": True,
        "introspection": True,
        "api_keys": [{"name": "frontend", "key": KEY, "scopes": ["orders:read"]}],
    }
    with gateway_client(settings_from_mapping(conf)) as client:
        page = client.get("/graphql", headers=HTML)  # the page itself needs no key
        assert page.status_code == 200
        (div,) = [a for t, a in Page(page.text).tags if t == "div"]
        assert json.loads(div["data-default-headers"] or "") == {"X-Api-Key": "<your key>"}
        assert KEY not in page.text
        start = client.get(Page(page.text).assets()[-1][1])
        assert start.status_code == 200 and KEY not in start.text
        # The placeholder is refused like any wrong key; the real one works.
        hint = {"X-Api-Key": "<your key>"}
        refused = client.post("/graphql", json={"query": "{ __typename }"}, headers=hint)
        assert refused.status_code == 401
        assert refused.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        ok = client.post("/graphql", json={"query": "{ __typename }"}, headers={"X-Api-Key": KEY})
        assert ok.json() == {"data": {"__typename": "Query"}}


def test_no_graphiql_files_without_graphiql(sims: Simulators) -> None:
    app = create_app(sims.settings(), graphiql=False)
    with TestClient(app) as client:
        assert client.get("/graphiql/static/start.js").status_code == 404
