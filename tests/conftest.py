"""Fixtures: the simulators on a real loopback port, the gateway over them via TestClient."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from gateway.app import create_app
from gateway.clock import Clock
from gateway.config import Settings, settings_from_mapping
from gateway.simulation import RequestLog
from gateway.simulators import (
    SIMULATORS,
    BackgroundServer,
    SimulatorSet,
    demo_config,
    rate_limited,
)

#: The demo's source name for each kind.
SOURCE_OF = {kind: name for kind, (_, name) in SIMULATORS.items()}
KINDS = list(SIMULATORS)
#: The kinds shipped with the gateway. Tests whose expected values come from these kinds'
#: sample data (which sources hold a cancelled order, whose orders are the newest 40)
#: configure only these, so that a kind added to the registry does not move them; tests
#: about every kind read SOURCE_OF and KINDS instead.
SHIPPED = ["licensespring", "zaveit", "hamgam", "adobe_vip", "highlevel", "woocommerce"]


class Simulators:
    """The simulators on a loopback port: the demo's data, or ``orders`` per kind."""

    def __init__(self, orders: int | None = None) -> None:
        # HighLevel's own rate limit is tested on its own server; here it would only
        # make unrelated tests depend on how fast the suite runs.
        self.set = SimulatorSet(
            options={kind: {"rate_limit": None} for kind in rate_limited()}, orders=orders
        )
        self.server = BackgroundServer(self.set.app()).start()
        self.base_url = self.server.base_url
        self.pristine = copy.deepcopy(self.set.data)

    @property
    def log(self) -> RequestLog:
        return self.set.log

    def config(
        self, kinds: list[str] | None = None, overrides: dict[str, dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """The demo config; ``overrides`` maps a source name to keys to change."""
        conf = demo_config(self.base_url, kinds)
        for kind in rate_limited():
            # the simulator enforces no limit here (see __init__): no budget either, unless
            # a test sets one
            if SOURCE_OF[kind] in conf["sources"]:
                conf["sources"][SOURCE_OF[kind]]["rate_limit"] = 0
        for name, changes in (overrides or {}).items():
            conf["sources"][name].update(changes)
        return conf

    def settings(
        self, kinds: list[str] | None = None, overrides: dict[str, dict[str, Any]] | None = None
    ) -> Settings:
        return settings_from_mapping(self.config(kinds, overrides))

    def restore(self) -> None:
        """Put back the sample data a test changed (in place: the apps hold the objects)."""
        for kind, data in self.set.data.items():
            for attr, value in vars(copy.deepcopy(self.pristine[kind])).items():
                setattr(data, attr, value)


@pytest.fixture(scope="session")
def sims() -> Iterator[Simulators]:
    s = Simulators()
    yield s
    s.server.stop()


@pytest.fixture(autouse=True)
def _fresh_log(request: pytest.FixtureRequest) -> Iterator[None]:
    if "sims" in request.fixturenames:
        sims: Simulators = request.getfixturevalue("sims")
        sims.log.clear()
        yield
        sims.set.faults.clear()
        sims.restore()
    else:
        yield


def gateway_client(settings: Settings, clock: Clock | None = None) -> TestClient:
    return TestClient(create_app(settings, clock=clock), raise_server_exceptions=False)


@pytest.fixture
def client(sims: Simulators) -> Iterator[TestClient]:
    with gateway_client(sims.settings()) as c:
        yield c


def gql(
    client: TestClient, query: str, variables: dict[str, Any] | None = None, *, status: int = 200
) -> dict[str, Any]:
    response = client.post("/graphql", json={"query": query, "variables": variables or {}})
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def codes(body: dict[str, Any]) -> list[str]:
    return [e["extensions"]["code"] for e in body.get("errors", [])]


from tests.redis_server import redis_server, redis_url  # noqa: E402, F401  (fixtures)
