"""A base for adapters over REST APIs: per-key results, bounded fan-out, shape errors.

Adapters subclass it and implement only the backend-specific calls; this class turns a
normalizer's complaint about a payload into a BACKEND_ERROR for that one object.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Awaitable, Callable, Sequence
from typing import ClassVar, Generic, TypeVar
from urllib.parse import quote

import httpx
from httpx_aiohttp import AiohttpTransport
from opentelemetry.trace import Tracer

from gateway.cache.policy import CachePolicy, namespace, wall_seconds
from gateway.cache.store import Store
from gateway.clock import Clock, SystemClock
from gateway.concurrency import gather
from gateway.credentials.base import Credential
from gateway.credentials.build import TokenGrant, renewing
from gateway.domain import Customer, Order, OrderPage, OrderQuery, SourceKind
from gateway.errors import GatewayError, misshapen
from gateway.redact import SecretMasker
from gateway.resilience.breaker import CircuitBreaker
from gateway.resilience.budget import build_budget
from gateway.resilience.retry import RetryPolicy
from gateway.sources.base import Fetched, HttpTransport, SourceSettings
from gateway.sources.exchange import AiohttpExchange, Exchange, HttpxExchange
from gateway.sources.http import BackendHttp, ErrorReader, read_detail_error
from gateway.sources.observed import ObservedExchange
from gateway.values import SHAPE_ERRORS

S = TypeVar("S", bound=SourceSettings)
T = TypeVar("T")


def page_window(offset: int, limit: int, largest: int) -> tuple[int, int, int]:
    """For APIs paged by number: (page, page_size, items to skip) covering ``offset``.

    A page starts at a multiple of its size, so a size brings ``size - offset % size``
    orders from ``offset`` on: the smallest size that brings ``limit`` of them is chosen
    (one that divides the offset re-reads nothing), else the one that brings the most.
    From offset 199 a page of 100 would bring 1; a page of 99 brings 98.
    """
    wanted = min(max(limit, 1), largest)

    def brings(size: int) -> int:
        return size - offset % size

    size = next((s for s in range(wanted, largest + 1) if brings(s) >= wanted), 0)
    size = size or max(range(1, largest + 1), key=brings)
    page = offset // size + 1
    return page, size, offset - (page - 1) * size


def segment(value: str) -> str:
    """One URL path segment: an id can never climb out of its path."""
    return quote(value, safe="")


class RestSource(ABC, Generic[S]):
    """Shared mechanics of a source; see :class:`gateway.sources.base.Source`."""

    kind: ClassVar[SourceKind]
    #: the largest page of the backend's order list (docs/backends.md)
    list_page_size: ClassVar[int]
    read_error: ClassVar[ErrorReader] = staticmethod(read_detail_error)
    #: the header carrying the gateway's request id to the backend (None: none, or the
    #: adapter sends it under its own name)
    request_id_header: ClassVar[str | None] = "X-Request-Id"

    def __init__(
        self,
        name: str,
        settings: S,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
        clock: Clock | None = None,
        http_transport: HttpTransport = "aiohttp",
        cache: Store | None = None,
        coalesce: bool = True,
        tracer: Tracer | None = None,
        metrics: bool = True,
        workers: int = 1,
    ) -> None:
        self.name = name
        self.settings = settings
        clock = clock or SystemClock()
        exchange = ObservedExchange(
            self._exchange(transport, http_transport),
            source=name,
            kind=self.kind.value,
            request_id_header=self.request_id_header,
            tracer=tracer,
            metrics=metrics,
        )
        space = namespace(name, self.kind.value, str(settings.base_url), settings.secrets())
        masker = SecretMasker(settings.secrets())
        #: a token that renews itself, or None for a fixed token (sent by the exchange)
        self.credential = self.renewing_credential(cache, clock, masker.add)
        self.http = BackendHttp(
            source=name,
            exchange=exchange,
            masker=masker,
            read_error=type(self).read_error,
            max_concurrency=settings.max_concurrency,
            retry=RetryPolicy(
                settings.retries, clock, retry_after_cap_s=settings.retry_after_cap_s
            ),
            breaker=CircuitBreaker(
                name,
                clock,
                threshold=settings.breaker_threshold,
                cooldown_s=settings.breaker_cooldown_s,
            ),
            budget=build_budget(
                cache.connection if cache is not None else None,
                source=name,
                namespace=space,
                limit=settings.rate_limit,
                window_s=settings.rate_window_s,
                max_wait_s=settings.rate_wait_s,
                clock=clock,
                workers=workers,
                bulk_share=settings.bulk_share,
            ),
            cache=CachePolicy(
                cache,
                settings.cache_ttl_s,
                settings.stale_if_error_s,
                space,
                now=wall_seconds(clock),
            )
            if cache is not None and settings.cache_ttl_s > 0
            else None,
            coalesce=coalesce,
            attempt_headers=self.attempt_headers,
            credential=self.credential,
        )

    def _exchange(
        self, transport: httpx.AsyncBaseTransport | None, http_transport: HttpTransport
    ) -> Exchange:
        conf = self.settings
        if transport is None and http_transport == "aiohttp":
            return AiohttpExchange(
                self.name,
                str(conf.base_url),
                self.headers(),
                timeout_s=conf.timeout_s,
                max_connections=conf.max_concurrency,
            )
        limits = httpx.Limits(
            max_connections=conf.max_concurrency, max_keepalive_connections=conf.max_concurrency
        )
        if transport is None and http_transport == "httpx-aiohttp":
            transport = AiohttpTransport(limits=limits)
        client = httpx.AsyncClient(
            base_url=str(conf.base_url),
            headers=self.headers(),
            timeout=conf.timeout_s,
            transport=transport,
            limits=limits,
        )
        return HttpxExchange(self.name, client)

    # -- what each adapter provides -------------------------------------------------
    @abstractmethod
    def headers(self) -> dict[str, str]:
        """Headers sent on every call (authentication, API version)."""

    def attempt_headers(self) -> dict[str, str]:
        """Headers made anew for every attempt of a call (none unless a kind needs them)."""
        return {}

    def token_grant(self) -> TokenGrant | None:
        """How the source's token renews itself (then ``headers`` leave Authorization
        out); None: a fixed token. Kinds with a token endpoint override it."""
        return None

    def renewing_credential(
        self, cache: Store | None, clock: Clock, remember: Callable[[str], None]
    ) -> Credential | None:
        """The renewing token of ``token_grant``, kept where the cache says; ``remember``
        is told every token it gets, to mask it. None: a fixed token."""
        given = self.token_grant()
        if given is None:
            return None
        return renewing(
            self.name,
            given.grant,
            client_id=given.client_id,
            cache=cache,
            clock=clock,
            remember=remember,
            timeout_s=self.settings.timeout_s,
            configured_refresh=given.refresh_token,
            token_store=given.token_store,
        )

    @abstractmethod
    async def fetch_order(self, source_id: str) -> Order | None: ...

    @abstractmethod
    async def fetch_customer(self, source_id: str) -> Customer | None: ...

    @abstractmethod
    async def fetch_list(
        self, stream: str, query: OrderQuery, offset: int, limit: int
    ) -> OrderPage: ...

    @abstractmethod
    async def fetch_customers_by_email(self, email: str) -> list[Customer]: ...

    def streams(self, query: OrderQuery) -> Sequence[str]:
        return ("",)

    # -- the Source protocol --------------------------------------------------------
    @property
    def healthy(self) -> bool:
        return self.http.healthy

    async def get_orders(self, ids: Sequence[str]) -> list[Fetched[Order]]:
        return await gather(*(self._one("order", i, self.fetch_order(i)) for i in ids))

    async def get_customers(self, ids: Sequence[str]) -> list[Fetched[Customer]]:
        return await gather(*(self._one("customer", i, self.fetch_customer(i)) for i in ids))

    async def list_orders(
        self, stream: str, query: OrderQuery, offset: int, limit: int
    ) -> OrderPage:
        return await self._shaped(
            "order list", stream or "-", self.fetch_list(stream, query, offset, limit)
        )

    async def find_customers(self, email: str) -> list[Customer]:
        if not email.strip():
            # no customer has an empty email, and a backend's empty filter matches them all
            return []
        return await self._shaped("customer search", "-", self.fetch_customers_by_email(email))

    async def aclose(self) -> None:
        await self.http.aclose()
        if self.credential is not None:
            await self.credential.aclose()

    # -- helpers ----------------------------------------------------------------------
    async def _one(self, what: str, object_id: str, work: Awaitable[T]) -> Fetched[T]:
        try:
            return await self._shaped(what, object_id, work)
        except GatewayError as exc:
            return exc

    async def _shaped(self, what: str, object_id: str, work: Awaitable[T]) -> T:
        try:
            return await work
        except SHAPE_ERRORS as exc:
            raise misshapen(self.name, what, object_id, exc) from None
