"""The `gateway` command: serve, demo, simulate, schema, check."""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import uvicorn

from gateway.config import (
    Environment,
    PerformanceSettings,
    Settings,
    load_settings,
    settings_from_mapping,
)
from gateway.errors import ConfigError
from gateway.telemetry import logs

if TYPE_CHECKING:
    from gateway.simulators import SimulatorSet


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="gateway", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="serve the gateway over the configured sources")
    serve.add_argument("--config", type=Path, help="TOML config (default: $GATEWAY_CONFIG)")
    serve.add_argument("--host")
    serve.add_argument("--port", type=int)
    demo = sub.add_parser("demo", help="the built-in simulators plus the gateway over them")
    demo.add_argument("--port", type=int, help="gateway port (default: $PORT or 8000)")
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
    for p in (demo, simulate):
        p.add_argument(
            "--fault",
            action="append",
            default=[],
            metavar="KIND=SPEC",
            help="make a simulator misbehave, e.g. hamgam=hang, zaveit='status=503;times=2'",
        )
    sub.add_parser("schema", help="print the GraphQL SDL")
    check = sub.add_parser(
        "check", help="validate the config and make one authenticated call per source"
    )
    check.add_argument("--config", type=Path, help="TOML config (default: $GATEWAY_CONFIG)")
    return parser


#: httptools parses HTTP/1.1 with far less CPU than h11 (``[server] http_parser`` picks);
#: uvloop, though, measured slower with this stack, so the standard loop is chosen even
#: where uvloop is installed (bench/README.md).
SERVER_OPTIONS: dict[str, Any] = {"http": "httptools", "loop": "asyncio"}


def tune_gc(performance: PerformanceSettings) -> None:
    """The cycle collector for a serving process (``[performance]`` gc_* settings).

    Measured in bench/README.md: with Python's defaults, collections took a fifth of the
    gateway's time, rescanning the schema and modules and the objects of requests in
    flight. Called once the app is built, so what it made at start is frozen too.
    """
    if performance.gc_freeze:
        gc.freeze()
    if performance.gc_young_threshold:
        _, older, oldest = gc.get_threshold()
        gc.set_threshold(performance.gc_young_threshold, older, oldest)


def _serve(settings: Settings, host: str, port: int) -> None:
    from gateway.app import create_app

    app = create_app(settings)
    tune_gc(settings.performance)
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        log_config=None,  # uvicorn's records go to the gateway's handler (telemetry.logs)
        access_log=settings.server.access_log,
        **{**SERVER_OPTIONS, "http": settings.server.http_parser},
    )


def _simulators(
    faults: list[str], *, latency_ms: float = 0, rate_limit: bool = True
) -> SimulatorSet:
    from gateway.simulation import RequestLog
    from gateway.simulators import SIMULATORS, SimulatorSet

    simulators = SimulatorSet(
        log=RequestLog(keep=False),
        options={} if rate_limit else {"highlevel": {"rate_limit": None}},
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


async def _demo(port: int, faults: list[str]) -> None:
    from gateway.app import create_app
    from gateway.simulators import demo_config, loopback_socket

    sim_sock = loopback_socket()
    sim_url = f"http://127.0.0.1:{sim_sock.getsockname()[1]}"
    simulators = uvicorn.Server(
        uvicorn.Config(
            _simulators(faults).app(),
            log_level="warning",
            lifespan="off",
            access_log=False,
            **SERVER_OPTIONS,
        )
    )
    settings = settings_from_mapping(demo_config(sim_url))
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
    await asyncio.gather(simulators.serve(sockets=[sim_sock]), gateway.serve())


async def _simulate(port: int, faults: list[str], latency_ms: float, rate_limit: bool) -> None:
    from gateway.simulators import SIMULATORS, loopback_socket

    app = _simulators(faults, latency_ms=latency_ms, rate_limit=rate_limit).app()
    sock = loopback_socket(port)
    for kind in SIMULATORS:
        print(f"{kind}: http://127.0.0.1:{port}/{kind}", flush=True)
    server = uvicorn.Server(
        uvicorn.Config(app, log_level="warning", lifespan="off", access_log=False, **SERVER_OPTIONS)
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

    results = asyncio.run(check_sources(settings))
    sys.stdout.write(render_table(results))
    return 0 if all(r.ok for r in results) else 1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    logs.configure()
    env = Environment()
    try:
        if args.command == "schema":
            from gateway.schema.query import schema_sdl

            sys.stdout.write(schema_sdl())
        elif args.command == "check":
            return _check(_config(args.config, env))
        elif args.command == "serve":
            settings = _config(args.config, env)
            port = args.port if args.port is not None else (env.port or settings.server.port)
            _serve(settings, args.host or settings.server.host, port)
        elif args.command == "demo":
            port = args.port if args.port is not None else (env.port or 8000)
            asyncio.run(_demo(port, args.fault))
        elif args.command == "simulate":
            asyncio.run(_simulate(args.port, args.fault, args.latency, not args.no_rate_limit))
    except ConfigError as exc:
        print(f"gateway: config error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0
