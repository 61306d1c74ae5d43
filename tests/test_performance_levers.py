"""The performance levers change cost, never answers; backend calls stay at the minimum."""

from __future__ import annotations

import gc
from collections import Counter
from typing import Any

from gateway import domain
from gateway.cli import tune_gc
from gateway.config import PerformanceSettings, settings_from_mapping
from gateway.context import RequestContext
from gateway.loaders import Loaders
from gateway.schema.executor import GatewayExecutor
from tests.conftest import Simulators, gateway_client, gql

ADOBE_50 = """{ orders(first: 50, filter: {sources: ["adobe"]}) {
  nodes { sourceId price { total { amount } } customer { company email } } } }"""


def _with(sims: Simulators, **performance: Any) -> Any:
    conf = sims.config()
    conf["performance"] = performance
    return settings_from_mapping(conf)


def _customer_gets(sims: Simulators) -> list[str]:
    return [e.path for e in sims.log.of("adobe_vip", "/v3/customers/") if e.path.count("/") == 3]


def test_every_lever_setting_gives_the_same_answer(sims: Simulators) -> None:
    with gateway_client(sims.settings()) as client:
        fast = gql(client, ADOBE_50)
    for transport in ("httpx", "httpx-aiohttp"):
        slow = _with(sims, http_transport=transport, query_caches=False, loaders=False)
        with gateway_client(slow) as client:
            assert gql(client, ADOBE_50) == fast
    assert len(fast["data"]["orders"]["nodes"]) == 50


def test_loaders_fetch_each_customer_once_where_the_naive_gateway_repeats(
    sims: Simulators,
) -> None:
    with gateway_client(sims.settings()) as client:
        gql(client, ADOBE_50)
    batched = _customer_gets(sims)
    sims.log.clear()
    with gateway_client(_with(sims, loaders=False)) as client:
        gql(client, ADOBE_50)
    naive = _customer_gets(sims)
    assert max(Counter(batched).values()) == 1
    assert len(naive) == 50 and set(naive) == set(batched)  # one call per order
    assert len(batched) == 6  # the six Adobe customers


def test_list_payload_answers_what_it_carries(sims: Simulators) -> None:
    # HighLevel's list item has contactEmail and the totals: nothing else is fetched.
    with gateway_client(sims.settings()) as client:
        body = gql(
            client,
            """{ orders(first: 50, filter: {sources: ["hl-main"]}) {
            nodes { price { total { amount } subtotal { amount } } customer { email name } } } }""",
        )
    assert all(n["customer"]["email"] for n in body["data"]["orders"]["nodes"])
    assert [e.path for e in sims.log.of("highlevel")] == ["/payments/orders"]


def test_each_customer_selection_is_judged_on_its_own(sims: Simulators) -> None:
    # Hamgam's order carries the buyer's name only. In one request, the `named` selection
    # is answered from that summary and the `mailed` one loads each customer once.
    with gateway_client(sims.settings()) as client:
        body = gql(
            client,
            """{ orders(first: 20, filter: {sources: ["eu-shop"]}) { nodes {
            named: customer { name } mailed: customer { name email } } } }""",
        )
    nodes = body["data"]["orders"]["nodes"]
    assert len(nodes) == 20 and "errors" not in body
    assert all(n["named"]["name"] == n["mailed"]["name"] for n in nodes)
    assert all(n["named"].keys() == {"name"} and "@" in n["mailed"]["email"] for n in nodes)
    gets = [e.path for e in sims.log.of("hamgam", "/api/customers/")]
    assert len(gets) == len(set(gets)) == len({n["mailed"]["email"] for n in nodes}) > 1
    assert [e.path for e in sims.log.of("hamgam", "/api/orders/")] == ["/api/orders/"]


def test_a_page_loads_its_customers_once_and_each_failure_stays_on_its_order(
    sims: Simulators,
) -> None:
    # The list loads the customers its `customer` fields need before they resolve; a
    # missing one is still reported on its own order's path, and nothing is fetched twice.
    data = sims.set.data["hamgam"]
    newest = data.orders[0]
    gone = str(newest["customer_data"]["id"])
    del data.customers[gone]
    with gateway_client(sims.settings()) as client:
        body = gql(
            client,
            """{ orders(first: 30, filter: {sources: ["eu-shop"]}) {
            nodes { number customer { email } } } }""",
        )
    nodes = body["data"]["orders"]["nodes"]
    assert len(nodes) == 30 and all(n["number"] for n in nodes)
    theirs = {o["key"] for o in data.orders if str(o["customer_data"]["id"]) == gone}
    missing = [i for i, n in enumerate(nodes) if n["customer"] is None]
    assert missing == [i for i, n in enumerate(nodes) if n["number"] in theirs]
    assert nodes[0]["number"] == newest["key"] and missing[0] == 0
    assert sorted(tuple(e["path"]) for e in body["errors"]) == [
        ("orders", "nodes", i, "customer") for i in missing
    ]
    assert {e["extensions"]["code"] for e in body["errors"]} == {"NOT_FOUND"}
    assert all("@" in n["customer"]["email"] for n in nodes if n["customer"] is not None)
    gets = [e.path for e in sims.log.of("hamgam", "/api/customers/")]
    assert len(gets) == len(set(gets)) and f"/api/customers/{gone}" in gets


ONE_ORDER = """{ orderBySourceId(source: "eu-shop", sourceId: "123") {
  number customer { email } lineItems { productName total { amount } } } }"""


def test_a_request_is_freed_by_reference_counting(sims: Simulators) -> None:
    # No reference cycle may hold a finished request's context, loaders, executor or
    # loaded objects: with the cycle collector off, none of them is left.
    kinds = (RequestContext, Loaders, GatewayExecutor, domain.Order, domain.Customer)
    with gateway_client(sims.settings()) as client:
        gql(client, ONE_ORDER)  # warm: schema caches, sessions
        gc.collect()
        gc.disable()
        try:
            for _ in range(3):
                body = gql(client, ONE_ORDER)
                assert body["data"]["orderBySourceId"]["customer"]["email"]
            left = [type(o).__name__ for o in gc.get_objects() if isinstance(o, kinds)]
        finally:
            gc.enable()
    assert left == []


def test_serving_tunes_the_cycle_collector_as_configured() -> None:
    before = gc.get_threshold()
    try:
        tune_gc(PerformanceSettings())
        assert gc.get_threshold() == (7000, *before[1:])
        assert gc.get_freeze_count() > 0
        gc.unfreeze()
        gc.set_threshold(*before)
        tune_gc(PerformanceSettings(gc_freeze=False, gc_young_threshold=0))
        assert gc.get_threshold() == before and gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()
        gc.set_threshold(*before)
