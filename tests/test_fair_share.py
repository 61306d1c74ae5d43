"""Interactive calls before bulk ones on a rate-limited source: the budget's two classes,
in one process (injected clock) and across replicas (the budget's Lua on a real Redis),
and an export beside a frontend over HighLevel's real limit."""

from __future__ import annotations

import asyncio
import json
from contextlib import AsyncExitStack
from typing import Any

import httpx

from gateway.config import settings_from_mapping
from gateway.errors import BackendRateLimited
from gateway.resilience.budget import BULK, LocalBudget, RedisBudget
from gateway.simulators import demo_config
from gateway.state.connection import RedisConnection
from tests.fleet import busiest_window, highlevel_simulator
from tests.live import live_gateway
from tests.redis_server import redis_cache
from tests.test_resilience import FakeClock

PADDED = 11.0  # a 10 s window, kept 10% longer


async def granted(budget: LocalBudget | RedisBudget, most: int, *, bulk: bool) -> int:
    """How many of ``most`` calls of one class the budget lets leave now (none waits)."""
    token = BULK.set(bulk)
    count = 0
    try:
        for _ in range(most):
            try:
                await budget.acquire()
            except BackendRateLimited:
                break
            count += 1
    finally:
        BULK.reset(token)
    return count


async def test_bulk_alone_uses_the_whole_budget_and_yields_half_to_interactive() -> None:
    clock = FakeClock()
    budget = LocalBudget("hl-main", 100, 10, 0, clock)
    assert await granted(budget, 200, bulk=True) == 100
    clock.now += PADDED
    # interactive traffic present: bulk stops at 50 and the rest is the frontend's
    assert await granted(budget, 1, bulk=False) == 1
    assert await granted(budget, 200, bulk=True) == 50
    assert await granted(budget, 200, bulk=False) == 49
    clock.now += PADDED * 2  # no interactive call for a window: bulk takes all again
    assert await granted(budget, 200, bulk=True) == 100


async def test_a_waiting_interactive_call_gets_the_next_slot_before_bulk() -> None:
    clock = FakeClock()
    budget = LocalBudget("hl-main", 2, 10, 5, clock)
    token = BULK.set(True)
    await budget.acquire()
    clock.now += 3
    await budget.acquire()  # the window is full: its first slot frees 8 s from now
    BULK.reset(token)
    interactive = budget.take(max_wait_s=20)
    assert interactive == 8.0
    clock.now += 8
    # the slot freed: a bulk call asking first is kept off it; the interactive one takes it
    assert budget.take(bulk=True) > 0
    assert budget.take() == 0.0


async def test_the_split_holds_across_replicas_through_redis(redis_url: str) -> None:
    clock = FakeClock()
    connections = [RedisConnection(redis_url) for _ in range(2)]
    one, two = (
        RedisBudget(c, "hl-main:ns:", LocalBudget("hl-main", 10, 60, 0, clock)) for c in connections
    )
    other = RedisBudget(connections[0], "hl-other:ns:", LocalBudget("hl-other", 10, 60, 0, clock))
    try:
        # bulk alone, on another source: the whole budget
        assert await granted(other, 20, bulk=True) == 10
        # an interactive call on one replica: bulk on the other stops at half
        assert await granted(two, 1, bulk=False) == 1
        assert await granted(one, 20, bulk=True) == 5
        assert await granted(two, 20, bulk=False) == 4
    finally:
        for c in connections:
            await c.aclose()


ORDER_QUERY = """query($id: String!) { orderBySourceId(source: "hl-main", sourceId: $id) {
  sourceId customer { email } } }"""
EXPORT_QUERY = "{ orders { nodes { id sourceId lineItems { sku quantity } } } }"


async def test_an_export_beside_a_frontend_takes_no_slot_the_frontend_needs() -> None:
    # HighLevel's real limit; a frontend asks one order and its customer (2 calls) every
    # 0.8 s while an export reads 91 orders with their line items. With bulk_share = 1
    # (no split, as before) the export takes the window's slots and half the frontend's
    # answers fail; with the default 0.5 none does.
    await export_beside_frontend(None)


async def test_the_split_holds_with_the_export_on_another_replica(redis_url: str) -> None:
    # The same through Redis: the frontend asks one replica, the export runs on another.
    await export_beside_frontend(redis_cache(redis_url))


async def export_beside_frontend(cache: dict[str, str] | None) -> None:
    with highlevel_simulator(orders=90) as (sim_url, backend, simulators):
        conf = demo_config(sim_url, ["highlevel"])
        conf["sources"]["hl-main"].update(rate_limit=100, rate_window_s=10, rate_wait_s=2)
        if cache is not None:
            conf["cache"] = cache
        ids = [o["_id"] for o in simulators.data["highlevel"].orders]
        settings = settings_from_mapping(conf)
        async with AsyncExitStack() as stack:
            url = stack.enter_context(live_gateway(settings))
            other = stack.enter_context(live_gateway(settings)) if cache is not None else url
            client = await stack.enter_async_context(httpx.AsyncClient(base_url=url, timeout=60))
            exporter = await stack.enter_async_context(
                httpx.AsyncClient(base_url=other, timeout=60)
            )
            frontend: list[dict[str, Any]] = []
            rows: list[dict[str, Any]] = []
            first = await ask(client, ids[0])  # the frontend is there first
            export = asyncio.create_task(read_export(exporter, rows))
            for n in range(1, 19):
                await asyncio.sleep(0.8)
                frontend.append(await ask(client, ids[n]))
            rows_while_frontend = len(rows)
            calls_while_frontend = len(backend.snapshot())
            await export
            metrics = (await client.get("/metrics")).text
    answers = [first, *frontend]
    complete = [a for a in answers if "errors" not in a and a["data"]["orderBySourceId"]]
    assert len(complete) >= 0.95 * len(answers), answers
    calls = backend.snapshot()
    assert [s for _, s in calls if s == 429] == []
    assert busiest_window(calls) <= 100
    # the export went on meanwhile (its calls) and ended with every order
    assert calls_while_frontend > 2 * len(answers)
    assert 0 < rows_while_frontend <= len(rows) == len(ids)
    assert {r["sourceId"] for r in rows} == set(ids)
    assert 'gateway_backend_budget_wait_seconds_count{class="bulk",source="hl-main"}' in metrics
    assert (
        'gateway_backend_budget_wait_seconds_count{class="interactive",source="hl-main"}' in metrics
    )


async def ask(client: httpx.AsyncClient, source_id: str) -> dict[str, Any]:
    response = await client.post(
        "/graphql", json={"query": ORDER_QUERY, "variables": {"id": source_id}}
    )
    body: dict[str, Any] = response.json()
    return body


async def read_export(client: httpx.AsyncClient, rows: list[dict[str, Any]]) -> None:
    params = {"query": EXPORT_QUERY, "format": "ndjson"}
    async with client.stream("GET", "/export", params=params) as response:
        assert response.status_code == 200
        async for line in response.aiter_lines():
            if line.strip():
                rows.append(json.loads(line))
