"""Redis going away under a rate-limited backend: the budget's share without Redis, the
way back, and a backend's 429 (a real redis-server, stopped and started again by PID)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import redis

from gateway.cache.budget import LocalBudget, RedisBudget
from gateway.cache.connection import RedisConnection
from gateway.errors import BackendRateLimited
from tests.fleet import Frontend, busiest_window, config_text, highlevel_simulator, serve
from tests.redis_server import RedisServer
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

        # Redis comes back empty. For a window, a call needs both the shared slot and
        # the replica's own share, since the shared window knows nothing of the 140
        # calls sent without it (the last 100 of them still in the window).
        redis_server.start()
        assert await one.connection.probe() and await two.connection.probe()
        assert await granted(one, 100) == 0
        assert await granted(two, 100) == 0
        clock.now += PADDED
        # and the window after that: one shared budget again, whoever asks
        assert await granted(one, 100) == 100
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
        config = config_text(sim_url, {"backend": "redis", "url": redis_url})
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
            # the shared budget takes calls again once the calls sent without it have
            # left the window (11 s after the loss at most)
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
    assert frontend.count("ok", since=back_at + shared_again_after) > 0
