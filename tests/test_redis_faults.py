"""Redis going away under a rate-limited backend: the budget's share without Redis, the
way back, and a backend's 429 (a real redis-server, stopped and started again by PID)."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
import redis

from gateway.config import settings_from_mapping
from gateway.errors import BackendRateLimited
from gateway.resilience.budget import LocalBudget, RedisBudget
from gateway.simulators import demo_config
from gateway.state.connection import RedisConnection
from tests.conftest import Simulators, gateway_client, gql
from tests.fleet import Frontend, busiest_window, config_text, highlevel_simulator, serve
from tests.live import live_gateway
from tests.redis_server import RedisServer, redis_cache
from tests.test_cache import STATUS_QUERY, hl_calls, hl_settings
from tests.test_resilience import FakeClock

LIMIT, WINDOW = 100, 10.0
PADDED = 11.0  # the budget's window: 10% longer than the backend's


async def granted(budget: LocalBudget | RedisBudget, most: int) -> int:
    """How many of ``most`` calls the budget lets leave now (none waits)."""
    count = 0
    for _ in range(most):
        try:
            await budget.acquire()
        except BackendRateLimited:
            break
        count += 1
    return count


def test_a_local_budget_split_between_processes() -> None:
    clock = FakeClock()
    budget = LocalBudget("hl-main", LIMIT, WINDOW, 0, clock, parts=lambda: 3)
    assert budget.share == 33
    assert asyncio.run(granted(budget, 100)) == 33
    clock.now += PADDED
    assert asyncio.run(granted(budget, 100)) == 33
    one = LocalBudget("hl-main", 2, WINDOW, 0, clock, parts=lambda: 5)
    assert one.share == 1  # at least one call per window, however many processes


@asynccontextmanager
async def replicas(url: str, clock: FakeClock) -> AsyncIterator[list[RedisBudget]]:
    """Two replicas' connections (not started: the test drives their heartbeats and
    probes) and their budgets of one source."""
    connections = [RedisConnection(url) for _ in range(2)]
    budgets = [
        RedisBudget(c, "hl-main:ns:", LocalBudget("hl-main", LIMIT, WINDOW, 0, clock))
        for c in connections
    ]
    try:
        yield budgets
    finally:
        for c in connections:
            await c.aclose()


async def test_replicas_that_lose_redis_share_what_the_window_had_left(
    redis_server: RedisServer, redis_url: str
) -> None:
    clock = FakeClock()
    async with replicas(redis_url, clock) as (one, two):
        for budget in (one, two, one):  # heartbeats: each sees the other
            await budget.connection.beat()
        assert one.connection.replicas == two.connection.replicas == 2
        assert await granted(one, 30) == 30
        assert await granted(two, 30) == 30
        await one.connection.beat()  # a heartbeat: `one` learns the window holds 60
        assert (one.seen, two.seen) == (60, 60)

        redis_server.stop()
        # The window held 60: the two replicas add 20 each until it has passed, then
        # take 50 each per window (rate_limit / the 2 replicas last seen alive).
        assert await granted(one, 100) == 20
        assert await granted(two, 100) == 20
        assert not one.connection.healthy and not two.connection.healthy
        clock.now += PADDED
        assert await granted(one, 100) == 50
        assert await granted(two, 100) == 50

        # Redis comes back empty. Each replica puts the calls it sent without Redis that
        # are still in the window (its last 50) into the shared window, and for a window
        # a call needs both the shared slot and the replica's own share.
        redis_server.start()
        assert await one.connection.probe() and await two.connection.probe()
        await until(lambda: in_redis(redis_url, budget_calls) == 100)
        assert await granted(one, 100) == 0
        assert await granted(two, 100) == 0


async def test_after_a_restart_redis_is_used_again_within_a_second_and_said_once(
    redis_server: RedisServer, redis_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    connection = RedisConnection(redis_url, probe_s=0.1, heartbeat_s=0.2)
    with caplog.at_level(logging.INFO, logger="gateway.cache"):
        await connection.start()
        try:
            ops = 0

            async def load() -> None:
                # 8 callers at once, as requests would: each failure of theirs from
                # before the return must not mark Redis lost again
                nonlocal ops
                while True:
                    await asyncio.gather(
                        *(
                            connection.run(lambda: connection.client.get("gw:x"), None)
                            for _ in range(8)
                        )
                    )
                    ops += 8
                    await asyncio.sleep(0.01)

            driver = asyncio.create_task(load())
            await until(lambda: ops > 50)
            redis_server.stop()
            await until(lambda: not connection.healthy)
            redis_server.start()
            started = asyncio.get_running_loop().time()
            await until(lambda: connection.healthy)
            back_after = asyncio.get_running_loop().time() - started
            before = ops
            await until(lambda: ops > before + 200)  # a few hundred operations on it again
            driver.cancel()
        finally:
            await connection.aclose()
    assert connection.healthy
    assert back_after < 1.0
    lost = [r for r in caplog.records if "cannot be reached" in r.getMessage()]
    found = [r for r in caplog.records if "answers again" in r.getMessage()]
    assert (len(lost), len(found)) == (1, 1)  # no flapping


async def until(condition: Callable[[], object], deadline_s: float = 10.0) -> None:
    """Poll ``condition`` until it holds (failing after ``deadline_s``)."""
    loop = asyncio.get_running_loop()
    end = loop.time() + deadline_s
    while not condition():
        assert loop.time() < end, "condition not met in time"
        await asyncio.sleep(0.02)


def ask(client: httpx.Client, source_id: str) -> str:
    response = client.post("/graphql", json={"query": STATUS_QUERY, "variables": {"id": source_id}})
    found: str = response.json()["data"]["orderBySourceId"]["sourceId"]
    return found


def in_redis(url: str, command: Callable[[redis.Redis], int]) -> int:
    """One look at Redis on a connection of its own; 0 while it cannot answer."""
    client = redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5)
    try:
        return command(client)
    except redis.RedisError:
        return 0
    finally:
        client.close()


def budget_calls(client: redis.Redis) -> int:
    return sum(int(client.zcard(key)) for key in client.keys("gw:budget:*"))


def replicas_alive(client: redis.Redis) -> int:
    return int(client.zcard("gw:replicas"))


async def test_two_replicas_keep_highlevel_s_limit_across_a_redis_stop_and_start(
    redis_server: RedisServer, redis_url: str, tmp_path: Path
) -> None:
    # Two `gateway serve` processes sharing the budget through Redis, a frontend asking
    # them in turn for 15 orders a second (one HighLevel call each, no cache) against 10
    # a second allowed.
    with highlevel_simulator() as (sim_url, backend, simulators):
        config = config_text(sim_url, redis_cache(redis_url))
        with (
            serve(config, tmp_path, name="one") as one,
            serve(config, tmp_path, name="two") as two,
        ):
            await until(lambda: in_redis(redis_url, replicas_alive) == 2, 30)
            ids = [o["_id"] for o in simulators.data["highlevel"].orders]
            frontend = Frontend([one.url, two.url], ids, rate=15)
            stop = asyncio.Event()
            driving = asyncio.create_task(frontend.run(stop))
            await until(lambda: backend.count() >= 50, 30)
            seen_before = in_redis(redis_url, budget_calls)

            redis_server.stop()
            lost_at = time.monotonic()
            await until(lambda: all(g.log_lines("cannot be reached") for g in (one, two)))
            await until(lambda: time.monotonic() > lost_at + 3)  # 3 s of load without it
            redis_server.start()
            back_at = time.monotonic()
            await until(lambda: in_redis(redis_url, replicas_alive) == 2)
            registered_after = time.monotonic() - back_at
            # the shared window holds calls again: those sent without Redis, put back by
            # each replica when it found Redis, then the new ones
            await until(lambda: in_redis(redis_url, budget_calls) > 0, 20)
            shared_again_after = time.monotonic() - back_at
            await until(lambda: time.monotonic() > back_at + shared_again_after + 1)
            stop.set()
            await driving
            lost = one.log_lines("cannot be reached") + two.log_lines("cannot be reached")
            found = one.log_lines("answers again") + two.log_lines("answers again")
    calls = backend.snapshot()
    print(
        f"HighLevel calls {len(calls)}, busiest 10 s {busiest_window(calls)}, "
        f"429s {sum(1 for _, s in calls if s == 429)}; Redis registered again after "
        f"{registered_after:.2f} s, shared budget used again {shared_again_after:.2f} s "
        f"after its return; answers {len(frontend.outcomes)}: ok {frontend.count('ok')}, "
        f"rate limited {frontend.count('BACKEND_RATE_LIMITED')}"
    )
    assert seen_before >= 50  # the budget was shared through Redis before the stop
    assert [status for _, status in calls if status != 200] == []  # not one 429
    assert busiest_window(calls) <= 100
    assert registered_after < 2.0
    # each replica noticed the loss and the return once each: no flapping
    assert (len(lost), len(found)) == (2, 2), lost + found
    outcomes = {outcome for _, outcome in frontend.outcomes}
    assert outcomes <= {"ok", "BACKEND_RATE_LIMITED"}, outcomes
    assert frontend.count("ok", since=lost_at) > 0  # answers went on without Redis
    assert any(t >= back_at for t, _ in calls)  # and went on after it came back


def test_a_frozen_redis_stalls_no_request_and_is_used_again_when_it_thaws(
    sims: Simulators, redis_server: RedisServer, redis_url: str
) -> None:
    # SIGSTOP: connections are still accepted (the kernel's backlog) but nothing
    # answers. Only the first operation waits (its 0.5 s socket timeout); the rest go on
    # without Redis until the watcher finds it again.
    settings = hl_settings(sims, redis_cache(redis_url), cache_ttl_s=30, rate_limit=100)
    ids = [o["_id"] for o in sims.set.data["highlevel"].orders[:8]]
    process = redis_server.process
    assert process is not None
    with live_gateway(settings) as url, httpx.Client(base_url=url, timeout=10) as client:
        ask(client, ids[0])
        os.kill(process.pid, signal.SIGSTOP)
        try:
            took = []
            for source_id in ids[1:6]:
                start = time.monotonic()
                assert ask(client, source_id) == source_id
                took.append(time.monotonic() - start)
            ready = client.get("/readyz").json()
        finally:
            os.kill(process.pid, signal.SIGCONT)
        thawed = time.monotonic()
        deadline = thawed + 10
        while client.get("/readyz").json()["cache"]["healthy"] is not True:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        used_again_after = time.monotonic() - thawed
        ask(client, ids[6])
        calls = hl_calls(sims)
        ask(client, ids[6])  # from the cache in Redis again
    assert ready["cache"] == {"backend": "redis", "healthy": False}
    assert sum(took) < 2.0, took  # one socket timeout at most, not one per operation
    assert max(took[1:]) < 0.4, took
    assert used_again_after < 2.0
    assert hl_calls(sims) == calls


def test_a_backend_429_closes_the_budget_and_never_opens_the_breaker() -> None:
    # HighLevel's simulator with its real limit and no Retry-After, a gateway whose
    # budget is set too high (200) and whose breaker opens after 2 failures: the 101st
    # call draws a 429, which closes the budget (a second, with no Retry-After) instead
    # of being retried into more 429s or opening the breaker. The gateway's clock does
    # not move, so the budget stays closed for the rest of the test.
    clock = FakeClock()
    with highlevel_simulator() as (sim_url, backend, simulators):
        conf = demo_config(sim_url, ["highlevel"])
        conf["sources"]["hl-main"].update(
            rate_limit=200, rate_wait_s=0, retries=2, breaker_threshold=2
        )
        ids = [o["_id"] for o in simulators.data["highlevel"].orders]
        with gateway_client(settings_from_mapping(conf), clock) as client:
            bodies = [gql(client, STATUS_QUERY, {"id": ids[n % len(ids)]}) for n in range(110)]
            ready = client.get("/readyz")
    statuses = [status for _, status in backend.snapshot()]
    assert statuses == [200] * 100 + [429]
    assert sum(1 for b in bodies if "errors" not in b) == 100
    refused = [b["errors"][0]["extensions"] for b in bodies if "errors" in b]
    assert len(refused) == 10
    assert all(e["code"] == "BACKEND_RATE_LIMITED" and e["retryAfterS"] == 1 for e in refused)
    assert ready.status_code == 200
    assert ready.json()["sources"]["hl-main"]["healthy"] is True


def test_workers_with_the_memory_cache_split_each_budget_and_say_so_once(
    tmp_path: Path,
) -> None:
    # `--workers 2`, memory cache: 160 requests, 8 at a time. Each worker may send 50
    # calls per window, so the backend sees at most 100 and no 429.
    with highlevel_simulator() as (sim_url, backend, simulators):
        ids = [o["_id"] for o in simulators.data["highlevel"].orders]
        with serve(config_text(sim_url, rate_wait_s=0), tmp_path, workers=2) as gateway:

            async def user(client: httpx.AsyncClient, first: int) -> list[str]:
                outcomes = []
                for n in range(first, first + 20):
                    response = await client.post(
                        "/graphql",
                        json={"query": STATUS_QUERY, "variables": {"id": ids[n % len(ids)]}},
                    )
                    errors = response.json().get("errors") or [{"extensions": {"code": "ok"}}]
                    outcomes.append(errors[0]["extensions"]["code"])
                return outcomes

            async def users() -> list[str]:
                async with httpx.AsyncClient(base_url=gateway.url, timeout=30) as client:
                    answers = await asyncio.gather(*(user(client, 20 * i) for i in range(8)))
                return [outcome for outcomes in answers for outcome in outcomes]

            outcomes = asyncio.run(users())
            said = gateway.log_lines("with the memory cache")
    assert len(outcomes) == 160
    assert set(outcomes) <= {"ok", "BACKEND_RATE_LIMITED"}
    assert "BACKEND_RATE_LIMITED" in outcomes  # the budget held, per worker
    statuses = [status for _, status in backend.snapshot()]
    assert 429 not in statuses
    assert busiest_window(backend.snapshot()) <= 100
    assert len(said) == 1
    assert "each worker gets 1/2 of each rate budget (hl-main 50 of 100 calls per 10 s)" in said[0]
    assert 'backend = "redis"' in said[0]
