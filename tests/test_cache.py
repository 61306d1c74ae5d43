"""Many clients over rate-limited backends: coalescing, the cache (memory and a real
redis-server), stale-if-error, one rate budget shared through Redis, Redis going away."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import httpx
import pytest
import redis
from starlette.testclient import TestClient

from gateway.config import Settings, settings_from_mapping
from gateway.errors import ConfigError
from tests.conftest import Simulators, codes, gateway_client, gql
from tests.live import live_gateway
from tests.redis_server import RedisServer, free_port, redis_cache
from tests.test_resilience import FakeClock

HL_ORDER = "653f5e0cde5a1314e62a837c"
ORDER_QUERY = """query($id: String!) { orderBySourceId(source: "hl-main", sourceId: $id) {
  sourceId status price { total { amount currency } } customer { email phone } } }"""
STATUS_QUERY = """query($id: String!) {
  orderBySourceId(source: "hl-main", sourceId: $id) { sourceId status } }"""


def hl_settings(sims: Simulators, cache: dict[str, Any] | None = None, **source: Any) -> Settings:
    conf = sims.config(["highlevel"], {"hl-main": source})
    if cache is not None:
        conf["cache"] = cache
    return settings_from_mapping(conf)


def hl_calls(sims: Simulators, prefix: str = "") -> int:
    return len(sims.log.of("highlevel", prefix))


def order_ids(sims: Simulators, count: int) -> list[str]:
    return [o["_id"] for o in sims.set.data["highlevel"].orders[:count]]


# -- coalescing ---------------------------------------------------------------------


async def test_fifty_identical_requests_at_once_make_one_backend_call_each(
    sims: Simulators,
) -> None:
    # No cache: 50 clients ask for the same order while the backend takes 300 ms.
    sims.set.faults.set("highlevel", "latency=300")
    with live_gateway(hl_settings(sims)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=30) as client:
            answers = await asyncio.gather(
                *(
                    client.post(
                        "/graphql", json={"query": ORDER_QUERY, "variables": {"id": HL_ORDER}}
                    )
                    for _ in range(50)
                )
            )
    bodies = [a.json() for a in answers]
    assert all(b == bodies[0] for b in bodies)
    order = bodies[0]["data"]["orderBySourceId"]
    assert order["sourceId"] == HL_ORDER and order["customer"]["email"]
    assert hl_calls(sims, "/payments/orders") == 1
    assert hl_calls(sims, "/contacts") == 1


# -- the memory cache ---------------------------------------------------------------


def test_a_cached_order_answers_any_selection_without_a_backend_call(sims: Simulators) -> None:
    with gateway_client(hl_settings(sims, cache_ttl_s=30)) as client:
        first = gql(client, ORDER_QUERY, {"id": HL_ORDER})
        assert hl_calls(sims) == 2  # the order and its contact
        again = gql(client, ORDER_QUERY, {"id": HL_ORDER})
        other = gql(client, STATUS_QUERY, {"id": HL_ORDER})
        listed = gql(client, "{ orders(first: 5) { nodes { sourceId } } }")
        listed_again = gql(client, "{ orders(first: 5) { nodes { sourceId } } }")
    assert again == first and "errors" not in first
    assert other["data"]["orderBySourceId"] == {
        "sourceId": HL_ORDER,
        "status": first["data"]["orderBySourceId"]["status"],
    }
    assert listed_again == listed
    assert hl_calls(sims) == 3  # + one list page; the repeats cost nothing


def test_scopes_and_sources_apply_to_cached_answers(sims: Simulators) -> None:
    conf = sims.config(overrides={"hl-main": {"cache_ttl_s": 30}})
    conf["security"] = {
        "require_auth": True,
        "api_keys": [
            {"name": "all", "key": "k-all-0123456789", "scopes": ["orders:read", "pii:read"]},
            {"name": "no-pii", "key": "k-nopii-0123456789", "scopes": ["orders:read"]},
            {
                "name": "shop",
                "key": "k-shop-0123456789",
                "scopes": ["orders:read", "pii:read"],
                "sources": ["eu-shop"],
            },
        ],
    }
    with gateway_client(settings_from_mapping(conf)) as client:

        def ask(key: str) -> dict[str, Any]:
            response = client.post(
                "/graphql",
                json={"query": ORDER_QUERY, "variables": {"id": HL_ORDER}},
                headers={"X-Api-Key": key},
            )
            body: dict[str, Any] = response.json()
            return body

        full = ask("k-all-0123456789")
        assert full["data"]["orderBySourceId"]["customer"]["email"]
        calls = hl_calls(sims)
        masked = ask("k-nopii-0123456789")
        shop = ask("k-shop-0123456789")
    assert hl_calls(sims) == calls  # both answered from the cache
    assert masked["data"]["orderBySourceId"]["customer"] == {"email": None, "phone": None}
    assert "FORBIDDEN" in codes(masked)
    assert shop["data"]["orderBySourceId"] is None
    assert codes(shop) == ["BAD_USER_INPUT"]  # no source of that name, for this key
    assert "hl-main" in shop["errors"][0]["message"]


def test_an_entry_older_than_its_ttl_is_fetched_again(sims: Simulators) -> None:
    clock = FakeClock()
    with gateway_client(hl_settings(sims, cache_ttl_s=0.5), clock) as client:
        gql(client, STATUS_QUERY, {"id": HL_ORDER})
        clock.now += 0.4
        gql(client, STATUS_QUERY, {"id": HL_ORDER})
        assert hl_calls(sims) == 1
        clock.now += 0.2
        gql(client, STATUS_QUERY, {"id": HL_ORDER})
    assert hl_calls(sims) == 2


def cache_counts(client: TestClient) -> dict[str, float]:
    """gateway_cache_requests_total of hl-main by result, from /metrics."""
    counts = {"hit": 0.0, "miss": 0.0, "stale": 0.0}
    for line in client.get("/metrics").text.splitlines():
        if line.startswith("gateway_cache_requests_total{") and 'source="hl-main"' in line:
            result = line.split('result="')[1].split('"')[0]
            counts[result] = float(line.rsplit(" ", 1)[1])
    return counts


def test_stale_copy_answers_a_failing_backend_with_a_warning(sims: Simulators) -> None:
    settings = hl_settings(sims, cache_ttl_s=0.5, stale_if_error_s=600, retries=0)
    clock = FakeClock()
    with gateway_client(settings, clock) as client:
        before = cache_counts(client)
        fresh = gql(client, ORDER_QUERY, {"id": HL_ORDER})
        gql(client, ORDER_QUERY, {"id": HL_ORDER})
        clock.now += 3
        sims.set.faults.set("highlevel", "status=503")
        stale = gql(client, ORDER_QUERY, {"id": HL_ORDER})
        missing = gql(client, STATUS_QUERY, {"id": order_ids(sims, 3)[2]})
        after = cache_counts(client)
    # order and contact: missed, then hit, then stale; the uncached order missed
    assert {k: after[k] - before[k] for k in after} == {"hit": 2, "miss": 3, "stale": 2}
    assert stale["data"] == fresh["data"]
    assert "errors" not in stale
    (warning,) = stale["extensions"]["warnings"]
    assert warning["code"] == "STALE" and warning["source"] == "hl-main"
    assert warning["ageS"] == 3
    # an order never cached has no copy to fall back on
    assert codes(missing) == ["BACKEND_UNAVAILABLE"]
    assert "extensions" not in missing


def test_no_stale_copy_for_a_refusal_or_past_the_window(sims: Simulators) -> None:
    settings = hl_settings(sims, cache_ttl_s=0.3, stale_if_error_s=0.3, retries=0)
    clock = FakeClock()
    with gateway_client(settings, clock) as client:
        gql(client, STATUS_QUERY, {"id": HL_ORDER})
        clock.now += 0.7
        sims.set.faults.set("highlevel", "status=503")
        late = gql(client, STATUS_QUERY, {"id": HL_ORDER})
    assert codes(late) == ["BACKEND_UNAVAILABLE"]


def test_budget_spent_answers_from_a_stale_copy_or_rate_limited(sims: Simulators) -> None:
    settings = hl_settings(
        sims, cache_ttl_s=0.3, stale_if_error_s=600, rate_limit=1, rate_window_s=60, rate_wait_s=0
    )
    clock = FakeClock()
    with gateway_client(settings, clock) as client:
        gql(client, STATUS_QUERY, {"id": HL_ORDER})
        clock.now += 0.5
        stale = gql(client, STATUS_QUERY, {"id": HL_ORDER})
        refused = gql(client, STATUS_QUERY, {"id": order_ids(sims, 3)[2]})
    assert hl_calls(sims) == 1
    assert stale["data"]["orderBySourceId"]["sourceId"] == HL_ORDER
    assert stale["extensions"]["warnings"][0]["code"] == "STALE"
    (error,) = refused["errors"]
    assert error["extensions"]["code"] == "BACKEND_RATE_LIMITED"
    assert error["extensions"]["source"] == "hl-main"
    assert 50 <= error["extensions"]["retryAfterS"] <= 67
    assert refused["data"]["orderBySourceId"] is None


def test_the_memory_store_is_bounded(sims: Simulators) -> None:
    settings = hl_settings(sims, {"backend": "memory", "max_entries": 3}, cache_ttl_s=30)
    ids = order_ids(sims, 5)
    with gateway_client(settings) as client:
        for source_id in ids:
            gql(client, STATUS_QUERY, {"id": source_id})
        assert len(client.app.state.cache) == 3  # type: ignore[attr-defined]
        gql(client, STATUS_QUERY, {"id": ids[-1]})  # still there
        gql(client, STATUS_QUERY, {"id": ids[0]})  # pushed out: fetched again
    assert hl_calls(sims) == 6


def test_cache_config_errors_name_the_key(sims: Simulators) -> None:
    with pytest.raises(ConfigError, match=r"^sources\.hl-main\.cache_ttl_s: .*greater than"):
        hl_settings(sims, cache_ttl_s=-1)
    with pytest.raises(ConfigError, match=r"^sources\.hl-main\.stale_if_error_s: "):
        hl_settings(sims, stale_if_error_s=-5)
    with pytest.raises(ConfigError, match=r"^cache: .*needs url"):
        hl_settings(sims, {"backend": "redis"})
    with pytest.raises(ConfigError, match=r"^cache\.backend: "):
        hl_settings(sims, {"backend": "memcached"})


# -- Redis ----------------------------------------------------------------------------


def test_replicas_share_cached_answers_through_redis(sims: Simulators, redis_url: str) -> None:
    settings = hl_settings(sims, redis_cache(redis_url), cache_ttl_s=30)
    with gateway_client(settings) as one, gateway_client(settings) as two:
        first = gql(one, ORDER_QUERY, {"id": HL_ORDER})
        calls = hl_calls(sims)
        second = gql(two, ORDER_QUERY, {"id": HL_ORDER})
    assert second == first and calls == 2
    assert hl_calls(sims) == 2


def test_an_unreadable_cached_entry_is_a_miss(
    sims: Simulators, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = hl_settings(sims, redis_cache(redis_url), cache_ttl_s=30)
    direct = redis.Redis.from_url(redis_url, decode_responses=True)
    with gateway_client(settings) as client:
        first = gql(client, STATUS_QUERY, {"id": HL_ORDER})
        keys = direct.keys("gw:hl-main:*")
        assert len(keys) == 1 and HL_ORDER not in keys[0]  # names hold no ids, only digests
        direct.set(keys[0], "not an entry")
        with caplog.at_level(logging.WARNING, "gateway.cache"):
            again = gql(client, STATUS_QUERY, {"id": HL_ORDER})
    assert again == first
    assert hl_calls(sims) == 2
    assert any("does not open with encryption_key" in r.getMessage() for r in caplog.records)
    direct.close()


def test_replicas_share_one_rate_budget(sims: Simulators, redis_url: str) -> None:
    settings = hl_settings(
        sims,
        redis_cache(redis_url),
        rate_limit=3,
        rate_window_s=60,
        rate_wait_s=0,
    )
    ids = order_ids(sims, 6)
    with gateway_client(settings) as one, gateway_client(settings) as two:
        bodies = [
            gql(client, STATUS_QUERY, {"id": source_id})
            for client, source_id in zip([one, two] * 3, ids, strict=True)
        ]
    answered = [b for b in bodies if "errors" not in b]
    refused = [b for b in bodies if "errors" in b]
    assert len(answered) == 3 and len(refused) == 3
    assert all(codes(b) == ["BACKEND_RATE_LIMITED"] for b in refused)
    assert hl_calls(sims) == 3


async def test_a_429_storm_closes_the_shared_budget_for_every_replica(
    sims: Simulators, redis_url: str
) -> None:
    sims.set.faults.set("highlevel", "rate-limit=5")
    settings = hl_settings(sims, redis_cache(redis_url), rate_limit=100, rate_wait_s=1, retries=2)
    ids = order_ids(sims, 20)
    with live_gateway(settings) as one, live_gateway(settings) as two:
        async with httpx.AsyncClient(timeout=30) as client:

            async def ask(url: str, source_id: str) -> dict[str, Any]:
                response = await client.post(
                    f"{url}/graphql", json={"query": STATUS_QUERY, "variables": {"id": source_id}}
                )
                body: dict[str, Any] = response.json()
                return body

            first = await ask(one, ids[0])
            rest = await asyncio.gather(
                *(ask(url, i) for url, i in zip([one, two] * 10, ids[1:] + ids[:1], strict=True))
            )
    assert hl_calls(sims) == 1  # the one 429; nobody retried or called during its 5 s
    for body in [first, *rest]:
        (error,) = body["errors"]
        assert error["extensions"]["code"] == "BACKEND_RATE_LIMITED"
        assert 4 <= error["extensions"]["retryAfterS"] <= 5


def test_redis_unreachable_at_start_answers_without_it(
    sims: Simulators, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"redis://127.0.0.1:{free_port()}/0"
    settings = hl_settings(sims, redis_cache(url), cache_ttl_s=30)
    with caplog.at_level(logging.INFO), gateway_client(settings) as client:
        bodies = [gql(client, STATUS_QUERY, {"id": HL_ORDER}) for _ in range(3)]
        ready = client.get("/readyz")
    assert all(b["data"]["orderBySourceId"]["sourceId"] == HL_ORDER for b in bodies)
    assert hl_calls(sims) == 3  # no cache to answer from
    assert ready.status_code == 200
    assert ready.json()["cache"] == {"backend": "redis", "healthy": False}
    down = [r for r in caplog.records if "cannot be reached" in r.getMessage()]
    assert len(down) == 1 and "127.0.0.1" in down[0].getMessage()


def test_redis_going_away_and_coming_back(
    sims: Simulators, redis_server: RedisServer, redis_url: str
) -> None:
    settings = hl_settings(sims, redis_cache(redis_url), cache_ttl_s=30, rate_limit=100)
    ids = order_ids(sims, 3)
    with gateway_client(settings) as client:
        gql(client, STATUS_QUERY, {"id": ids[0]})
        assert client.get("/readyz").json()["cache"]["healthy"] is True
        redis_server.stop()
        during = gql(client, STATUS_QUERY, {"id": ids[1]})
        assert during["data"]["orderBySourceId"]["sourceId"] == ids[1]
        assert client.get("/readyz").json()["cache"]["healthy"] is False
        redis_server.start()
        time.sleep(1.1)  # a failed Redis is asked again a second later
        gql(client, STATUS_QUERY, {"id": ids[2]})
        assert client.get("/readyz").json()["cache"]["healthy"] is True
        calls = hl_calls(sims)
        gql(client, STATUS_QUERY, {"id": ids[2]})
    assert hl_calls(sims) == calls == 3  # used again without a restart


# -- disconnects ----------------------------------------------------------------------


async def test_a_client_that_goes_away_stops_its_request(sims: Simulators) -> None:
    # The order takes 1 s; the client gives up after 0.2 s. Served to the end, the request
    # would then ask for the order's contact: it must not.
    sims.set.faults.set("highlevel", "latency=1000;path=/payments/orders")
    with live_gateway(hl_settings(sims)) as url:
        async with httpx.AsyncClient(base_url=url, timeout=0.2) as client:
            with pytest.raises(httpx.TimeoutException):
                await client.post(
                    "/graphql", json={"query": ORDER_QUERY, "variables": {"id": HL_ORDER}}
                )
        await asyncio.sleep(1.5)
        assert hl_calls(sims, "/payments/orders") == 1
        assert hl_calls(sims, "/contacts") == 0
        # the gateway still serves others
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            response = await client.post(
                "/graphql", json={"query": ORDER_QUERY, "variables": {"id": HL_ORDER}}
            )
    assert response.json()["data"]["orderBySourceId"]["customer"]["email"]


async def test_a_shared_call_goes_on_for_the_client_that_stays(sims: Simulators) -> None:
    sims.set.faults.set("highlevel", "latency=600;path=/payments/orders")
    with live_gateway(hl_settings(sims)) as url:
        async with (
            httpx.AsyncClient(base_url=url, timeout=0.2) as leaving,
            httpx.AsyncClient(base_url=url, timeout=10) as staying,
        ):
            payload = {"query": ORDER_QUERY, "variables": {"id": HL_ORDER}}
            gone, stayed = await asyncio.gather(
                leaving.post("/graphql", json=payload),
                staying.post("/graphql", json=payload),
                return_exceptions=True,
            )
    assert isinstance(gone, httpx.TimeoutException)
    assert isinstance(stayed, httpx.Response)
    order = stayed.json()["data"]["orderBySourceId"]
    assert order["sourceId"] == HL_ORDER and order["customer"]["email"]
    assert hl_calls(sims, "/payments/orders") == 1  # one call, whoever started it
    assert hl_calls(sims, "/contacts") == 1


async def test_an_abandoned_trial_call_leaves_the_circuit_usable(sims: Simulators) -> None:
    settings = hl_settings(sims, breaker_threshold=1, breaker_cooldown_s=0.2, retries=0)
    payload = {"query": STATUS_QUERY, "variables": {"id": HL_ORDER}}
    with live_gateway(settings) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            sims.set.faults.set("highlevel", "status=503;times=1")
            failed = (await client.post("/graphql", json=payload)).json()
            assert codes(failed) == ["BACKEND_UNAVAILABLE"]  # the circuit opens
            await asyncio.sleep(0.3)
            sims.set.faults.set("highlevel", "latency=1000;times=1")
            with pytest.raises(httpx.TimeoutException):  # the trial call's client leaves
                await client.post("/graphql", json=payload, timeout=0.2)
            await asyncio.sleep(0.3)
            answered = (await client.post("/graphql", json=payload)).json()
    assert answered["data"]["orderBySourceId"]["sourceId"] == HL_ORDER, answered


def test_not_found_is_kept_no_longer_than_the_ttl(sims: Simulators) -> None:
    settings = hl_settings(sims, cache_ttl_s=0.4, stale_if_error_s=600, retries=0)
    clock = FakeClock()
    with gateway_client(settings, clock) as client:
        first = gql(client, STATUS_QUERY, {"id": "no-such-order"})
        again = gql(client, STATUS_QUERY, {"id": "no-such-order"})
        assert hl_calls(sims) == 1
        clock.now += 0.5
        sims.set.faults.set("highlevel", "status=503")
        later = gql(client, STATUS_QUERY, {"id": "no-such-order"})
    assert codes(first) == codes(again) == ["NOT_FOUND"]
    assert codes(later) == ["BACKEND_UNAVAILABLE"]  # not a stale NOT_FOUND


async def test_the_memory_store_is_bounded_in_bytes_too() -> None:
    from gateway.cache.memory import MemoryStore

    store = MemoryStore(1000, max_bytes=1600)
    await store.set("huge", b"x" * 101, 60)  # over a sixteenth: not kept
    assert await store.get("huge") is None
    for i in range(20):
        await store.set(f"k{i}", bytes([i]) * 100, 60)
    assert store.size == 1600 and len(store) == 16
    assert await store.get("k3") is None and await store.get("k4") == bytes([4]) * 100
    await store.set("k4", b"y" * 50, 60)  # replaced, not counted twice
    assert store.size == 1550 and await store.get("k4") == b"y" * 50
