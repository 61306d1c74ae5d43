"""What every adapter implements, and the settings every source table shares."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypeAlias, TypeVar

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from gateway.domain import Customer, Order, OrderPage, OrderQuery, SourceKind

#: How sources reach the wire (``[performance] http_transport``; bench/README.md).
HttpTransport: TypeAlias = Literal["aiohttp", "httpx-aiohttp", "httpx"]


class SourceSettings(BaseModel):
    """Keys every `[sources.<name>]` table accepts; each kind adds its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str
    base_url: AnyHttpUrl
    timeout_s: float = Field(default=10.0, gt=0, le=300)
    max_concurrency: int = Field(default=10, ge=1, le=1000)
    retries: int = Field(default=2, ge=0, le=10)
    #: false: never push list filters down to the backend, filter in the gateway only
    pushdown: bool = True
    #: consecutive failed calls that open the circuit, and how long it stays open
    breaker_threshold: int = Field(default=5, ge=1, le=1000)
    breaker_cooldown_s: float = Field(default=30.0, gt=0, le=3600)
    #: the longest wait a Retry-After can ask for; a longer one waits only this long
    retry_after_cap_s: float = Field(default=30.0, ge=0, le=600)
    #: client-side rate limit: at most rate_limit calls per rate_window_s (unset or 0: none)
    rate_limit: int | None = Field(default=None, ge=0)
    rate_window_s: float = Field(default=10.0, gt=0, le=3600)
    #: while interactive calls are present, bulk calls (/export, bulk keys) get at most
    #: this share of rate_limit per window; with none, bulk uses the whole budget
    bulk_share: float = Field(default=0.5, ge=0, le=1)
    #: the longest a call waits for a slot of the rate budget; then BACKEND_RATE_LIMITED
    rate_wait_s: float = Field(default=2.0, ge=0, le=600)
    #: orders, customers and list pages are reused this long (0: not cached)
    cache_ttl_s: float = Field(default=0.0, ge=0, le=86400)
    #: when the backend fails or its budget is spent, a cached copy up to this much older
    #: than its TTL answers, with a STALE warning
    stale_if_error_s: float = Field(default=0.0, ge=0, le=7 * 86400)

    def secrets(self) -> list[str]:
        """Credential values that must never appear in a response, error or log."""
        return []

    def check_with_cache(self, cache_backend: str) -> str | None:
        """What this table lacks to work with the ``[cache]`` backend ("key: why")."""
        return None


# A result per requested key: the object, None when the backend says it does not
# exist, or the exception that cost only this key.
T = TypeVar("T")
Fetched: TypeAlias = T | BaseException | None


class Source(Protocol):
    """One configured backend instance, as the loaders and the lister see it."""

    @property
    def name(self) -> str: ...

    @property
    def kind(self) -> SourceKind: ...

    @property
    def healthy(self) -> bool:
        """False while the backend's last answer was a failure to answer."""
        ...

    async def get_orders(self, ids: Sequence[str]) -> list[Fetched[Order]]:
        """Complete orders by the backend's own ids, one result per id."""
        ...

    async def get_customers(self, ids: Sequence[str]) -> list[Fetched[Customer]]:
        """Complete customers by the backend's own ids, one result per id."""
        ...

    @property
    def list_page_size(self) -> int:
        """The most orders one call of the backend's list endpoint returns."""
        ...

    def streams(self, query: OrderQuery) -> Sequence[str]:
        """The independently paged, newest-first order lists this source has for the
        query (one for most kinds; one per configured customer for Adobe)."""
        ...

    async def list_orders(
        self, stream: str, query: OrderQuery, offset: int, limit: int
    ) -> OrderPage:
        """Up to ``limit`` orders of one stream from ``offset``, newest first. Filters
        may be pushed down partially; the gateway applies ``query`` exactly afterwards."""
        ...

    async def find_customers(self, email: str) -> list[Customer]:
        """Every customer of this source whose email equals ``email``, ignoring case."""
        ...

    async def aclose(self) -> None: ...


@dataclass(frozen=True)
class Adapter:
    """How the registry builds one kind: its settings model and its source class."""

    kind: SourceKind
    settings: type[SourceSettings]
    #: called as create(name, settings, transport=None, clock=None,
    #: http_transport="aiohttp", cache=None, coalesce=True, tracer=None,
    #: metrics=True, workers=1) → a Source
    create: Callable[..., Source]
