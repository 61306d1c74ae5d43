"""The config file (docs/configuration.md's example, and every way it can be wrong) and the CLI."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest

from gateway.config import load_settings, settings_from_mapping
from gateway.errors import ConfigError
from gateway.sources.adobe_vip.settings import AdobeVipSettings
from gateway.sources.hamgam.settings import HamgamSettings
from tests.conftest import Simulators
from tests.live import wait_until_up

ROOT = Path(__file__).resolve().parent.parent

DESIGN_EXAMPLE = """
[server]
host = "127.0.0.1"
port = 8000

[sources.licensing]
kind = "licensespring"
base_url = "https://api.example.com"
api_key = "${LICENSING_API_KEY}"

[sources.reseller]
kind = "zaveit"
base_url = "https://zaveit.example.com"
token = "${RESELLER_TOKEN}"

[sources.eu-shop]
kind = "hamgam"
base_url = "https://shop.example.com"
token = "${SHOP_TOKEN}"
currency = "EUR"

[sources.adobe]
kind = "adobe_vip"
base_url = "https://partners.example.com"
token = "${ADOBE_TOKEN}"
api_key = "${ADOBE_API_KEY}"
customer_ids = ["9876543210"]

[sources.hl-main]
kind = "highlevel"
base_url = "https://services.example.com"
token = "${HIGHLEVEL_TOKEN}"
location_id = "3SwdhCu3svxI8AKsPJt6"
timeout_s = 5
max_concurrency = 4
retries = 1

[security]
require_auth = true
anonymous_scopes = []
introspection = false

[[security.api_keys]]
name = "frontend"
key = "${FRONTEND_KEY}"
scopes = ["orders:read", "pii:read"]
"""
ENV = {
    "LICENSING_API_KEY": "k1",
    "RESELLER_TOKEN": "t2",
    "SHOP_TOKEN": "t3",
    "ADOBE_TOKEN": "t4",
    "ADOBE_API_KEY": "k5",
    "HIGHLEVEL_TOKEN": "t6",
    "FRONTEND_KEY": "f7",
}


def test_design_example_loads(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for k, v in ENV.items():
        monkeypatch.setenv(k, v)
    path = tmp_path / "gateway.toml"
    path.write_text(DESIGN_EXAMPLE)
    s = load_settings(path)
    assert list(s.sources) == ["licensing", "reseller", "eu-shop", "adobe", "hl-main"]
    shop = s.sources["eu-shop"]
    assert isinstance(shop, HamgamSettings) and (shop.token, shop.currency) == ("t3", "EUR")
    adobe = s.sources["adobe"]
    assert isinstance(adobe, AdobeVipSettings) and adobe.customer_ids == ("9876543210",)
    assert (adobe.token, adobe.api_key, adobe.timeout_s, adobe.retries) == ("t4", "k5", 10.0, 2)
    hl = s.sources["hl-main"]
    assert (hl.timeout_s, hl.max_concurrency, hl.retries) == (5.0, 4, 1)
    assert s.security.require_auth and not s.security.introspection
    assert s.security.api_keys[0].key == "f7"
    assert set(s.secrets()) == set(ENV.values())


BASE = {"kind": "hamgam", "base_url": "https://shop.example.com", "token": "t", "currency": "EUR"}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({**BASE, "kind": "shopify"}, "sources.shop.kind: unknown kind 'shopify'"),
        ({k: v for k, v in BASE.items() if k != "currency"}, "sources.shop.currency: required"),
        (
            {**BASE, "token": "${NOT_SET_ANYWHERE}"},
            "sources.shop.token: environment variable NOT_SET_ANYWHERE is not set",
        ),
        ({**BASE, "base_url": "not a url"}, "sources.shop.base_url:"),
        ({**BASE, "tokn": "t"}, "sources.shop.tokn: unknown key (did you mean 'token'?)"),
        ({**BASE, "timeout_s": -1}, "sources.shop.timeout_s:"),
    ],
)
def test_bad_source_tables_name_source_and_key(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError) as info:
        settings_from_mapping({"sources": {"shop": table}})
    assert str(info.value).startswith(message)
    assert "\n" not in str(info.value)


def _run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gateway", *args],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, **(env or {})},
    )


def test_serve_with_a_bad_config_exits_with_one_line(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text(
        '[sources.eu-shop]\nkind = "hamgam"\nbase_url = "https://x.example"\n'
        'token = "${SHOP_TOKEN_UNSET}"\ncurrency = "EUR"\n'
    )
    done = _run("serve", "--config", str(path))
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "gateway: config error: sources.eu-shop.token: environment "
        "variable SHOP_TOKEN_UNSET is not set"
    )
    assert "Traceback" not in done.stderr


def test_serve_reads_gateway_config_env(tmp_path: Path) -> None:
    path = tmp_path / "bad.toml"
    path.write_text('[sources.x]\nkind = "nope"\n')
    done = _run("serve", env={"GATEWAY_CONFIG": str(path)})
    assert done.returncode == 2 and "sources.x.kind: unknown kind 'nope'" in done.stderr


def test_schema_file_matches_the_code() -> None:
    done = _run("schema")
    assert done.returncode == 0
    assert done.stdout == (ROOT / "schema.graphql").read_text(), (
        "schema.graphql is stale: run `make schema`"
    )


@pytest.mark.parametrize("parser", ["httptools", "h11"])
def test_serve_answers_over_real_http_with_either_parser(
    tmp_path: Path, sims: Simulators, parser: str
) -> None:
    # `gateway serve` as deployed: its own process and port, the eu-shop simulator behind.
    shop = sims.config(["hamgam"])["sources"]["eu-shop"]
    path = tmp_path / "serve.toml"
    path.write_text(
        f'[server]\nhttp_parser = "{parser}"\n\n[security]\nrequire_auth = false\n'
        'anonymous_scopes = ["orders:read", "pii:read"]\n\n[sources.eu-shop]\n'
        + "".join(f"{k} = {json.dumps(v)}\n" for k, v in shop.items())
    )
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--config", str(path), "--port", str(port)],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_up(url)
        query = (
            '{ orderBySourceId(source: "eu-shop", sourceId: "123") { number customer { email } } }'
        )
        body = httpx.post(f"{url}/graphql", json={"query": query}, timeout=10).json()
    finally:
        proc.terminate()
        _, err = proc.communicate(timeout=10)
    assert body == {
        "data": {
            "orderBySourceId": {
                "number": "HG-2024-000123",
                "customer": {"email": "sara.ahmadi@example.ir"},
            }
        }
    }
    assert b"Traceback" not in err


def test_workers_that_rotate_a_refresh_token_need_redis(tmp_path: Path) -> None:
    path = tmp_path / "oauth.toml"
    path.write_text(
        '[sources.hl-main]\nkind = "highlevel"\nbase_url = "https://services.example"\n'
        'location_id = "L"\noauth_client_id = "c"\noauth_client_secret = "s"\n'
        f'oauth_refresh_token = "r"\ntoken_store = "{tmp_path / "tokens"}"\n'
    )
    done = _run("serve", "--config", str(path), "--workers", "2")
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "gateway: config error: sources.hl-main.oauth_refresh_token: --workers 2 needs "
        '[cache] backend = "redis" (the processes must share the rotated token)'
    )
