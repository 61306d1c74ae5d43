"""Per-client quotas over HTTP: API keys, JWT subjects and anonymous addresses, refused
with 429 before the body is read, shared through a real Redis, and their metric."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import jwt
import pytest
from starlette.testclient import TestClient

from gateway.config import Settings, settings_from_mapping
from gateway.errors import ConfigError
from gateway.quota.clients import client_address
from gateway.quota.rate import LocalQuota
from gateway.quota.shared import RedisQuota
from gateway.state.connection import RedisConnection
from tests.conftest import Simulators, gateway_client
from tests.live import live_gateway
from tests.redis_server import RedisServer, redis_cache
from tests.telemetry_helpers import delta, parse, scrape

NOISY = "noisy-key-0123456789"
QUIET = "quiet-key-0123456789"
SECRET = "jwt-shared-secret-0123456789-0123456789"
ONE = '{ orderBySourceId(source: "eu-shop", sourceId: "123") { number } }'
EXPORT = "{ orders { nodes { id } } }"


class FakeClock:
    """Time that moves only when a test moves it."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def wall(self) -> datetime:
        return datetime(2026, 12, 1, tzinfo=UTC) + timedelta(seconds=self.now)

    async def sleep(self, seconds: float) -> None:
        self.now += seconds
        await asyncio.sleep(0)


def quota_settings(
    sims: Simulators,
    *,
    per_client: int = 0,
    cache: dict[str, Any] | None = None,
    server: dict[str, Any] | None = None,
) -> Settings:
    conf = sims.config(["hamgam"])
    conf["security"] = {
        "require_auth": False,
        "anonymous_scopes": ["orders:read"],
        "api_keys": [
            {"name": "noisy", "key": NOISY, "scopes": ["orders:read"], "requests_per_minute": 3},
            {"name": "quiet", "key": QUIET, "scopes": ["orders:read"], "requests_per_minute": 100},
        ],
        "jwt": {"algorithm": "HS256", "secret": SECRET},
        "limits": {"requests_per_minute_per_client": per_client},
    }
    if cache is not None:
        conf["cache"] = cache
    if server is not None:
        conf["server"] = server
    return settings_from_mapping(conf)


def bearer(key: str) -> dict[str, str]:
    return {"authorization": f"Bearer {key}"}


def token(sub: str | None) -> str:
    claims: dict[str, Any] = {"scope": "orders:read", "exp": int(time.time()) + 600}
    if sub is not None:
        claims["sub"] = sub
    return jwt.encode(claims, SECRET, algorithm="HS256")


def ask(client: TestClient | httpx.Client, headers: dict[str, str] | None = None) -> httpx.Response:
    response: httpx.Response = client.post("/graphql", json={"query": ONE}, headers=headers)
    return response


def answered(response: httpx.Response) -> bool:
    """The order came back (status 200, its number, no error)."""
    if response.status_code != 200:
        return False
    body = response.json()
    return "errors" not in body and body["data"]["orderBySourceId"]["number"] == "HG-2024-000123"


def refused_for(response: httpx.Response) -> int:
    """The wait a 429 CLIENT_RATE_LIMITED names; its header and body must agree."""
    assert response.status_code == 429, response.text
    body = response.json()
    assert "data" not in body
    [error] = body["errors"]
    assert error["extensions"]["code"] == "CLIENT_RATE_LIMITED"
    wait = error["extensions"]["retryAfterS"]
    assert response.headers["retry-after"] == str(wait)
    assert isinstance(wait, int) and wait >= 1
    return wait


def hamgam_calls(sims: Simulators) -> int:
    return len(sims.log.of("hamgam"))


@contextmanager
def peers(url: str, *addresses: str) -> Iterator[list[httpx.Client]]:
    """HTTP clients of the live gateway, each connecting from its own loopback address
    (all of 127.0.0.0/8 is this machine), so the gateway sees distinct peers."""
    clients = [
        httpx.Client(base_url=url, timeout=10, transport=httpx.HTTPTransport(local_address=address))
        for address in addresses
    ]
    try:
        yield clients
    finally:
        for client in clients:
            client.close()


def test_a_key_over_its_quota_gets_429_while_another_key_answers(sims: Simulators) -> None:
    clock = FakeClock()
    with gateway_client(quota_settings(sims), clock) as client:
        before = scrape(client)
        noisy = [ask(client, bearer(NOISY)) for _ in range(5)]
        quiet = [ask(client, bearer(QUIET)) for _ in range(10)]
        after = scrape(client)
        # three at once, then one every 20 s (60 s / 3): the fourth waits 20 s
        assert [answered(r) for r in noisy] == [True, True, True, False, False]
        assert [refused_for(r) for r in noisy[3:]] == [20, 20]
        assert all(answered(r) for r in quiet)
        assert hamgam_calls(sims) == 3 + 10  # a refused request reached no backend
        clock.now += 15.5
        assert refused_for(ask(client, bearer(NOISY))) == 5  # 4.5 s, rounded up
        clock.now += 4.5
        assert answered(ask(client, bearer(NOISY)))
        assert refused_for(ask(client, bearer(NOISY))) == 20
        clock.now += 60  # a minute's quiet: the whole allowance again
        assert [answered(ask(client, bearer(NOISY))) for _ in range(4)] == [True] * 3 + [False]
    total = "gateway_client_requests_total"
    assert delta(before, after, total, client="noisy", outcome="ok") == 3
    assert delta(before, after, total, client="noisy", outcome="limited") == 2
    assert delta(before, after, total, client="quiet", outcome="ok") == 10
    assert delta(before, after, total, client="quiet", outcome="limited") == 0
    # a refused request is an error of gateway_requests_total, as any refusal is
    assert (
        delta(before, after, "gateway_requests_total", operation="anonymous", outcome="error") == 2
    )


def test_refusing_comes_before_the_body_is_read(sims: Simulators) -> None:
    settings = quota_settings(sims)
    with gateway_client(settings, FakeClock()) as client:
        assert all(answered(ask(client, bearer(NOISY))) for _ in range(3))
        calls = hamgam_calls(sims)
        broken = {**bearer(NOISY), "content-type": "application/json"}
        # a body that is not JSON, a GET, an export, a document that does not parse
        refused = [
            client.post("/graphql", content=b"{not json", headers=broken),
            client.get("/graphql", params={"query": ONE}, headers=bearer(NOISY)),
            client.post("/export", content=b"{not json", headers=broken),
            client.get("/export", params={"query": EXPORT}, headers=bearer(NOISY)),
            client.post("/graphql", json={"query": "{ orders {"}, headers=bearer(NOISY)),
        ]
        assert [refused_for(r) for r in refused] == [20] * 5
        assert hamgam_calls(sims) == calls
        # the same broken body from a key with quota left is read, and refused for itself
        parse = client.post("/graphql", content=b"{not json", headers={**broken, **bearer(QUIET)})
        assert parse.status_code == 400
        assert parse.json()["errors"][0]["extensions"]["code"] == "GRAPHQL_PARSE_FAILED"
        # and a wrong credential is 401 first: no quota is counted for nobody
        assert (
            client.post("/graphql", json={"query": ONE}, headers=bearer("x" * 20)).status_code
            == 401
        )


def test_jwt_subjects_and_anonymous_addresses_have_a_quota_each(sims: Simulators) -> None:
    settings = quota_settings(sims, per_client=2)
    with (
        live_gateway(settings, FakeClock()) as url,
        peers(url, "127.0.0.2", "127.0.0.3") as (
            a,
            b,
        ),
    ):
        before = parse(a.get("/metrics").text)
        alice, bob = bearer(token("alice")), bearer(token("bob"))
        assert [answered(ask(a, alice)) for _ in range(3)] == [True, True, False]
        assert answered(ask(a, bob))  # another subject, from the same address
        # a subject is one client wherever it calls from
        assert refused_for(ask(b, alice)) == 30  # 2 a minute: one every 30 s
        # anonymous: by address
        assert [answered(ask(a)) for _ in range(3)] == [True, True, False]
        assert answered(ask(b))
        # a token without `sub` is counted by its address, as anonymous callers are
        assert [answered(ask(b, bearer(token(None)))) for _ in range(2)] == [True, False]
        after = parse(a.get("/metrics").text)
    total = "gateway_client_requests_total"
    assert delta(before, after, total, client="jwt", outcome="ok") == 4
    assert delta(before, after, total, client="jwt", outcome="limited") == 3
    assert delta(before, after, total, client="anonymous", outcome="ok") == 3
    assert delta(before, after, total, client="anonymous", outcome="limited") == 1


def test_an_ipv6_client_is_counted_by_its_64() -> None:
    def scope(host: str) -> dict[str, Any]:
        return {"client": (host, 40000)}

    # a host is usually given a /64 and may use any address in it
    assert client_address(scope("2001:db8::1")) == "2001:db8::/64"
    assert client_address(scope("2001:db8::ffff:2")) == "2001:db8::/64"
    assert client_address(scope("2001:db8:0:1::1")) == "2001:db8:0:1::/64"
    assert client_address(scope("::ffff:198.51.100.7")) == "198.51.100.7"
    assert client_address(scope("198.51.100.7")) == "198.51.100.7"
    assert client_address({"client": None}) == "unknown"


def test_x_forwarded_for_is_believed_only_from_a_trusted_proxy(sims: Simulators) -> None:
    # 127.0.0.2 plays the reverse proxy; 127.0.0.3 is any other peer
    settings = quota_settings(sims, per_client=1, server={"trusted_proxies": ["127.0.0.2/32"]})
    with (
        live_gateway(settings, FakeClock()) as url,
        peers(url, "127.0.0.2", "127.0.0.3") as (
            proxy,
            stranger,
        ),
    ):

        def via(client: httpx.Client, forwarded: str) -> httpx.Response:
            return ask(client, {"x-forwarded-for": forwarded})

        assert answered(via(proxy, "198.51.100.1"))
        assert refused_for(via(proxy, "198.51.100.1")) == 60
        assert answered(via(proxy, "198.51.100.2"))  # another client behind the proxy
        # what the client wrote before the proxy's own entry changes nothing
        assert refused_for(via(proxy, "192.0.2.77, 198.51.100.1")) == 60
        # the client is the last address that is not a trusted proxy
        assert refused_for(via(proxy, "198.51.100.2, 127.0.0.2")) == 60
        # from a peer that is no trusted proxy the header is not believed: a spoof is
        # counted as the peer itself
        assert answered(via(stranger, "198.51.100.3"))
        assert refused_for(via(stranger, "198.51.100.4")) == 60
        assert refused_for(ask(stranger)) == 60


def test_replicas_share_one_quota_through_redis(
    sims: Simulators, redis_server: RedisServer, redis_url: str
) -> None:
    settings = quota_settings(sims, cache=redis_cache(redis_url))
    # Redis's own clock: one window for both, whatever their clocks say
    with gateway_client(settings) as a, gateway_client(settings) as b:
        first = [ask(a, bearer(NOISY)), ask(b, bearer(NOISY)), ask(a, bearer(NOISY))]
        over = [ask(b, bearer(NOISY)), ask(a, bearer(NOISY))]
        quiet = [ask(b, bearer(QUIET)) for _ in range(5)]
    assert all(answered(r) for r in first)
    assert all(19 <= refused_for(r) <= 20 for r in over)
    assert all(answered(r) for r in quiet)
    names = redis_server.command("KEYS", "gw:quota:*").decode()
    # one key per client, named by a digest: neither "noisy" nor "quiet" is in Redis
    assert names.count("gw:quota:") == 2 and "noisy" not in names and "quiet" not in names


def test_redis_going_away_falls_back_to_this_process(
    sims: Simulators, redis_server: RedisServer, redis_url: str
) -> None:
    settings = quota_settings(sims, cache=redis_cache(redis_url))
    with gateway_client(settings, FakeClock()) as client:
        assert answered(ask(client, bearer(NOISY)))
        redis_server.stop()
        # this process's own table: a whole allowance of its own, and never a 500
        answers = [ask(client, bearer(NOISY)) for _ in range(4)]
        assert [answered(r) for r in answers] == [True, True, True, False]
        assert refused_for(answers[-1]) == 20
        assert all(answered(ask(client, bearer(QUIET))) for _ in range(3))


async def test_redis_and_this_process_give_the_same_answers(redis_url: str) -> None:
    clock = FakeClock()
    store = RedisConnection(redis_url)
    local, shared = LocalQuota(clock), RedisQuota(store, LocalQuota(clock), clock)
    answers: dict[str, list[float]] = {"local": [], "redis": []}
    try:
        # 7 a minute: an interval that is no whole number of microseconds
        for step in [0, 0, 0, 0, 0, 0, 0, 0, 3, 5.57, 0.01, 0, 30, 60, 0]:
            clock.now += step
            answers["local"].append(local.take("c", 7))
            answers["redis"].append(await shared.take("c", 7))
    finally:
        await store.aclose()
    assert answers["local"] == answers["redis"]
    interval = 60 / 7
    expected = [0.0] * 7  # seven at once
    expected += [interval, interval - 3, interval - 8.57]  # then one every 8.57 s
    expected += [0.0, 2 * interval - 8.58, 0.0, 0.0, 0.0]
    assert answers["local"] == [pytest.approx(e, abs=1e-5) for e in expected]
    assert store.healthy


def test_the_table_of_clients_is_bounded() -> None:
    clock = FakeClock()
    quota = LocalQuota(clock, max_clients=3)
    for client in "abcde":
        assert quota.take(client, 10) == 0
    assert len(quota) == 3
    assert quota.take("e", 1) > 0  # the newest are kept
    clock.now += 60
    quota.take("f", 10)
    assert len(quota) == 1  # the others' allowances are whole again: forgotten


def test_quota_config_errors_name_the_key(sims: Simulators) -> None:
    with pytest.raises(ConfigError, match=r"^server.trusted_proxies: .*'proxy.local'"):
        quota_settings(sims, server={"trusted_proxies": ["proxy.local"]})
    conf = sims.config(["hamgam"])
    conf["security"] = {"api_keys": [{"name": "k", "key": "k" * 20, "requests_per_minute": -1}]}
    with pytest.raises(ConfigError, match=r"^security.api_keys.0.requests_per_minute: "):
        settings_from_mapping(conf)
    conf["security"] = {"limits": {"requests_per_minute_per_client": -5}}
    with pytest.raises(ConfigError, match=r"limits.requests_per_minute_per_client: "):
        settings_from_mapping(conf)
