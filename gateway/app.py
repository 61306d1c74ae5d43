"""create_app(settings) → the Starlette app: /graphql, /healthz, /readyz."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import httpx
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from gateway.config import Settings
from gateway.resilience import Clock
from gateway.schema.query import build_schema
from gateway.sources.base import Source
from gateway.sources.registry import ADAPTERS
from gateway.view import GatewayView


def build_sources(
    settings: Settings,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    clock: Clock | None = None,
) -> dict[str, Source]:
    """One source object (and so one shared httpx client) per configured source."""
    transports = transports or {}
    return {
        name: ADAPTERS[conf.kind].create(name, conf, transport=transports.get(name), clock=clock)
        for name, conf in settings.sources.items()
    }


def create_app(
    settings: Settings,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    clock: Clock | None = None,
    graphiql: bool = True,
) -> Starlette:
    """The gateway app. ``transports`` replaces a source's HTTP transport and ``clock``
    the time source of retries, breakers and rate limits (both for tests)."""

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.sources = build_sources(settings, transports, clock)
        try:
            yield
        finally:
            for source in app.state.sources.values():
                await source.aclose()

    # Cursors are signed so edits are caught; the key only needs to be stable across
    # restarts of the same configuration, not secret.
    cursor_secret = hashlib.sha256(
        ("cursor|" + "|".join(sorted(settings.sources))).encode()
    ).digest()
    view = GatewayView(
        build_schema(introspection=settings.security.introspection),
        graphql_ide="graphiql" if graphiql else None,
        cursor_secret=cursor_secret,
    )

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        sources: Mapping[str, Source] = request.app.state.sources
        report = {name: {"kind": s.kind.value, "healthy": s.healthy} for name, s in sources.items()}
        ready = all(item["healthy"] for item in report.values())
        return JSONResponse({"ready": ready, "sources": report}, 200 if ready else 503)

    return Starlette(
        routes=[
            Route("/graphql", view),
            Route("/healthz", healthz, methods=["GET"]),
            Route("/readyz", readyz, methods=["GET"]),
        ],
        lifespan=lifespan,
    )
