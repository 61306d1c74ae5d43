"""The subgraph composed with another team's subgraph and served by a real router.

The gateway (``[server] federation = true``) and a small shipping subgraph written here
(Strawberry, extending ``Order @key(fields: "id")`` with ``trackingNumber``) each serve
on 127.0.0.1; @theguild/federation-composition composes their ``_service`` SDLs, and
Hive Gateway (``hive-gateway supergraph``, on 127.0.0.1, no registry, usage reporting or
telemetry configured) serves the supergraph. Both packages are pinned in
tests/federation/package.json (``make install`` runs ``npm ci`` there).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import strawberry
from strawberry.asgi import GraphQL

from gateway import ids
from gateway.app import create_app
from gateway.simulators import BackgroundServer
from tests.conftest import Simulators
from tests.redis_server import free_port
from tests.test_federation import Batches, federated

FEDERATION = Path(__file__).resolve().parent / "federation"
BIN = FEDERATION / "node_modules" / ".bin"
#: a router's start-up on a loaded 2-core machine: bounded, and polled
START_DEADLINE_S = 120.0


@dataclass
class Shipping:
    """The other team's data and what its subgraph was asked."""

    tracking: dict[str, str]
    requests: list[dict[str, Any]]


#: the shipping subgraph's data (set by each test's fixture)
SHIPPING = Shipping(tracking={}, requests=[])


@strawberry.federation.type(keys=["id"], description="An order, as shipping knows it.")
class Order:
    id: strawberry.ID

    @strawberry.field
    def tracking_number(self) -> str | None:
        return SHIPPING.tracking.get(self.id)

    @classmethod
    def resolve_reference(cls, id: strawberry.ID) -> Order:
        return cls(id=id)


@strawberry.type
class Shipment:
    tracking_number: str
    order: Order


@strawberry.type
class Query:
    @strawberry.field
    def shipments(self) -> list[Shipment]:
        return [
            Shipment(tracking_number=number, order=Order(id=strawberry.ID(order_id)))
            for order_id, number in SHIPPING.tracking.items()
        ]


def shipping_app(shipping: Shipping) -> Any:
    """A subgraph owning shipments, which extends the gateway's Order with a field;
    every request's body is kept in ``shipping.requests``."""
    schema = strawberry.federation.Schema(query=Query, federation_version="2.9")
    app = GraphQL(schema, graphql_ide=None)

    async def recorded(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        chunks: list[bytes] = []
        while True:
            message = await receive()
            chunks.append(message.get("body", b""))
            if not message.get("more_body"):
                break
        body = b"".join(chunks)
        if body:
            shipping.requests.append(json.loads(body))
        sent = False

        async def replay() -> Any:
            nonlocal sent
            if sent:
                return await receive()
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}

        await app(scope, replay, send)

    return recorded


def compose(tmp_path: Path, **subgraphs: tuple[str, str]) -> subprocess.CompletedProcess[str]:
    """@theguild/federation-composition over ``name=(url, sdl)``."""
    args = []
    for name, (url, sdl) in subgraphs.items():
        (tmp_path / f"{name}.graphql").write_text(sdl)
        args.append(f"{name}={url}={tmp_path / f'{name}.graphql'}")
    return subprocess.run(
        ["node", str(FEDERATION / "compose.mjs"), *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def shipping_sdl() -> str:
    return strawberry.federation.Schema(query=Query, federation_version="2.9").as_str()


def test_the_subgraph_composes_with_one_that_extends_order(tmp_path: Path) -> None:
    sdl = (Path(__file__).resolve().parent.parent / "schema.subgraph.graphql").read_text()
    done = compose(
        tmp_path,
        gateway=("http://127.0.0.1:1/graphql", sdl),
        shipping=("http://127.0.0.1:2/graphql", shipping_sdl()),
    )
    assert done.returncode == 0, done.stderr
    supergraph = done.stdout
    assert (
        'type Order implements Node @join__type(graph: GATEWAY, key: "id") '
        '@join__type(graph: SHIPPING, key: "id") @join__implements(graph: GATEWAY, '
        'interface: "Node") {' in supergraph
    )
    assert "trackingNumber: String @join__field(graph: SHIPPING)" in supergraph
    for entity in ("Customer", "License"):
        assert f'type {entity} implements Node @join__type(graph: GATEWAY, key: "id")' in (
            supergraph
        )
    # why the subgraph declares 2.9: Strawberry's default, 2.11, is refused
    newer = sdl.replace("federation/v2.9", "federation/v2.11")
    refused = compose(
        tmp_path,
        gateway=("http://127.0.0.1:1/graphql", newer),
        shipping=("http://127.0.0.1:2/graphql", shipping_sdl()),
    )
    assert refused.returncode == 1
    assert "Invalid version v2.11 for the federation feature" in refused.stderr


def sdl_of(url: str) -> str:
    response = httpx.post(url, json={"query": "{ _service { sdl } }"}, timeout=30)
    response.raise_for_status()
    sdl: str = response.json()["data"]["_service"]["sdl"]
    return sdl


@dataclass
class Router:
    url: str
    gateway_url: str
    gateway_app: Any


@pytest.fixture
def router(sims: Simulators, tmp_path: Path) -> Iterator[tuple[Router, Shipping]]:
    assert (BIN / "hive-gateway").exists(), "run `make install` (npm ci in tests/federation)"
    app = create_app(federated(sims))
    gateway = BackgroundServer(app, lifespan="on").start()
    shipping = SHIPPING
    shipping.tracking, shipping.requests = {}, []
    other = BackgroundServer(shipping_app(shipping)).start()
    proc: subprocess.Popen[bytes] | None = None
    try:
        # the shipping team's data: some of the newest orders, of several sources
        listed = httpx.post(
            f"{gateway.base_url}/graphql",
            json={"query": "{ orders(first: 12) { nodes { id source } } }"},
            timeout=30,
        ).json()
        orders = listed["data"]["orders"]["nodes"]
        shipping.tracking = {o["id"]: f"TRK-{n:04d}" for n, o in enumerate(orders[:8])}
        assert len({o["source"] for o in orders[:8]}) >= 3

        composed = compose(
            tmp_path,
            gateway=(f"{gateway.base_url}/graphql", sdl_of(f"{gateway.base_url}/graphql")),
            shipping=(f"{other.base_url}/graphql", sdl_of(f"{other.base_url}/graphql")),
        )
        assert composed.returncode == 0, composed.stderr
        supergraph = tmp_path / "supergraph.graphql"
        supergraph.write_text(composed.stdout)

        port = free_port()
        url = f"http://127.0.0.1:{port}"
        log = (tmp_path / "hive-gateway.log").open("wb")
        # No config file in its directory, no Hive or Apollo token in its environment:
        # nothing is reported anywhere; it listens on loopback only.
        proc = subprocess.Popen(
            [
                str(BIN / "hive-gateway"),
                "supergraph",
                str(supergraph),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--disable-websockets",
            ],
            cwd=tmp_path,
            env={"PATH": os.environ["PATH"], "HOME": str(tmp_path), "NODE_ENV": "production"},
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + START_DEADLINE_S
        while True:  # ready: the supergraph is loaded
            assert proc.poll() is None, (tmp_path / "hive-gateway.log").read_text()
            try:
                if httpx.get(f"{url}/readiness", timeout=5).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "hive-gateway did not start"
            time.sleep(0.2)
        shipping.requests.clear()
        yield Router(url, gateway.base_url, app), shipping
    finally:
        if proc is not None:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=30)
            log.close()
        other.stop()
        gateway.stop()


def through(router: Router, query: str) -> dict[str, Any]:
    response = httpx.post(f"{router.url}/graphql", json={"query": query}, timeout=60)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


ORDER_FIELDS = "id source sourceId number status price { total { amount currency } }"


def test_an_order_and_the_other_subgraphs_field_through_hive_gateway(
    sims: Simulators, router: tuple[Router, Shipping]
) -> None:
    hive, shipping = router
    gid, tracking = next(iter(shipping.tracking.items()))
    body = through(hive, f'{{ order(id: "{gid}") {{ {ORDER_FIELDS} trackingNumber }} }}')
    assert "errors" not in body, body
    order = body["data"]["order"]
    gidparts = ids.decode(gid)
    assert (order["id"], order["source"], order["sourceId"]) == (
        gid,
        gidparts.source,
        gidparts.source_id,
    )
    assert order["trackingNumber"] == tracking
    assert order["status"] in {
        "PENDING",
        "PROCESSING",
        "COMPLETED",
        "CANCELLED",
        "FAILED",
        "REFUNDED",
        "UNKNOWN",
    }
    # the shipping subgraph was asked once, for this one order
    entity_calls = [r for r in shipping.requests if "_entities" in r["query"]]
    assert len(entity_calls) == 1
    assert [rep["id"] for rep in _representations(entity_calls[0])] == [gid]


def _representations(request: dict[str, Any]) -> list[dict[str, Any]]:
    for value in (request.get("variables") or {}).values():
        if isinstance(value, list):
            return value
    raise AssertionError(f"no representations in {request}")


def test_several_orders_of_a_list_and_the_other_subgraphs_field(
    router: tuple[Router, Shipping],
) -> None:
    hive, shipping = router
    body = through(hive, "{ orders(first: 12) { nodes { id source number trackingNumber } } }")
    assert "errors" not in body, body
    nodes = body["data"]["orders"]["nodes"]
    assert len(nodes) == 12
    assert [n["trackingNumber"] for n in nodes] == [shipping.tracking.get(n["id"]) for n in nodes]
    assert sum(n["trackingNumber"] is not None for n in nodes) == 8
    # one _entities call to the shipping subgraph for the whole list
    entity_calls = [r for r in shipping.requests if "_entities" in r["query"]]
    assert len(entity_calls) == 1
    assert [rep["id"] for rep in _representations(entity_calls[0])] == [n["id"] for n in nodes]


def test_the_routers_entities_call_to_the_gateway_is_one_batch_per_source(
    sims: Simulators, router: tuple[Router, Shipping]
) -> None:
    hive, shipping = router
    expected = {
        gid: httpx.post(
            f"{hive.gateway_url}/graphql",
            json={"query": f'{{ order(id: "{gid}") {{ {ORDER_FIELDS} }} }}'},
            timeout=30,
        ).json()["data"]["order"]
        for gid in shipping.tracking
    }
    batches = Batches(hive.gateway_app)
    sims.log.clear()

    body = through(hive, f"{{ shipments {{ trackingNumber order {{ {ORDER_FIELDS} }} }} }}")

    assert "errors" not in body, body
    assert body["data"]["shipments"] == [
        {"trackingNumber": number, "order": expected[gid]}
        for gid, number in shipping.tracking.items()
    ]
    # the router resolved the 8 orders with one _entities call to the gateway, which
    # asked each source once for all its orders, and each backend once per order
    wanted: dict[str, list[str]] = {}
    for gid in shipping.tracking:
        parts = ids.decode(gid)
        wanted.setdefault(parts.source, []).append(parts.source_id)
    assert sorted((name, method, sorted(i)) for name, method, i in batches.calls) == sorted(
        (name, "get_orders", sorted(i)) for name, i in wanted.items()
    )
    paths = Counter((e.mount, e.path) for e in sims.log.entries)
    assert max(paths.values()) == 1 and len(paths) == len(shipping.tracking)
