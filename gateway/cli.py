"""The `gateway` command: serve, demo, simulate, schema, config-schema, manifest-schema,
export, check."""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import os
import signal
import socket
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from gateway import export_cli as export
from gateway.config import (
    Environment,
    PerformanceSettings,
    Settings,
    load_settings,
    settings_from_mapping,
)
from gateway.errors import ConfigError
from gateway.telemetry import logs, metrics

if TYPE_CHECKING:
    from gateway.simulators import SimulatorSet

log = logging.getLogger("gateway")


#: --orders' ceiling: the simulators hold their data in memory, ~6 kB an order.
MAX_SIMULATED_ORDERS = 100_000


def _order_count(text: str) -> int:
    count = int(text)
    if not 0 <= count <= MAX_SIMULATED_ORDERS:
        raise argparse.ArgumentTypeError(f"expected 0 to {MAX_SIMULATED_ORDERS}, got {count}")
    return count


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the gateway over the configured sources")
    serve.add_argument("--config", type=Path, help="TOML config (default: $GATEWAY_CONFIG)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    serve.add_argument(
        "--workers",
        type=int,
        default=1,
        metavar="N",
        help="N processes on one port (share a cache and rate budgets with [cache] redis)",
    )
    demo = sub.add_parser("demo", help="the built-in simulators plus the gateway over them")
    demo.add_argument("--port", type=int, help="gateway port (default: $PORT or 8000)")
    demo.add_argument(
        "--live",
        type=float,
        default=0,
        metavar="SECONDS",
        help="every SECONDS, HighLevel's simulator creates an order or changes one's status "
        "and sends the signed webhook (live events in GraphiQL; default: off)",
    )
    simulate = sub.add_parser("simulate", help="the built-in simulators alone")
    simulate.add_argument("--port", type=int, default=8001)
    simulate.add_argument(
        "--latency",
        type=float,
        default=0,
        metavar="MS",
        help="answer every request after this many milliseconds",
    )
    simulate.add_argument(
        "--no-rate-limit",
        action="store_true",
        help="switch HighLevel's 100 requests / 10 s limit off",
    )
    simulate.add_argument(
        "--print-config",
        action="store_true",
        help="print a config TOML for these simulators (URLs and demo credentials) instead "
        "of their URLs, for serve, check and export --config",
    )
    for p in (demo, simulate):
        p.add_argument(
            "--fault",
            action="append",
            default=[],
            metavar="KIND=SPEC",
            help="make a simulator misbehave, e.g. hamgam=hang, zaveit='status=503;times=2'",
        )
        p.add_argument(
            "--orders",
            type=_order_count,
            metavar="N",
            help="generated orders per simulator (default: the demo's 60)",
        )
    schema = sub.add_parser("schema", help="print the GraphQL SDL")
    schema.add_argument(
        "--subgraph",
        action="store_true",
        help="the federation subgraph's SDL ([server] federation = true) instead",
    )
    sub.add_parser("config-schema", help="print the JSON Schema of the config file (for editors)")
    sub.add_parser(
        "manifest-schema", help="print the JSON Schema of a source manifest (docs/manifests.md)"
    )
    export.add_parser(sub)
    check = sub.add_parser(
        "check", help="validate the config and make one authenticated call per source"
    )
    check.add_argument("--config", type=Path, help="TOML config (default: $GATEWAY_CONFIG)")
    return parser


#: On SIGTERM or Ctrl-C, uvicorn stops accepting and waits for the responses in flight;
#: after this many seconds it cancels what is left. An answer to /graphql has finished by
#: then; an export, which could run for hours, is cut off as a failing source cuts it (no
#: final chunk), and the lifespan then closes the backend clients: the process ends
#: within seconds whatever is in flight, never held by a BI tool.
SHUTDOWN_GRACE_S = 5

#: httptools parses HTTP/1.1 with far less CPU than h11 (``[server] http_parser`` picks);
#: uvloop, though, measured no clear gain with this stack (its figures: bench/README.md),
#: so the standard loop is chosen even where uvloop is installed. SHUTDOWN_GRACE_S bounds
#: a stop. uvicorn's own
#: X-Forwarded-For handling is off: by default it would believe the header from any peer on
#: 127.0.0.1; the app believes it only from ``[server] trusted_proxies``.
SERVER_OPTIONS: dict[str, Any] = {
    "http": "httptools",
    "loop": "asyncio",
    "timeout_graceful_shutdown": SHUTDOWN_GRACE_S,
    "proxy_headers": False,
}


def tune_gc(performance: PerformanceSettings) -> None:
    """The cycle collector for a serving process (``[performance]`` gc_* settings).

    With Python's defaults, collections took a large share of the gateway's time
    (bench/README.md), rescanning the schema and modules and the objects of requests in
    flight. Called once the app is built, so what it made at start is frozen too.
    """
    if performance.gc_freeze:
        gc.freeze()
    if performance.gc_young_threshold:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(performance.gc_young_threshold, older, oldest)


def _serve(settings: Settings, host: str, port: int, workers: int = 1) -> None:
    from gateway.app import create_app

    options: dict[str, Any] = {
        "host": host,
        "port": port,
        "log_level": "info",
        "log_config": None,  # uvicorn's records go to the gateway's handler (telemetry.logs)
        "access_log": settings.server.access_log,
        **{**SERVER_OPTIONS, "http": settings.server.http_parser},
    }
    if workers > 1:
        # uvicorn starts each worker from an import string; the worker reads the config
        # from GATEWAY_CONFIG, which main() has set to the file this process validated,
        # and how many they are from GATEWAY_WORKERS.
        os.environ["GATEWAY_WORKERS"] = str(workers)
        _say_budget_split(settings, workers)
        with tempfile.TemporaryDirectory(prefix="gateway-metrics-") as counts:
            if settings.server.metrics:  # /metrics sums what every worker counted
                metrics.prepare_multiprocess(counts)
            uvicorn.run("gateway.cli:worker_app", factory=True, workers=workers, **options)
        return
    app = create_app(settings)
    tune_gc(settings.performance)
    uvicorn.run(app, **options)


def _check_workers(settings: Settings, workers: int) -> None:
    """Processes that rotate a refresh token must share it through Redis: with a file
    each, one would present a token another has already spent."""
    if workers == 1 or settings.cache.backend == "redis":
        return
    for name, source in settings.sources.items():
        if getattr(source, "oauth_refresh_token", None):
            raise ConfigError(
                f"sources.{name}.oauth_refresh_token: --workers {workers} needs "
                '[cache] backend = "redis" (the processes must share the rotated token)'
            )


def _say_budget_split(settings: Settings, workers: int) -> None:
    """Workers with the memory cache share no budget: each gets ``rate_limit // workers``
    (gateway/cache/policy.py). Said once, by the process that starts them."""
    if settings.cache.backend == "redis":
        return
    shares = [
        f"{name} {max(1, source.rate_limit // workers)} of {source.rate_limit} calls per "
        f"{source.rate_window_s:g} s"
        for name, source in settings.sources.items()
        if source.rate_limit
    ]
    if shares:
        logging.getLogger("gateway").warning(
            "--workers %d with the memory cache: each worker gets 1/%d of each rate budget "
            '(%s); with [cache] backend = "redis" the workers share one budget and one cache',
            workers,
            workers,
            "; ".join(shares),
        )


def worker_app() -> Any:
    """The app of one `gateway serve --workers N` process (uvicorn's factory)."""
    from gateway.app import create_app

    env = Environment()
    path = env.gateway_config
    if path is None:
        raise ConfigError("GATEWAY_CONFIG is not set in the worker")
    settings = load_settings(path)
    server = settings.server
    logs.configure(server.log_format, server.log_level, secrets=settings.secrets())
    metrics.drop_dead_workers()  # this worker may replace one that died
    app = create_app(settings, workers=env.gateway_workers)
    tune_gc(settings.performance)
    return app


#: How often `gateway demo` polls each source for live order events.
DEMO_POLL_S = 5

#: What `gateway demo` adds to each source: answers reused for 30 s, and up to 10 minutes
#: old while a backend fails, so `make run` shows the cache at work.
DEMO_CACHE = {"cache_ttl_s": 30, "stale_if_error_s": 600}


def _simulators(
    faults: list[str],
    *,
    latency_ms: float = 0,
    rate_limit: bool = True,
    orders: int | None = None,
) -> SimulatorSet:
    from gateway.simulation import RequestLog
    from gateway.simulators import SIMULATORS, SimulatorSet, rate_limited

    simulators = SimulatorSet(
        log=RequestLog(keep=False),
        options={} if rate_limit else {kind: {"rate_limit": None} for kind in rate_limited()},
        orders=orders,
    )
    if latency_ms:
        for kind in SIMULATORS:
            simulators.faults.set(kind, f"latency={latency_ms}")
    for item in faults:
        kind, sep, spec = item.partition("=")
        if not sep or kind not in SIMULATORS:
            raise ConfigError(
                f"--fault {item}: expected KIND=SPEC with KIND one of {', '.join(SIMULATORS)}"
            )
        try:
            simulators.faults.set(kind, spec)
        except ValueError as exc:
            raise ConfigError(f"--fault {item}: {exc}") from None
    return simulators


async def _demo(port: int, faults: list[str], orders: int | None = None, live_s: float = 0) -> None:
    # Adobe's and HighLevel's tokens come from the simulators' token endpoints and renew
    # every couple of minutes; HighLevel's rotated refresh token lives in a file that
    # matches only this run's simulator, so it goes with it. uvicorn re-raises the signal
    # that stopped it: SIGTERM then unwinds (removing the file) like Ctrl-C does.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    with tempfile.TemporaryDirectory(prefix="gateway-demo-") as tokens:
        await _run_demo(port, faults, str(Path(tokens) / "tokens"), orders, live_s)


async def _run_demo(
    port: int, faults: list[str], token_store: str, orders: int | None, live_s: float = 0
) -> None:
    from gateway.app import create_app
    from gateway.simulators import demo_config, loopback_socket
    from gateway.state.sealing import new_key

    sim_sock = loopback_socket()
    sim_url = f"http://127.0.0.1:{sim_sock.getsockname()[1]}"
    simulated = _simulators(faults, orders=orders)
    simulators = uvicorn.Server(
        uvicorn.Config(
            simulated.app(),
            log_level="warning",
            log_config=None,  # the gateway's handler (telemetry.logs), not uvicorn's own
            lifespan="off",
            access_log=False,
            **SERVER_OPTIONS,
        )
    )
    config = demo_config(sim_url, token_store=token_store)
    for source in config["sources"].values():
        source.update(DEMO_CACHE, poll_interval_s=DEMO_POLL_S)
    # An encryption key made for this run, as the tokens' file is: a demo never asks for
    # one, and nothing sealed with it outlives the run. (Its cache is this process's
    # memory, which is not sealed: cache/policy.py.)
    config["cache"] = {**config.get("cache", {}), "encryption_key": new_key()}
    settings = settings_from_mapping(config)
    gateway = uvicorn.Server(
        uvicorn.Config(
            create_app(settings),
            host="127.0.0.1",
            port=port,
            log_level="info",
            log_config=None,
            **SERVER_OPTIONS,
        )
    )
    tune_gc(settings.performance)
    print(
        f"simulators on {sim_url}; GraphQL (and GraphiQL) on http://127.0.0.1:{port}/graphql",
        flush=True,
    )
    changes = (
        [_live_changes(simulated, port, live_s, lambda: gateway.should_exit)] if live_s > 0 else []
    )
    await asyncio.gather(_quietly(simulators, sim_sock), gateway.serve(), *changes)


async def _live_changes(
    simulated: SimulatorSet,
    port: int,
    every_s: float,
    stopping: Callable[[], bool] = lambda: False,
) -> None:
    """``gateway demo --live``: HighLevel's orders change over time, each change sent to
    the gateway as a signed webhook (the other sources' events come from polling), until
    the gateway stops."""
    import httpx

    from gateway.sources.highlevel import webhooks

    orders = simulated.data["highlevel"].orders
    url = f"http://127.0.0.1:{port}/webhooks/hl-main"
    statuses = ("completed", "refunded", "cancelled")
    turn = 0
    while True:
        await asyncio.sleep(every_s)
        if stopping():
            return
        turn += 1
        if turn % 2:
            order, kind = webhooks.new_order(orders), "OrderCreate"
        else:
            newest = orders[0]["_id"]
            status = statuses[(turn // 2) % len(statuses)]
            order, kind = webhooks.change_status(orders, newest, status), "OrderStatusUpdate"
        try:
            await asyncio.to_thread(webhooks.send, url, order, kind)
        except httpx.HTTPError as exc:  # the gateway not up yet, or going down
            if stopping():
                return
            log.warning("demo --live: the webhook was not delivered (%s)", type(exc).__name__)


async def _quietly(server: uvicorn.Server, sock: socket.socket) -> None:
    """Serve with uvicorn's info lines left out (``logs.QUIET_SERVER``: this task only)."""
    logs.QUIET_SERVER.set(True)
    await server.serve(sockets=[sock])


async def _simulate(
    port: int,
    faults: list[str],
    latency_ms: float,
    rate_limit: bool,
    orders: int | None = None,
    print_config: bool = False,
) -> None:
    from gateway.simulators import SIMULATORS, loopback_socket, simulator_config_toml

    simulators = _simulators(faults, latency_ms=latency_ms, rate_limit=rate_limit, orders=orders)
    app = simulators.app()
    sock = loopback_socket(port)
    port = sock.getsockname()[1]  # --port 0: the one the system chose
    # Connections queue from now on, so whoever reads the printed config may call at once.
    sock.listen(2048)
    if print_config:
        sys.stdout.write(simulator_config_toml(f"http://127.0.0.1:{port}", rate_limit=rate_limit))
        sys.stdout.flush()
    else:
        for kind in SIMULATORS:
            print(f"{kind}: http://127.0.0.1:{port}/{kind}", flush=True)
    server = uvicorn.Server(
        uvicorn.Config(
            app,
            log_level="warning",
            log_config=None,
            lifespan="off",
            access_log=False,
            **SERVER_OPTIONS,
        )
    )
    await server.serve(sockets=[sock])


def _config(path: Path | None, env: Environment) -> Settings:
    path = path or env.gateway_config
    if path is None:
        raise ConfigError("no config: pass --config FILE or set GATEWAY_CONFIG")
    settings = load_settings(path)
    server = settings.server
    logs.configure(server.log_format, server.log_level, secrets=settings.secrets())
    return settings


def _check(settings: Settings) -> int:
    from gateway.check import check_sources, render_table

    if not settings.sources:  # nothing checked is not a pass (an empty or unfinished file)
        print("gateway check: the config has no [sources.<name>] table", file=sys.stderr)
        return 1
    results = asyncio.run(check_sources(settings))
    sys.stdout.write(render_table(results))
    return 0 if all(r.ok for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.configure()
    env = Environment()
    try:
        if args.command == "schema":
            from gateway.schema.query import schema_sdl, subgraph_sdl

            sys.stdout.write(subgraph_sdl() if args.subgraph else schema_sdl())
        elif args.command == "config-schema":
            from gateway.reference import config_schema_text

            sys.stdout.write(config_schema_text())
        elif args.command == "manifest-schema":
            from gateway.sources.registry import manifest_json_schema

            sys.stdout.write(json.dumps(manifest_json_schema(), indent=2) + "\n")
        elif args.command == "check":
            return _check(_config(args.config, env))
        elif args.command == "serve":
            settings = _config(args.config, env)
            port = args.port if args.port is not None else (env.port or settings.server.port)
            if args.workers < 1:
                raise ConfigError("--workers: must be 1 or more")
            _check_workers(settings, args.workers)
            path = args.config or env.gateway_config
            assert path is not None  # _config refused a missing one
            os.environ["GATEWAY_CONFIG"] = str(Path(path).resolve())
            _serve(settings, args.host or settings.server.host, port, args.workers)
        elif args.command == "demo":
            port = args.port if args.port is not None else (env.port or 8000)
            asyncio.run(_demo(port, args.fault, args.orders, args.live))
        elif args.command == "export":
            return export.run(args)
        elif args.command == "simulate":
            asyncio.run(
                _simulate(
                    args.port,
                    args.fault,
                    args.latency,
                    not args.no_rate_limit,
                    args.orders,
                    args.print_config,
                )
            )
    except ConfigError as exc:
        print(f"gateway: config error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
