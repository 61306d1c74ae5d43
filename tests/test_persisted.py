"""Persisted queries: Apollo's APQ over POST and GET, a manifest checked at start-up, and
persisted_only; in the memory store and in a real redis-server shared by two gateways."""

from __future__ import annotations

import asyncio
import hashlib
import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from graphql import parse as graphql_parse
from starlette.testclient import TestClient

import gateway.persisted as persisted
from gateway.cache.memory import MemoryStore
from gateway.config import Settings, settings_from_mapping
from gateway.errors import ConfigError
from gateway.persisted import APQ_TTL_S, MAX_REGISTERED_CHARS
from tests.conftest import SOURCE_OF, Simulators, codes, gateway_client
from tests.redis_server import RedisServer, redis_cache

ORDER = '{ orderBySourceId(source: "eu-shop", sourceId: "123") { number status } }'
ORDER_DATA = {"orderBySourceId": {"number": "HG-2024-000123", "status": "COMPLETED"}}
SOURCES = "{ sources { name } }"
APP_KEY = "app-key-0123456789"


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def apq(text: str, **changes: Any) -> dict[str, Any]:
    return {"persistedQuery": {"version": 1, "sha256Hash": sha(text), **changes}}


def post(client: TestClient, **body: Any) -> dict[str, Any]:
    response = client.post("/graphql", json=body)
    assert response.status_code == 200, response.text
    result: dict[str, Any] = response.json()
    return result


def get(client: TestClient, headers: dict[str, str] | None = None, **params: Any) -> Any:
    query = {k: json.dumps(v) if k == "extensions" else v for k, v in params.items()}
    return client.get(
        "/graphql", params=query, headers={"accept": "application/json", **(headers or {})}
    )


def configured(
    sims: Simulators,
    *,
    cache: dict[str, Any] | None = None,
    security: dict[str, Any] | None = None,
    ttl: float = 0,
) -> Settings:
    conf = sims.config(overrides={name: {"cache_ttl_s": ttl} for name in SOURCE_OF.values()})
    conf["security"].update(security or {})
    if cache is not None:
        conf["cache"] = cache
    return settings_from_mapping(conf)


def manifest(tmp_path: Path, *documents: str, content: str | None = None) -> Path:
    path = tmp_path / "persisted-documents.json"
    path.write_text(content if content is not None else json.dumps({sha(d): d for d in documents}))
    return path


# --- Apollo's APQ -------------------------------------------------------------------


def test_apq_over_post_hash_then_document_then_hash(sims: Simulators) -> None:
    with gateway_client(sims.settings()) as client:
        first = post(client, extensions=apq(ORDER))
        # What Apollo Client's persisted query link matches (message or code) to resend.
        assert first == {
            "errors": [
                {
                    "message": "PersistedQueryNotFound",
                    "extensions": {"code": "PERSISTED_QUERY_NOT_FOUND"},
                }
            ]
        }
        assert sims.log.entries == []
        assert post(client, query=ORDER, extensions=apq(ORDER)) == {"data": ORDER_DATA}
        assert post(client, extensions=apq(ORDER)) == {"data": ORDER_DATA}
        assert post(client, query="", extensions=apq(ORDER)) == {"data": ORDER_DATA}
        store = client.app.state.cache  # type: ignore[attr-defined]
        assert asyncio.run(store.get("apq:" + sha(ORDER))) == ORDER.encode()


def test_apq_over_get_with_variables_and_operation_name(sims: Simulators) -> None:
    query = (
        'query One($id: String!) { orderBySourceId(source: "eu-shop", sourceId: $id) { number } }'
    )
    with gateway_client(sims.settings()) as client:
        missing = get(client, extensions=apq(query), variables='{"id": "123"}')
        assert missing.status_code == 200
        assert codes(missing.json()) == ["PERSISTED_QUERY_NOT_FOUND"]
        post(client, query=query, extensions=apq(query), variables={"id": "123"})
        found = get(client, extensions=apq(query), variables='{"id": "123"}', operationName="One")
        assert found.status_code == 200
        assert found.json() == {"data": {"orderBySourceId": {"number": "HG-2024-000123"}}}


def test_a_hash_that_is_not_the_documents_digest_stores_nothing(sims: Simulators) -> None:
    with gateway_client(sims.settings()) as client:
        body = post(client, query=SOURCES, extensions=apq(ORDER))
        assert codes(body) == ["BAD_USER_INPUT"]
        assert "sha256" in body["errors"][0]["message"]
        assert codes(post(client, extensions=apq(ORDER))) == ["PERSISTED_QUERY_NOT_FOUND"]
        # the same hash with its own document then registers as usual
        assert post(client, query=ORDER, extensions=apq(ORDER)) == {"data": ORDER_DATA}
        # and a known hash with another text is still refused, with no digest made
        assert codes(post(client, query=SOURCES, extensions=apq(ORDER))) == ["BAD_USER_INPUT"]


@pytest.mark.parametrize(
    ("persisted_query", "words"),
    [
        ({"version": 1, "sha256Hash": "abc123"}, "64 hex"),
        ({"version": 1, "sha256Hash": "z" * 64}, "64 hex"),
        ({"version": 1, "sha256Hash": sha(ORDER) + "0"}, "64 hex"),
        ({"version": 1, "sha256Hash": 12345}, "64 hex"),
        ({"version": 1}, "64 hex"),
        ({"version": 2, "sha256Hash": sha(ORDER)}, "version 2 is not supported"),
        ({"version": "1", "sha256Hash": sha(ORDER)}, "version"),
        ({"version": True, "sha256Hash": sha(ORDER)}, "version"),
        ({"sha256Hash": sha(ORDER)}, "version"),
        ("abc", "must be an object"),
        ([1, sha(ORDER)], "must be an object"),
        (7, "must be an object"),
    ],
)
def test_malformed_persisted_query_is_bad_user_input(
    sims: Simulators, persisted_query: Any, words: str
) -> None:
    with gateway_client(sims.settings()) as client:
        for body in (
            post(client, extensions={"persistedQuery": persisted_query}),
            post(client, query=ORDER, extensions={"persistedQuery": persisted_query}),
            get(client, extensions={"persistedQuery": persisted_query}).json(),
        ):
            (error,) = body["errors"]
            assert error["extensions"] == {"code": "BAD_USER_INPUT"}
            assert words in error["message"]
        assert sims.log.entries == []
        assert len(client.app.state.cache) == 0  # type: ignore[attr-defined]


def test_get_with_a_mutation_shaped_document_is_refused_and_not_stored(sims: Simulators) -> None:
    mutation = "mutation { sources { name } }"
    with gateway_client(sims.settings()) as client:
        response = get(client, query=mutation, extensions=apq(mutation))
        assert response.status_code == 400
        (error,) = response.json()["errors"]
        assert error["extensions"]["code"] == "BAD_USER_INPUT"
        assert "GET" in error["message"]
        assert codes(post(client, extensions=apq(mutation))) == ["PERSISTED_QUERY_NOT_FOUND"]
        assert sims.log.entries == []


def test_documents_that_do_not_parse_or_validate_are_not_stored(sims: Simulators) -> None:
    with gateway_client(sims.settings()) as client:
        for text, code in (
            ("{ sources { name }", "GRAPHQL_PARSE_FAILED"),
            ("{ nope }", "GRAPHQL_VALIDATION_FAILED"),
        ):
            assert codes(post(client, query=text, extensions=apq(text))) == [code]
            assert codes(post(client, extensions=apq(text))) == ["PERSISTED_QUERY_NOT_FOUND"]
        assert len(client.app.state.cache) == 0  # type: ignore[attr-defined]


def test_a_known_hash_is_neither_hashed_nor_parsed_again(
    sims: Simulators, monkeypatch: pytest.MonkeyPatch
) -> None:
    calls = {"digest": 0, "parse": 0}

    def counted(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            calls[name] += 1
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(persisted, "digest", counted("digest", persisted.digest))
    monkeypatch.setattr(persisted, "parse", counted("parse", graphql_parse))
    with gateway_client(sims.settings()) as client:
        post(client, query=ORDER, extensions=apq(ORDER))
        assert calls == {"digest": 1, "parse": 1}
        for _ in range(5):
            assert post(client, extensions=apq(ORDER)) == {"data": ORDER_DATA}
            assert get(client, extensions=apq(ORDER)).json() == {"data": ORDER_DATA}
            # a client that always sends the text too: compared, not hashed
            assert post(client, query=ORDER, extensions=apq(ORDER)) == {"data": ORDER_DATA}
        assert calls == {"digest": 1, "parse": 1}


# --- Cache-Control ------------------------------------------------------------------


def test_anonymous_get_of_a_persisted_query_may_be_cached_publicly(sims: Simulators) -> None:
    with gateway_client(configured(sims, ttl=30)) as client:
        post(client, query=ORDER, extensions=apq(ORDER))
        response = get(client, extensions=apq(ORDER))
        assert response.json() == {"data": ORDER_DATA}
        assert response.headers["cache-control"] == "public, max-age=30"
        # the same document as text is not a persisted query: no public caching
        assert "cache-control" not in get(client, query=ORDER).headers
        # POST answers are never marked
        assert (
            "cache-control" not in client.post("/graphql", json={"extensions": apq(ORDER)}).headers
        )


def test_no_public_cache_control_without_source_caching_or_with_errors(sims: Simulators) -> None:
    with gateway_client(configured(sims, ttl=0)) as client:
        post(client, query=ORDER, extensions=apq(ORDER))
        assert "cache-control" not in get(client, extensions=apq(ORDER)).headers
    settings = configured(sims, ttl=30)
    broken = settings.model_copy(
        update={
            "sources": {
                **settings.sources,
                "eu-shop": settings.sources["eu-shop"].model_copy(
                    update={"base_url": "http://127.0.0.1:9/hamgam"}
                ),
            }
        }
    )
    with gateway_client(broken) as client:
        post(client, query=ORDER, extensions=apq(ORDER))
        response = get(client, extensions=apq(ORDER))
        assert codes(response.json()) == ["BACKEND_UNAVAILABLE"]
        assert "cache-control" not in response.headers
        assert codes(get(client, extensions=apq(SOURCES)).json()) == ["PERSISTED_QUERY_NOT_FOUND"]


def test_an_answer_to_a_credential_is_private(sims: Simulators) -> None:
    security = {
        "require_auth": True,
        "api_keys": [{"name": "app", "key": APP_KEY, "scopes": ["orders:read"]}],
    }
    with gateway_client(configured(sims, ttl=30, security=security)) as client:
        key = {"x-api-key": APP_KEY}
        client.post("/graphql", json={"query": ORDER, "extensions": apq(ORDER)}, headers=key)
        for headers in (key, {"authorization": f"Bearer {APP_KEY}"}):
            response = get(client, headers, extensions=apq(ORDER))
            assert response.json() == {"data": ORDER_DATA}
            assert response.headers["cache-control"] == "private, no-store"
        assert get(client, key, query=ORDER).headers["cache-control"] == "private, no-store"


# --- bounded storage ----------------------------------------------------------------


def huge(n: int, size: int = 60_000) -> str:
    # Comments are not tokens: a large document within max_tokens.
    return f"# {n}\n" + "#" + "x" * size + "\n" + SOURCES


def test_huge_documents_registered_repeatedly_keep_the_memory_store_bounded(
    sims: Simulators,
) -> None:
    settings = configured(sims, cache={"backend": "memory", "max_entries": 5})
    with gateway_client(settings) as client:
        store = client.app.state.cache  # type: ignore[attr-defined]
        assert isinstance(store, MemoryStore)
        for _ in range(10):
            post(client, query=huge(0), extensions=apq(huge(0)))
        assert len(store) == 1
        for n in range(1, 20):
            body = post(client, query=huge(n), extensions=apq(huge(n)))
            assert body["data"]["sources"][0] == {"name": "licensing"}
        assert len(store) == 5
        # the most recent are kept and found by hash
        assert "data" in post(client, extensions=apq(huge(19)))
        # over the registration limit: run, never stored
        giant = huge(99, MAX_REGISTERED_CHARS)
        assert "data" in post(client, query=giant, extensions=apq(giant))
        assert codes(post(client, extensions=apq(giant))) == ["PERSISTED_QUERY_NOT_FOUND"]


# --- Redis --------------------------------------------------------------------------


def test_two_gateways_sharing_redis_share_registered_documents(
    sims: Simulators, redis_url: str, redis_server: RedisServer
) -> None:
    settings = configured(sims, cache=redis_cache(redis_url))
    with gateway_client(settings) as one, gateway_client(settings) as other:
        assert codes(post(other, extensions=apq(ORDER))) == ["PERSISTED_QUERY_NOT_FOUND"]
        assert post(one, query=ORDER, extensions=apq(ORDER)) == {"data": ORDER_DATA}
        assert post(other, extensions=apq(ORDER)) == {"data": ORDER_DATA}
        assert get(other, extensions=apq(ORDER)).json() == {"data": ORDER_DATA}
    ttl_ms = int(redis_server.command("PTTL", "gw:apq:" + sha(ORDER)).strip().lstrip(b":"))
    assert APQ_TTL_S * 1000 - 60_000 < ttl_ms <= APQ_TTL_S * 1000


def test_huge_documents_in_redis_expire(
    sims: Simulators, redis_url: str, redis_server: RedisServer
) -> None:
    settings = configured(sims, cache=redis_cache(redis_url))
    with gateway_client(settings) as client:
        for _ in range(5):
            post(client, query=huge(1), extensions=apq(huge(1)))
        post(client, query=huge(2), extensions=apq(huge(2)))
    keys = redis_server.command("KEYS", "gw:apq:*")
    assert keys.startswith(b"*2\r\n")
    for n in (1, 2):
        reply = redis_server.command("PTTL", "gw:apq:" + sha(huge(n)))
        assert 0 < int(reply.strip().lstrip(b":")) <= APQ_TTL_S * 1000


def test_a_document_in_redis_that_is_not_its_hashs_is_not_run(
    sims: Simulators, redis_url: str, redis_server: RedisServer
) -> None:
    # Another writer of the shared Redis: the text is checked once when first read.
    redis_server.command("SET", "gw:apq:" + sha(ORDER), '"{sources{name}}"')
    settings = configured(sims, cache=redis_cache(redis_url))
    with gateway_client(settings) as client:
        assert codes(post(client, extensions=apq(ORDER))) == ["PERSISTED_QUERY_NOT_FOUND"]


def test_redis_down_the_document_is_run_and_a_hash_alone_is_not_found(
    sims: Simulators, redis_url: str, redis_server: RedisServer
) -> None:
    settings = configured(sims, cache=redis_cache(redis_url))
    with gateway_client(settings) as client:
        redis_server.stop()
        assert post(client, query=ORDER, extensions=apq(ORDER)) == {"data": ORDER_DATA}
        assert codes(post(client, extensions=apq(SOURCES))) == ["PERSISTED_QUERY_NOT_FOUND"]


# --- the manifest -------------------------------------------------------------------


def test_manifest_hashes_answer_apq_lookups(sims: Simulators, tmp_path: Path) -> None:
    path = manifest(tmp_path, ORDER, SOURCES)
    with gateway_client(configured(sims, security={"persisted_queries": str(path)})) as client:
        assert post(client, extensions=apq(ORDER)) == {"data": ORDER_DATA}
        assert get(client, extensions=apq(ORDER)).json() == {"data": ORDER_DATA}
        # not persisted_only: other documents still run and register
        other = '{ orderBySourceId(source: "eu-shop", sourceId: "123") { number } }'
        assert "data" in post(client, query=other)
        assert "data" in post(client, query=other, extensions=apq(other))
        assert len(client.app.state.cache) == 1  # type: ignore[attr-defined]


def test_persisted_only_refuses_any_other_document_before_any_backend_call(
    sims: Simulators, tmp_path: Path
) -> None:
    path = manifest(tmp_path, ORDER)
    security = {"persisted_queries": str(path), "persisted_only": True}
    with gateway_client(configured(sims, security=security)) as client:
        assert post(client, extensions=apq(ORDER)) == {"data": ORDER_DATA}
        assert post(client, query=ORDER) == {"data": ORDER_DATA}  # its exact text
        assert post(client, query=ORDER, extensions=apq(ORDER)) == {"data": ORDER_DATA}
        sims.log.clear()
        other = '{ orderBySourceId(source: "eu-shop", sourceId: "124") { number } }'
        unparsable = "{ this is { not graphql"
        # over max_tokens: refused as not listed, not measured (it is never read)
        many = "{ " + " ".join(f"a{i}: sources {{ name }}" for i in range(3000)) + " }"
        for body in (
            post(client, query=other),
            post(client, query=unparsable),
            post(client, query=many),
            post(client, query=other, extensions=apq(other)),
            post(client, extensions=apq(other)),
            get(client, query=other).json(),
            get(client, extensions=apq(other)).json(),
        ):
            (error,) = body["errors"]
            assert error["extensions"] == {"code": "PERSISTED_QUERY_NOT_IN_LIST"}
        assert sims.log.entries == []
        assert len(client.app.state.cache) == 0  # type: ignore[attr-defined]


def test_manifest_documents_are_parsed_at_start_up_only(
    sims: Simulators, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = manifest(tmp_path, ORDER)
    security = {"persisted_queries": str(path), "persisted_only": True}
    with gateway_client(configured(sims, security=security)) as client:
        monkeypatch.setattr(persisted, "digest", _forbidden)
        monkeypatch.setattr(persisted, "parse", _forbidden)
        for _ in range(3):
            assert post(client, extensions=apq(ORDER)) == {"data": ORDER_DATA}


def _forbidden(*args: Any, **kwargs: Any) -> Any:
    raise AssertionError("not expected per request")


@pytest.mark.parametrize(
    ("content", "words"),
    [
        (None, "cannot read the manifest"),
        ("{not json", "not JSON"),
        ('["{ sources { name } }"]', "must be a JSON object"),
        (json.dumps({"abc": SOURCES}), "abc: not a sha256 digest"),
        (json.dumps({sha(ORDER): SOURCES}), f"{sha(ORDER)}: not the sha256 of its document"),
        (json.dumps({sha(SOURCES): 5}), f"{sha(SOURCES)}: the document must be a string"),
        (json.dumps({sha("{ x"): "{ x"}), f"{sha('{ x')}: the document does not parse"),
        (
            json.dumps({sha("{ nope }"): "{ nope }"}),
            f"{sha('{ nope }')}: the document does not validate: Cannot query field 'nope'",
        ),
        (
            json.dumps({sha("mutation { x }"): "mutation { x }"}),
            f"{sha('mutation { x }')}: the document does not validate",
        ),
    ],
)
def test_a_bad_manifest_is_a_one_line_start_up_error(
    sims: Simulators, tmp_path: Path, content: str | None, words: str
) -> None:
    path = tmp_path / "missing.json" if content is None else manifest(tmp_path, content=content)
    settings = configured(sims, security={"persisted_queries": str(path)})
    with pytest.raises(ConfigError) as info:
        gateway_client(settings)
    message = str(info.value)
    assert message.startswith(f"security.persisted_queries: {path}")
    assert words in message
    assert "\n" not in message


def test_manifest_documents_go_through_the_requests_validation(
    sims: Simulators, tmp_path: Path
) -> None:
    introspect = "{ __schema { queryType { name } } }"
    path = manifest(tmp_path, introspect)
    closed = {"persisted_queries": str(path), "introspection": False}
    with pytest.raises(ConfigError, match="introspection"):
        gateway_client(configured(sims, security=closed))
    opened = {"persisted_queries": str(path), "introspection": True}
    with gateway_client(configured(sims, security=opened)) as client:
        body = post(client, extensions=apq(introspect))
        assert body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


def test_persisted_only_needs_a_manifest(sims: Simulators) -> None:
    with pytest.raises(ConfigError, match="persisted_only = true needs persisted_queries"):
        configured(sims, security={"persisted_only": True})


def test_serve_with_a_bad_manifest_exits_with_one_line(tmp_path: Path) -> None:
    path = manifest(tmp_path, content=json.dumps({sha(ORDER): SOURCES}))
    config = tmp_path / "gateway.toml"
    config.write_text(f'[security]\nrequire_auth = false\npersisted_queries = "{path}"\n')
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "serve", "--config", str(config), "--port", "0"],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        f"gateway: config error: security.persisted_queries: {path}: {sha(ORDER)}: "
        "not the sha256 of its document"
    )
