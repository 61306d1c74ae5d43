"""Live orders across two replicas on one real redis-server: one poller per source (a
lease in Redis), every subscriber on either replica gets each event once, under the same
id, and a webhook that reached one replica reaches the other's subscribers."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from gateway.app import create_app
from gateway.config import settings_from_mapping
from gateway.sources.highlevel import webhooks as hl
from tests.conftest import Simulators
from tests.redis_server import redis_cache
from tests.test_live import SSE, Gateway, until


@pytest.fixture
def replicas(sims: Simulators, redis_url: str) -> Iterator[list[Gateway]]:
    conf = sims.config(["highlevel"], {"hl-main": {"poll_interval_s": 0.05, "cache_ttl_s": 30}})
    conf["cache"] = redis_cache(redis_url)
    gateways = [Gateway(create_app(settings_from_mapping(conf))) for _ in range(2)]
    yield gateways
    stopped = [gw.server.stop() for gw in gateways]  # both, even when the first one fails
    assert stopped == [True, True], "a replica did not stop by itself (a stream left open?)"


def test_one_poller_and_every_subscriber_gets_each_event_once(
    replicas: list[Gateway], sims: Simulators
) -> None:
    pollers = [gw.app.state.live.pollers["hl-main"] for gw in replicas]
    until(lambda: sum(p.rounds for p in pollers) >= 3, "polls")
    assert sorted(p.rounds > 0 for p in pollers) == [False, True]  # one lease holder
    streams = [SSE(gw) for gw in replicas for _ in range(2)]
    until(lambda: [gw.subscribers for gw in replicas] == [2, 2], "four subscriptions")

    orders = sims.set.data["highlevel"].orders
    order = hl.new_order(orders)  # seen by the poller (no webhook)
    created = [s.next() for s in streams]
    hl.change_status(orders, order["_id"], "completed")
    # sent to the replica that may not poll: its subscribers and the other's get it
    assert replicas[1].webhook(order, "OrderStatusUpdate").status_code == 200
    updated = [s.next() for s in streams]

    for (_, c), (_, u) in zip(created, updated, strict=True):
        assert (c["data"]["orderEvents"]["type"], c["data"]["orderEvents"]["origin"]) == (
            "CREATED",
            "POLL",
        )
        # the webhook, or the poller if it saw the change first: one event either way
        assert u["data"]["orderEvents"]["type"] == "UPDATED"
        assert c["data"]["orderEvents"]["order"]["status"] == "PENDING"
        assert u["data"]["orderEvents"]["order"]["status"] == "COMPLETED"
    assert len({i for i, _ in created}) == 1 and len({i for i, _ in updated}) == 1
    holder = next(p for p in pollers if p.rounds > 0)
    after = holder.rounds
    until(lambda: holder.rounds >= after + 2, "two more polls")
    assert all(s.events.empty() for s in streams)  # once each: the poller did not repeat it
    lists = [r for r in sims.log.of("highlevel") if r.path == "/payments/orders"]
    assert len(lists) <= holder.rounds + 1  # one poller's calls, not two
    for s in streams:
        s.close()
