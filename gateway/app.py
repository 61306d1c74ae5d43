"""create_app(settings) → the Starlette app: /graphql, /export, /healthz, /readyz, /metrics."""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from functools import partial

import httpx
from opentelemetry.trace import Tracer
from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from gateway import graphiql as graphiql_page
from gateway.cache.policy import open_store, sealer_for
from gateway.cache.store import Store
from gateway.clock import Clock
from gateway.compat.private import core_schema
from gateway.config import Settings
from gateway.encoding import dumps
from gateway.errors import BAD_USER_INPUT, INTERNAL
from gateway.export.route import ExportEndpoint
from gateway.live.bus import MemoryBus
from gateway.live.hub import LiveOrders
from gateway.live.webhooks import Webhooks
from gateway.persisted import PersistedQueries
from gateway.quota.clients import ClientQuotas
from gateway.schema.preparation import validate_operation
from gateway.schema.query import build_schema
from gateway.security import Authenticator
from gateway.service import GraphQLService
from gateway.sources.base import Source
from gateway.sources.registry import ADAPTERS
from gateway.telemetry import metrics, requestid, tracing
from gateway.telemetry.middleware import Telemetry
from gateway.view import GatewayView

log = logging.getLogger("gateway")


def build_sources(
    settings: Settings,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    clock: Clock | None = None,
    cache: Store | None = None,
    tracer: Tracer | None = None,
    workers: int = 1,
) -> dict[str, Source]:
    """One source object (and so one shared connection pool) per configured source;
    ``workers``: the processes of this `gateway serve` (a budget kept in memory is split
    between them)."""
    transports = transports or {}
    http_transport = settings.performance.http_transport
    return {
        name: ADAPTERS[conf.kind].create(
            name,
            conf,
            transport=transports.get(name),
            clock=clock,
            http_transport=http_transport,
            cache=cache,
            coalesce=settings.performance.loaders,
            tracer=tracer,
            metrics=settings.server.metrics,
            workers=workers,
        )
        for name, conf in settings.sources.items()
    }


def create_app(
    settings: Settings,
    *,
    transports: Mapping[str, httpx.AsyncBaseTransport] | None = None,
    clock: Clock | None = None,
    graphiql: bool = True,
    workers: int = 1,
) -> Starlette:
    """The gateway app. ``transports`` replaces a source's HTTP transport and ``clock``
    the time source of retries, breakers, rate limits, quotas and the cache (both for
    tests); ``workers``: the processes of `gateway serve --workers N` this app is one of."""

    traces = tracing.configure()
    # per-client quotas; shared through Redis once the lifespan has opened the store
    quotas = ClientQuotas(clock, metrics_on=settings.server.metrics)

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        conf = settings.cache
        store = open_store(
            conf.backend,
            conf.url,
            conf.max_entries,
            sealer=sealer_for(conf),
            workers=workers,
            clock=clock,
        )
        app.state.cache = store
        app.state.sources = build_sources(
            settings, transports, clock, store, traces.tracer if traces else None, workers
        )
        quotas.use(store)
        if store.connection is not None:  # registers; the log says at once if it is down
            await store.connection.start()
        app.state.live = live = live_orders(settings, app.state.sources, store)
        live.start()
        try:
            yield
        finally:
            await live.aclose()
            for source in app.state.sources.values():
                await source.aclose()
            await store.aclose()
            if traces is not None:
                traces.shutdown()

    # Cursors are signed so edits are caught; the key only needs to be stable across
    # restarts of the same configuration, not secret.
    cursor_secret = hashlib.sha256(
        ("cursor|" + "|".join(sorted(settings.sources))).encode()
    ).digest()
    security = settings.security
    if security.require_auth and not security.api_keys and security.jwt is None:
        log.warning(
            "require_auth is on but no api_keys or jwt are configured: every "
            "request will be refused"
        )
    schema = build_schema(
        introspection=security.introspection,
        limits=security.limits,
        caches=settings.performance.query_caches,
        federation=settings.server.federation,
    )
    check = partial(validate_operation, core_schema(schema), introspection=security.introspection)
    service = GraphQLService(
        schema,
        cursor_secret=cursor_secret,
        authenticator=Authenticator(security),
        limits=security.limits,
        performance=settings.performance,
        persisted=PersistedQueries.configured(settings, check),
        quotas=quotas,
    )
    view = GatewayView(
        service,
        # GraphiQL reads the schema by introspection: where that is off, no page
        graphql_ide="graphiql" if graphiql and security.introspection else None,
    )

    async def healthz(request: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> JSONResponse:
        """Whether this replica can serve: 200 once it has started (its config loaded,
        its sources and cache opened), answered by its own event loop, so a probe that
        gets an answer in time has seen all three work. Backends and Redis are reported,
        never a reason for 503: an outage of either is shared by every replica (taking
        them all out of rotation would turn partial answers into none), and every worker
        of every replica then says the same."""
        sources: Mapping[str, Source] | None = getattr(request.app.state, "sources", None)
        store: Store | None = getattr(request.app.state, "cache", None)
        if sources is None or store is None:  # not started (lifespan not run)
            return JSONResponse({"ready": False}, 503)
        report = {name: {"kind": s.kind.value, "healthy": s.healthy} for name, s in sources.items()}
        # as the connection's watcher last found it (within a second): never waits on Redis
        cache = {"backend": store.backend, "healthy": store.healthy}
        return JSONResponse({"ready": True, "sources": report, "cache": cache})

    async def metrics_text(request: Request) -> Response:
        return Response(metrics.render(), media_type=metrics.CONTENT_TYPE)

    async def internal_error(request: Request, exc: Exception) -> Response:
        request_id = requestid.current_or_new()
        log.error("unexpected error (request %s)", request_id, exc_info=exc)
        body = {
            "errors": [
                {
                    "message": f"internal error (request id {request_id})",
                    "extensions": {"code": INTERNAL, "requestId": request_id},
                }
            ]
        }
        return Response(
            dumps(body),
            500,
            headers={requestid.HEADER: request_id},
            media_type="application/json",
        )

    middleware = [Middleware(BodyLimit, max_bytes=security.limits.max_body_bytes)]
    if security.cors_origins:
        middleware.insert(
            0,
            Middleware(
                CORSMiddleware,
                allow_origins=list(security.cors_origins),
                allow_methods=["GET", "POST"],
                allow_headers=["authorization", "content-type", "x-api-key", "x-request-id"],
                expose_headers=["x-request-id", "retry-after"],
            ),
        )
    middleware.insert(
        0,
        Middleware(
            Telemetry,
            metrics_on=settings.server.metrics,
            tracer=traces.tracer if traces else None,
        ),
    )
    if settings.server.trusted_proxies:
        # outermost, so every part of the app sees the client those proxies name
        middleware.insert(
            0,
            Middleware(
                ProxyHeadersMiddleware,
                trusted_hosts=trusted_networks(settings.server.trusted_proxies),
            ),
        )
    webhooks = Webhooks(settings, lambda: app.state.live, time.time)
    routes = [
        Route("/graphql", view),
        WebSocketRoute("/graphql", view),  # subscriptions over graphql-transport-ws
        Route("/webhooks/{source}", webhooks.handle, methods=["POST"]),
        Route("/export", ExportEndpoint(service)),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        *([graphiql_page.static_route()] if view.graphql_ide else []),
    ]
    if settings.server.metrics:
        routes.append(Route("/metrics", metrics_text, methods=["GET"]))
    app = Starlette(
        routes=routes,
        middleware=middleware,
        exception_handlers={Exception: internal_error},
        lifespan=lifespan,
    )
    return app


def live_orders(settings: Settings, sources: Mapping[str, Source], store: Store) -> LiveOrders:
    """Live order events of this process: a bus of its subscribers, a poller per polling
    source; with Redis, events shared by every replica and one poller per source."""
    conf = settings.events
    bus = MemoryBus(
        retention_s=conf.retention_s,
        per_client=settings.security.limits.max_subscriptions_per_client,
        total=conf.max_subscriptions,
        buffer=conf.buffer,
    )
    intervals = {name: src.poll_interval_s for name, src in settings.sources.items()}
    live = LiveOrders(bus, sources, intervals)
    if settings.cache.url:
        live.share_through(store, settings.cache.url, conf.retention_s)
    return live


def trusted_networks(proxies: Sequence[str]) -> list[str]:
    """``[server] trusted_proxies`` as networks: uvicorn's middleware takes an entry with a
    host part ("10.0.0.1/8") for a name, not a network, so each is normalised first."""
    return [str(ipaddress.ip_network(item, strict=False)) for item in proxies]


class BodyLimit:
    """Refuses a request body over ``max_bytes`` with 413, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app, self.max_bytes = app, max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = next((v for k, v in scope["headers"] if k == b"content-length"), None)
        if declared is not None and declared.isdigit():
            digits = declared.lstrip(b"0")  # counted first: int() refuses over 4,300
            if len(digits) > len(str(self.max_bytes)) or int(digits or b"0") > self.max_bytes:
                await self._refuse(scope, receive, send)
            else:  # the server reads exactly the declared length: nothing to count
                await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                await self._refuse(scope, receive, send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        body = {
            "errors": [
                {
                    "message": f"the request body is over {self.max_bytes} bytes",
                    "extensions": {"code": BAD_USER_INPUT},
                }
            ]
        }
        await Response(dumps(body), 413, media_type="application/json")(scope, receive, send)
