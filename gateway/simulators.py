"""The built-in simulators of every kind, mounted on one loopback server.

Each kind is mounted at ``/<kind>`` with deterministic sample data; ``demo_settings``
points one source of each kind at it. Every request is recorded in ``log`` so tests can
count backend calls and check the parameters the adapters sent.
"""

from __future__ import annotations

import asyncio
import importlib
import socket
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from types import ModuleType
from typing import Any, Literal

import tomli_w
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import BaseRoute, Mount, Route

from gateway.simulation import FaultBoard, Faulty, Logged, RequestLog
from gateway.sources.base import Adapter
from gateway.sources.registry import ADAPTERS


class _Simulators(Mapping[str, tuple[ModuleType, str]]):
    """kind → its simulator module and the source name the demo gives it (as in docs/),
    for every registered kind that has a simulator, in registry order (read live: a kind
    registered later is here too)."""

    def _adapters(self) -> dict[str, Adapter]:
        return {k: a for k, a in ADAPTERS.items() if a.simulator is not None}

    def __getitem__(self, kind: str) -> tuple[ModuleType, str]:
        simulated = self._adapters()[kind].simulator
        assert simulated is not None
        return importlib.import_module(simulated.module), simulated.demo_name

    def __iter__(self) -> Iterator[str]:
        return iter(self._adapters())

    def __len__(self) -> int:
        return len(self._adapters())


SIMULATORS: Mapping[str, tuple[ModuleType, str]] = _Simulators()


@dataclass
class SimulatorSet:
    """All simulators with their data, as one ASGI app.

    ``options`` are keyword arguments for a kind's ``create_app`` (say, HighLevel's
    ``rate_limit``); ``faults`` holds the faults each mount plays; ``orders`` is how many
    generated orders each kind's sample data holds (None: the demo's own data).
    """

    log: RequestLog = field(default_factory=RequestLog)
    data: dict[str, Any] = field(default_factory=dict)
    faults: FaultBoard = field(default_factory=FaultBoard)
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    orders: int | None = None

    def app(self) -> Starlette:
        routes: list[BaseRoute] = []
        for kind, (module, _) in SIMULATORS.items():
            if kind not in self.data:
                size = {} if self.orders is None else {"count": self.orders}
                self.data[kind] = module.sample_data(**size)
            simulator = module.create_app(self.data[kind], **self.options.get(kind, {}))
            routes.append(
                Mount(f"/{kind}", app=Logged(Faulty(simulator, kind, self.faults), kind, self.log))
            )

        async def stats(request: Request) -> JSONResponse:
            return JSONResponse({"requests": self.log.count})

        routes.append(Route("/__stats", stats))
        return Starlette(routes=routes)


def demo_config(
    base_url: str, kinds: list[str] | None = None, *, token_store: str | None = None
) -> dict[str, Any]:
    """The config mapping of the demo: one source per kind, open access, introspection on.

    Every source has a fixed token, unless ``token_store`` is given: then the kinds whose
    credentials renew (``Simulated.renewing``) get their tokens from the simulators' token
    endpoints and renew them (``gateway demo``), a rotated refresh token kept in that file.
    """
    renewing = token_store is not None
    sources = {
        name: module.demo_source(f"{base_url}/{kind}", **_credentials(kind, token_store))
        if renewing
        else module.demo_source(f"{base_url}/{kind}")
        for kind, (module, name) in SIMULATORS.items()
        if kinds is None or kind in kinds
    }
    return {
        "sources": sources,
        "security": {
            "require_auth": False,
            "anonymous_scopes": ["orders:read", "pii:read", "raw:read"],
            "introspection": True,
        },
    }


def simulator_config_toml(base_url: str, *, rate_limit: bool = True) -> str:
    """The config file for simulators served at ``base_url`` (``gateway simulate
    --print-config``): the demo's sources with their fixed demo credentials, open access."""
    config = demo_config(base_url)
    if not rate_limit:  # the simulators enforce none: no client-side budget either
        for kind in rate_limited():
            config["sources"][SIMULATORS[kind][1]]["rate_limit"] = 0
    header = (
        f"# The built-in simulators at {base_url} (gateway simulate --print-config).\n"
        "# Demo credentials and open access: for trying the gateway, never for real data.\n"
        "# Every key: docs/configuration.md\n\n"
    )
    return header + tomli_w.dumps(config)


def rate_limited() -> list[str]:
    """The kinds whose simulator enforces its backend's rate limit (``Simulated``)."""
    return [
        kind
        for kind, adapter in ADAPTERS.items()
        if adapter.simulator is not None and adapter.simulator.rate_limited
    ]


def _credentials(kind: str, token_store: str | None) -> Mapping[str, Any]:
    """The kind's demo credentials that renew (its adapter says), else its fixed ones."""
    simulated = ADAPTERS[kind].simulator
    renewing = simulated.renewing if simulated is not None else None
    return {} if renewing is None else renewing(token_store)


def loopback_socket(port: int = 0) -> socket.socket:
    """A listening socket on 127.0.0.1 for uvicorn's ``serve(sockets=...)``."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    # Accepted connections inherit this. Without it a pre-bound socket leaves Nagle on,
    # and every response after the first on a kept-alive connection waits ~40 ms for
    # the client's delayed ACK.
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", port))
    return sock


class BackgroundServer:
    """A uvicorn server on 127.0.0.1 in its own thread (tests and benchmarks)."""

    def __init__(
        self, app: Callable[..., Any], port: int = 0, *, lifespan: Literal["on", "off"] = "off"
    ) -> None:
        self.sock = loopback_socket(port)
        self.port: int = self.sock.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(app, log_level="warning", lifespan=lifespan, access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        asyncio.run(self.server.serve(sockets=[self.sock]))

    def start(self) -> BackgroundServer:
        self.thread.start()
        for _ in range(500):
            if self.server.started:
                return self
            threading.Event().wait(0.01)
        raise RuntimeError("the simulator server did not start")

    def stop(self, timeout_s: float = 30.0) -> bool:
        """Stop as on SIGTERM (responses in flight finish), and past ``timeout_s`` without
        waiting for them, so no server, and no poller of its, outlives its test on a busy
        machine. True when it stopped without being forced (a stream left open is not)."""
        self.server.should_exit = True
        self.thread.join(timeout=timeout_s)
        if not self.thread.is_alive():
            return True
        self.server.force_exit = True
        self.thread.join(timeout=timeout_s)
        return False
