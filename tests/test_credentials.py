"""Backend credentials that renew: Adobe IMS and HighLevel OAuth against the simulators'
token endpoints over real HTTP, rotated refresh tokens in a file or a real redis-server."""

from __future__ import annotations

import json
import logging
import os
import stat
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import redis
from starlette.testclient import TestClient

from gateway.config import Settings, settings_from_mapping
from gateway.credentials.redis_keeper import REFRESH_TTL_S
from gateway.simulation import TokenIssuer
from gateway.sources.adobe_vip import simulator as adobe_sim
from gateway.sources.highlevel import simulator as hl_sim
from gateway.state.sealing import Sealer
from tests.conftest import Simulators, codes, gateway_client, gql
from tests.redis_server import CACHE_KEY, RedisServer, free_port, redis_cache

AD_ORDER = "9876543210/0123456789"
HL_ORDER = "653f5e0cde5a1314e62a837c"
BOTH = f"""{{
  ad: orderBySourceId(source: "adobe", sourceId: "{AD_ORDER}") {{ sourceId }}
  hl: orderBySourceId(source: "hl-main", sourceId: "{HL_ORDER}") {{ sourceId }}
}}"""
ANSWER = {"ad": {"sourceId": AD_ORDER}, "hl": {"sourceId": HL_ORDER}}


def renewing_config(
    sims: Simulators,
    token_store: Path | None,
    *,
    redis_url: str | None = None,
    adobe: dict[str, Any] | None = None,
    highlevel: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The demo's adobe and hl-main with token endpoints, plus eu-shop (a fixed token)."""
    conf = sims.config(["adobe_vip", "highlevel", "hamgam"])
    sources = conf["sources"]
    sources["adobe"] = adobe_sim.demo_source(f"{sims.base_url}/adobe_vip", renewing=True)
    sources["hl-main"] = hl_sim.demo_source(
        f"{sims.base_url}/highlevel",
        renewing=True,
        token_store=str(token_store) if token_store is not None else None,
    )
    sources["adobe"].update(adobe or {})
    sources["hl-main"].update(highlevel or {})
    if redis_url is not None:
        conf["cache"] = redis_cache(redis_url)
    return conf


def settings_of(conf: dict[str, Any]) -> Settings:
    return settings_from_mapping(conf)


def issuer(sims: Simulators, kind: str) -> TokenIssuer:
    tokens: TokenIssuer = sims.set.data[kind].tokens
    return tokens


def token_calls(sims: Simulators, kind: str) -> int:
    path = "/ims/token/v3" if kind == "adobe_vip" else "/oauth/token"
    return len(sims.log.of(kind, path))


def api_calls(sims: Simulators, kind: str) -> int:
    prefix = "/v3/" if kind == "adobe_vip" else "/payments/"
    return len(sims.log.of(kind, prefix))


def hl_orders(sims: Simulators, count: int) -> list[str]:
    return [o["_id"] for o in sims.set.data["highlevel"].orders[:count]]


def ad_orders(sims: Simulators, count: int) -> list[str]:
    data = sims.set.data["adobe_vip"]
    ids = [f"{cid}/{o['orderId']}" for cid, orders in data.orders.items() for o in orders]
    return ids[:count]


def many(sims: Simulators, count: int) -> tuple[str, dict[str, Any]]:
    """One query of ``count`` orders from each renewing source, and its answer."""
    fields, answer = [], {}
    for n, (hl, ad) in enumerate(zip(hl_orders(sims, count), ad_orders(sims, count), strict=True)):
        fields.append(f'h{n}: orderBySourceId(source: "hl-main", sourceId: "{hl}") {{ sourceId }}')
        fields.append(f'a{n}: orderBySourceId(source: "adobe", sourceId: "{ad}") {{ sourceId }}')
        answer[f"h{n}"], answer[f"a{n}"] = {"sourceId": hl}, {"sourceId": ad}
    return "{ " + "\n".join(fields) + " }", answer


def at_once(calls: list[Callable[[], dict[str, Any]]]) -> list[dict[str, Any]]:
    """Every call started together from its own thread (the gateway sees them concurrently)."""
    start = threading.Barrier(len(calls))

    def run(call: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        start.wait(timeout=10)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.fixture
def store(tmp_path: Path) -> Path:
    return tmp_path / "tokens"


@pytest.fixture
def client(sims: Simulators, store: Path) -> Iterator[TestClient]:
    with gateway_client(settings_of(renewing_config(sims, store))) as c:
        yield c


# -- first use, reuse, renewal before expiry, after a 401 ---------------------------------


def test_fetched_on_first_use_then_reused(
    sims: Simulators, client: TestClient, store: Path
) -> None:
    assert token_calls(sims, "adobe_vip") == token_calls(sims, "highlevel") == 0
    for _ in range(3):
        assert gql(client, BOTH)["data"] == ANSWER
    assert token_calls(sims, "adobe_vip") == token_calls(sims, "highlevel") == 1
    # The API saw the issued tokens, Adobe's with the client id as its API key.
    (ims_token,) = issuer(sims, "adobe_vip").issued
    (hl_token,) = issuer(sims, "highlevel").issued
    for call in sims.log.of("adobe_vip", "/v3/"):
        assert call.headers["authorization"] == f"Bearer {ims_token}"
        assert call.headers["x-api-key"] == adobe_sim.DEMO_IMS_CLIENT_ID
    for call in sims.log.of("highlevel", "/payments/"):
        assert call.headers["authorization"] == f"Bearer {hl_token}"
    # The rotated refresh token is on disk, readable by this user alone; the spent one not.
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    (record,) = json.loads(store.read_text()).values()
    assert record["refresh_token"] == issuer(sims, "highlevel").refresh_token
    assert hl_sim.DEMO_REFRESH_TOKEN not in store.read_text()
    assert not [p for p in store.parent.iterdir() if p != store]  # no temp file left


def test_renewed_before_it_runs_out(sims: Simulators, client: TestClient) -> None:
    for kind in ("adobe_vip", "highlevel"):
        issuer(sims, kind).lifetime_s = 2.0
    assert gql(client, BOTH)["data"] == ANSWER
    time.sleep(1.85)  # past the gateway's margin (10%), before the backend's expiry
    assert gql(client, BOTH)["data"] == ANSWER
    for kind in ("adobe_vip", "highlevel"):
        assert token_calls(sims, kind) == 2
        assert api_calls(sims, kind) == 2  # renewed before sending: no 401, no second try
    assert issuer(sims, "highlevel").refusals == {}


def test_a_401_renews_at_once_and_the_call_is_sent_again_once(
    sims: Simulators, client: TestClient
) -> None:
    assert gql(client, BOTH)["data"] == ANSWER
    for kind in ("adobe_vip", "highlevel"):
        issuer(sims, kind).expire_all()  # revoked, or run out on the backend's clock
    assert gql(client, BOTH)["data"] == ANSWER
    for kind in ("adobe_vip", "highlevel"):
        assert token_calls(sims, kind) == 2
        assert api_calls(sims, kind) == 3  # the first, its 401, the one sent again


def test_a_token_that_expires_mid_request(sims: Simulators, client: TestClient) -> None:
    """Valid when sent, expired when the backend reads it (a slow network)."""
    tokens = issuer(sims, "highlevel")
    tokens.lifetime_s = 1.5
    assert gql(client, BOTH)["data"] == ANSWER
    sims.set.faults.set("highlevel", "latency=1800;times=1;path=/payments")
    assert gql(client, BOTH)["data"] == ANSWER
    assert token_calls(sims, "highlevel") == 2
    assert api_calls(sims, "highlevel") == 3
    assert tokens.refusals == {}


@pytest.mark.parametrize("how", ["clock", "revoked"])
def test_many_concurrent_requests_at_expiry_renew_once(
    sims: Simulators, client: TestClient, how: str
) -> None:
    for kind in ("adobe_vip", "highlevel"):
        issuer(sims, kind).lifetime_s = 1.0 if how == "clock" else 60.0
    query, answer = many(sims, 6)
    assert gql(client, query)["data"] == answer
    for kind in ("adobe_vip", "highlevel"):
        issuer(sims, kind).lifetime_s = 60.0  # the next tokens outlive the test
    if how == "clock":
        time.sleep(1.0)  # every token the gateway holds is past its time
    else:
        for kind in ("adobe_vip", "highlevel"):
            issuer(sims, kind).expire_all()
    bodies = at_once([lambda: gql(client, query)] * 8)
    assert [b["data"] for b in bodies] == [answer] * 8
    for kind in ("adobe_vip", "highlevel"):
        assert token_calls(sims, kind) == 2, kind  # 8 requests x 6 calls: one renewal
    assert issuer(sims, "highlevel").refusals == {}  # no spent refresh token presented


# -- a token endpoint that fails ------------------------------------------------------------


def only_error(body: dict[str, Any], alias: str) -> dict[str, Any]:
    (error,) = [e for e in body["errors"] if e["path"] == [alias]]
    found: dict[str, Any] = error
    return found


def test_token_endpoint_down(sims: Simulators, store: Path) -> None:
    dead = f"http://127.0.0.1:{free_port()}"
    conf = renewing_config(
        sims, store, adobe={"ims_url": dead, "retries": 0}, highlevel={"oauth_url": dead}
    )
    query = BOTH[:-1] + ' eu: orderBySourceId(source: "eu-shop", sourceId: "123") { sourceId } }'
    with gateway_client(settings_of(conf)) as client:
        body = gql(client, query)
    assert body["data"] == {"ad": None, "hl": None, "eu": {"sourceId": "123"}}
    assert codes(body) == ["BACKEND_UNAVAILABLE"] * 2
    error = only_error(body, "ad")
    assert error["message"] == (
        "source 'adobe': the access token cannot be renewed: cannot reach the token "
        "endpoint (ConnectError)"
    )
    assert error["extensions"] == {"code": "BACKEND_UNAVAILABLE", "source": "adobe"}
    assert api_calls(sims, "adobe_vip") == api_calls(sims, "highlevel") == 0


def test_token_endpoint_slow(sims: Simulators, store: Path) -> None:
    conf = renewing_config(sims, store, highlevel={"timeout_s": 0.5, "retries": 0})
    sims.set.faults.set("highlevel", "hang;path=/oauth/token")
    with gateway_client(settings_of(conf)) as client:
        body = gql(client, BOTH)
    assert body["data"] == {"ad": ANSWER["ad"], "hl": None}
    error = only_error(body, "hl")
    assert error["extensions"]["code"] == "BACKEND_UNAVAILABLE"
    assert error["message"].endswith("the token endpoint did not answer in time")
    assert api_calls(sims, "highlevel") == 0


def test_token_endpoint_not_json_and_down_for_a_moment(sims: Simulators, store: Path) -> None:
    sims.set.faults.set("adobe_vip", "garbage;path=/ims/token/v3")
    with gateway_client(settings_of(renewing_config(sims, store))) as client:
        body = gql(client, BOTH)
        assert body["data"] == {"ad": None, "hl": ANSWER["hl"]}
        error = only_error(body, "ad")
        assert error["extensions"] == {"code": "BACKEND_UNAVAILABLE", "source": "adobe"}
        assert error["message"].endswith("answered HTTP 200 with no JSON object")
        assert token_calls(sims, "adobe_vip") == 3  # not a refusal: retried (retries = 2)
        # A 503 from the endpoint is retried as well, and then it answers.
        sims.set.faults.set("adobe_vip", "status=503;times=1;path=/ims/token/v3")
        assert gql(client, BOTH)["data"] == ANSWER


@pytest.mark.parametrize(
    ("kind", "changes", "status", "code"),
    [
        ("adobe_vip", {"ims_client_secret": "wrong-secret-4410"}, 401, "invalid_client"),
        ("adobe_vip", {"ims_client_id": "someone-else"}, 400, "invalid_client"),
        ("highlevel", {"oauth_client_secret": "wrong-secret-4410"}, 401, "invalid_client"),
        ("highlevel", {"oauth_refresh_token": "spent-or-unknown-77"}, 400, "invalid_grant"),
    ],
)
def test_token_endpoint_refuses(
    sims: Simulators,
    store: Path,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    changes: dict[str, str],
    status: int,
    code: str,
) -> None:
    source, alias = ("adobe", "ad") if kind == "adobe_vip" else ("hl-main", "hl")
    if kind == "adobe_vip":
        conf = renewing_config(sims, store, adobe=changes)
    else:
        conf = renewing_config(sims, store, highlevel=changes)
    with caplog.at_level(logging.DEBUG), gateway_client(settings_of(conf)) as client:
        body = gql(client, BOTH)
        later = [gql(client, BOTH) for _ in range(6)]  # more than the breaker's threshold
    assert body["data"][alias] is None
    error = only_error(body, alias)
    assert error["message"] == (
        f"source '{source}': the access token cannot be renewed: the token endpoint "
        f"answered {code} (HTTP {status})"
    )
    assert error["extensions"] == {
        "code": "BACKEND_UNAVAILABLE",
        "source": source,
        "backendCode": code,
    }
    # Every later request is told the same (the breaker stays closed: the backend is
    # fine); a refusal is not retried, and held a while: they did not ask again.
    assert [b["errors"] for b in later] == [body["errors"]] * 6
    assert token_calls(sims, kind) == 1
    assert issuer(sims, kind).refusals == {code: 1}
    for secret in changes.values():
        assert secret not in json.dumps(body) and secret not in caplog.text


# -- rotated refresh tokens survive a restart -------------------------------------------


def test_restart_presents_the_stored_rotated_token(sims: Simulators, store: Path) -> None:
    tokens = issuer(sims, "highlevel")
    settings = settings_of(renewing_config(sims, store))
    with gateway_client(settings) as client:
        assert gql(client, BOTH)["data"] == ANSWER
    first_rotated = tokens.refresh_token
    tokens.expire_all()
    with gateway_client(settings) as client:  # the same config: the spent token in it
        assert gql(client, BOTH)["data"] == ANSWER
    assert tokens.presented == [hl_sim.DEMO_REFRESH_TOKEN, first_rotated]
    assert tokens.refusals == {}
    # Without the file, a restart presents the configured, spent token: locked out.
    store.unlink()
    with gateway_client(settings) as client:
        body = gql(client, BOTH)
    assert only_error(body, "hl")["extensions"]["backendCode"] == "invalid_grant"


def test_a_newly_configured_refresh_token_wins_over_the_stored_lineage(
    sims: Simulators, store: Path
) -> None:
    tokens = issuer(sims, "highlevel")
    with gateway_client(settings_of(renewing_config(sims, store))) as client:
        assert gql(client, BOTH)["data"] == ANSWER
    tokens.refresh_token = "re-authorized-Qm27"  # an operator authorized the app again
    conf = renewing_config(sims, store, highlevel={"oauth_refresh_token": "re-authorized-Qm27"})
    with gateway_client(settings_of(conf)) as client:
        assert gql(client, BOTH)["data"] == ANSWER
    assert tokens.presented[-1] == "re-authorized-Qm27" and tokens.refusals == {}
    (record,) = json.loads(store.read_text()).values()
    assert record["refresh_token"] == tokens.refresh_token


def test_restart_with_redis_shares_the_stored_tokens(sims: Simulators, redis_url: str) -> None:
    tokens = issuer(sims, "highlevel")
    settings = settings_of(renewing_config(sims, None, redis_url=redis_url))
    with gateway_client(settings) as client:
        assert gql(client, BOTH)["data"] == ANSWER
    rotated = tokens.refresh_token
    assert rotated is not None
    sealer = Sealer.configured(CACHE_KEY)
    with redis.Redis.from_url(redis_url) as direct:
        (key,) = direct.keys("gw:cred:hl-main:*refresh")
        sealed = direct.get(key)
        assert rotated.encode() not in sealed
        assert json.loads(sealer.open(key.decode(), sealed) or b"")["refresh_token"] == rotated
        # kept a year without a rotation (HighLevel's life of an unused refresh token)
        assert 364 * 86_400_000 < direct.pttl(key) <= REFRESH_TTL_S * 1000
    with gateway_client(settings) as client:
        # The access token in Redis is still good: the new process asks for none.
        assert gql(client, BOTH)["data"] == ANSWER
        assert token_calls(sims, "highlevel") == token_calls(sims, "adobe_vip") == 1
        tokens.expire_all()
        assert gql(client, BOTH)["data"] == ANSWER
    assert tokens.presented == [hl_sim.DEMO_REFRESH_TOKEN, rotated]
    assert tokens.refusals == {}


def test_two_replicas_with_redis_renew_once_between_them(sims: Simulators, redis_url: str) -> None:
    for kind in ("adobe_vip", "highlevel"):
        issuer(sims, kind).lifetime_s = 1.5
    query, answer = many(sims, 4)
    settings = settings_of(renewing_config(sims, None, redis_url=redis_url))
    with gateway_client(settings) as one, gateway_client(settings) as two:
        assert gql(one, query)["data"] == answer
        assert gql(two, query)["data"] == answer  # the token one renewed, from Redis
        for kind in ("adobe_vip", "highlevel"):
            assert token_calls(sims, kind) == 1
            issuer(sims, kind).lifetime_s = 60.0  # the next tokens outlive the test
        time.sleep(1.4)  # both replicas' tokens run out together
        bodies = at_once([lambda: gql(one, query), lambda: gql(two, query)] * 4)
        assert [b["data"] for b in bodies] == [answer] * 8
        for kind in ("adobe_vip", "highlevel"):
            assert token_calls(sims, kind) == 2, kind
        for kind in ("adobe_vip", "highlevel"):
            issuer(sims, kind).expire_all()  # and both see a 401 at once
        bodies = at_once([lambda: gql(one, query), lambda: gql(two, query)] * 4)
        assert [b["data"] for b in bodies] == [answer] * 8
        for kind in ("adobe_vip", "highlevel"):
            assert token_calls(sims, kind) == 3, kind
    assert issuer(sims, "highlevel").refusals == {}


def test_redis_down_stops_highlevel_renewing_but_not_adobe(
    sims: Simulators, redis_url: str, redis_server: RedisServer
) -> None:
    settings = settings_of(renewing_config(sims, None, redis_url=redis_url))
    with gateway_client(settings) as client:
        redis_server.stop()
        body = gql(client, BOTH)
    assert body["data"] == {"ad": ANSWER["ad"], "hl": None}
    error = only_error(body, "hl")
    assert error["extensions"] == {"code": "BACKEND_UNAVAILABLE", "source": "hl-main"}
    assert (
        "Redis, where the rotating refresh token is kept, cannot be reached" in (error["message"])
    )
    assert token_calls(sims, "highlevel") == 0  # its refresh token is not spent
    assert issuer(sims, "highlevel").refresh_token == hl_sim.DEMO_REFRESH_TOKEN


# -- secrets --------------------------------------------------------------------------------


def test_secrets_never_in_answers_errors_logs_or_raw(
    sims: Simulators, store: Path, caplog: pytest.LogCaptureFixture
) -> None:
    query = BOTH.replace("sourceId }", "sourceId raw }")
    texts = []
    with (
        caplog.at_level(logging.DEBUG),
        gateway_client(settings_of(renewing_config(sims, store))) as client,
    ):
        texts.append(client.post("/graphql", json={"query": query}).text)
        for kind in ("adobe_vip", "highlevel"):
            issuer(sims, kind).expire_all()
        texts.append(client.post("/graphql", json={"query": query}).text)
        sims.set.faults.set("highlevel", "status=401;path=/oauth/token")
        issuer(sims, "highlevel").expire_all()
        texts.append(client.post("/graphql", json={"query": query}).text)
    assert json.loads(texts[0])["data"]["hl"]["raw"]["_id"] == HL_ORDER
    assert codes(json.loads(texts[2])) == ["BACKEND_UNAVAILABLE"]
    secrets = [
        adobe_sim.DEMO_IMS_CLIENT_SECRET,
        hl_sim.DEMO_OAUTH_CLIENT_SECRET,
        hl_sim.DEMO_REFRESH_TOKEN,
        *issuer(sims, "adobe_vip").issued,
        *issuer(sims, "highlevel").issued,
        *issuer(sims, "highlevel").presented,
        str(issuer(sims, "highlevel").refresh_token),
    ]
    assert len(secrets) == 10
    seen = "\n".join(texts) + caplog.text
    assert "renewed" in caplog.text  # the log was captured
    for secret in secrets:
        assert secret not in seen


def test_the_masker_learns_renewed_tokens() -> None:
    from gateway.redact import SecretMasker

    mask = SecretMasker(["configured-secret"])
    mask.add("issued-token-1")
    assert mask("echo issued-token-1 and configured-secret") == "echo [redacted] and [redacted]"
    for n in range(SecretMasker.LEARNED):
        mask.add(f"later-token-{n:02d}")
    assert mask("issued-token-1 later-token-00") == "issued-token-1 [redacted]"  # oldest gone


# -- config, demo, probe --------------------------------------------------------------------

ADOBE = {"kind": "adobe_vip", "base_url": "https://partners.adobe.io"}
HL = {"kind": "highlevel", "base_url": "https://services.leadconnectorhq.com", "location_id": "L"}
HL_OAUTH = {"oauth_client_id": "c", "oauth_client_secret": "s", "oauth_refresh_token": "r"}


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            {**ADOBE, "token": "t", "api_key": "k", "ims_client_id": "c"},
            "sources.s: 'token' and 'ims_client_id' are alternatives: give one of them",
        ),
        (ADOBE, "sources.s: give 'token', or 'ims_client_id' and 'ims_client_secret'"),
        (
            {**ADOBE, "ims_client_id": "c"},
            "sources.s: 'ims_client_secret' is missing: 'ims_client_id' needs it",
        ),
        ({**ADOBE, "token": "t"}, "sources.s: 'api_key' is missing: 'token' needs it"),
        (
            {**HL, "token": "t", **HL_OAUTH},
            "sources.s: 'token' and 'oauth_client_id' are alternatives: give one of them",
        ),
        (
            HL,
            "sources.s: give 'token', or 'oauth_client_id' and 'oauth_client_secret' and "
            "'oauth_refresh_token'",
        ),
        (
            {**HL, **HL_OAUTH, "oauth_refresh_token": None},
            "sources.s: 'oauth_refresh_token' is missing: 'oauth_client_id' needs it",
        ),
        (
            {**HL, **HL_OAUTH},
            "sources.s.token_store: required with oauth_refresh_token unless [cache] backend "
            'is "redis"',
        ),
        (
            {**HL, **HL_OAUTH, "token_store": "/no/such/dir/tokens"},
            "sources.s: 'token_store': its directory does not exist",
        ),
    ],
)
def test_token_and_oauth_keys_are_alternatives(table: dict[str, Any], message: str) -> None:
    from gateway.errors import ConfigError

    table = {k: v for k, v in table.items() if v is not None}
    with pytest.raises(ConfigError) as info:
        settings_from_mapping({"sources": {"s": table}})
    assert str(info.value).startswith(message)


def test_oauth_with_redis_needs_no_token_store(tmp_path: Path) -> None:
    conf = {"sources": {"s": {**HL, **HL_OAUTH}}, "cache": redis_cache("redis://x")}
    settings = settings_from_mapping(conf)
    assert set(settings.secrets()) == {"s", "r", CACHE_KEY}  # masked in logs like them
    adobe = settings_from_mapping(
        {"sources": {"a": {**ADOBE, "ims_client_id": "cid", "ims_client_secret": "sec1"}}}
    ).sources["a"]
    assert adobe.secrets() == ["sec1"]
    assert str(adobe.ims_url) == "https://ims-na1.adobelogin.com/"  # type: ignore[attr-defined]


def test_demo_config_renews_through_the_token_endpoints(tmp_path: Path) -> None:
    from gateway.simulators import demo_config

    conf = demo_config("http://127.0.0.1:9", token_store=str(tmp_path / "t"))
    sources = settings_from_mapping(conf).sources
    assert sources["adobe"].ims_client_id == adobe_sim.DEMO_IMS_CLIENT_ID  # type: ignore[attr-defined]
    assert sources["hl-main"].token_store == str(tmp_path / "t")  # type: ignore[attr-defined]
    assert sources["eu-shop"].token  # type: ignore[attr-defined]
    static = settings_from_mapping(demo_config("http://127.0.0.1:9")).sources
    assert static["adobe"].token == adobe_sim.DEMO_TOKEN  # type: ignore[attr-defined]


def test_probe_credentials_names_the_refusal(sims: Simulators, store: Path) -> None:
    import asyncio

    from gateway.app import build_sources
    from gateway.credentials.probe import probe_credentials

    bad = renewing_config(sims, store, adobe={"ims_client_secret": "nope-1234"})

    async def probe(conf: dict[str, Any]) -> dict[str, str | None]:
        sources = build_sources(settings_of(conf))
        try:
            return {name: await probe_credentials(s) for name, s in sources.items()}
        finally:
            for s in sources.values():
                await s.aclose()

    assert asyncio.run(probe(bad)) == {"adobe": "invalid_client", "hl-main": None, "eu-shop": None}
    dead = renewing_config(sims, store, highlevel={"oauth_url": f"http://127.0.0.1:{free_port()}"})
    assert asyncio.run(probe(dead))["hl-main"] == "cannot reach the token endpoint (ConnectError)"
    assert os.path.exists(store)


def test_a_caller_that_goes_away_does_not_abandon_a_renewal(sims: Simulators, store: Path) -> None:
    """The refresh token is spent as the endpoint answers: the answer must still land."""
    import asyncio

    from gateway.app import build_sources
    from gateway.credentials.renewing import RenewingCredential

    sims.set.faults.set("highlevel", "latency=400;path=/oauth/token")
    tokens = issuer(sims, "highlevel")

    async def scenario() -> str:
        sources = build_sources(settings_of(renewing_config(sims, store)))
        credential = getattr(sources["hl-main"], "credential", None)
        assert isinstance(credential, RenewingCredential)
        try:
            first = asyncio.create_task(credential.token())
            await asyncio.sleep(0.1)
            first.cancel()  # its client disconnected mid-renewal
            with pytest.raises(asyncio.CancelledError):
                await first
            return await credential.token()  # the same renewal, landed
        finally:
            for source in sources.values():
                await source.aclose()

    token = asyncio.run(scenario())
    assert list(tokens.issued) == [token]
    assert token_calls(sims, "highlevel") == 1 and tokens.refusals == {}
    (record,) = json.loads(store.read_text()).values()
    assert record["refresh_token"] == tokens.refresh_token
