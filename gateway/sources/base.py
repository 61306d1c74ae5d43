"""What every adapter implements, and the settings every source table shares."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, TypeAlias, TypeVar

from pydantic import AnyHttpUrl, BaseModel, ConfigDict, Field

from gateway.domain import Customer, Order, OrderPage, OrderQuery, SourceKind

#: How sources reach the wire (``[performance] http_transport``; bench/README.md).
HttpTransport: TypeAlias = Literal["aiohttp", "httpx-aiohttp", "httpx"]


class SourceSettings(BaseModel):
    """Keys every `[sources.<name>]` table accepts; each kind adds its own."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: str = Field(description="the backend's kind (docs/backends.md)")
    base_url: AnyHttpUrl = Field(description="the backend API's root URL")
    timeout_s: float = Field(
        default=10.0, gt=0, le=300, description="seconds one backend call may take"
    )
    max_concurrency: int = Field(
        default=10, ge=1, le=1000, description="backend calls of this source in flight at once"
    )
    retries: int = Field(
        default=2,
        ge=0,
        le=10,
        description="retries of a GET after a connection error, timeout, 429, 502, 503 or 504",
    )
    pushdown: bool = Field(
        default=True,
        description="false: never push list filters down to the backend, filter in the "
        "gateway only",
    )
    breaker_threshold: int = Field(
        default=5,
        ge=1,
        le=1000,
        description="consecutive failed calls that open the circuit (calls then fail at once)",
    )
    breaker_cooldown_s: float = Field(
        default=30.0,
        gt=0,
        le=3600,
        description="how long an open circuit stays open before one trial call",
    )
    retry_after_cap_s: float = Field(
        default=30.0,
        ge=0,
        le=600,
        description="the longest wait a Retry-After can ask for; a longer one waits only this long",
    )
    rate_limit: int | None = Field(
        default=None,
        ge=0,
        description="client-side rate limit: at most this many calls per rate_window_s "
        '(unset or 0: none); one budget for all replicas with [cache] backend = "redis"',
    )
    rate_window_s: float = Field(
        default=10.0, gt=0, le=3600, description="the window of rate_limit, in seconds"
    )
    bulk_share: float = Field(
        default=0.5,
        ge=0,
        le=1,
        description="while interactive calls are present, bulk calls (/export, bulk keys) get"
        " at most this share of rate_limit per window; with none, bulk uses the whole budget",
    )
    rate_wait_s: float = Field(
        default=2.0,
        ge=0,
        le=600,
        description="the longest a call waits for a slot of the rate budget; then "
        "BACKEND_RATE_LIMITED",
    )
    cache_ttl_s: float = Field(
        default=0.0,
        ge=0,
        le=86400,
        description="orders, customers and list pages are reused this long (0: not cached)",
    )
    poll_interval_s: float = Field(
        default=0.0,
        ge=0,
        le=86400,
        description="look at the newest orders this often for live events (one list call; "
        "0: never)",
    )
    stale_if_error_s: float = Field(
        default=0.0,
        ge=0,
        le=7 * 86400,
        description="when the backend fails or its budget is spent, a cached copy up to "
        "this much older than its TTL answers, with a STALE warning",
    )

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
        query (one for most kinds; one per configured customer for Adobe; one per status
        value asked for where the list takes one; none when no order can match)."""
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
class Simulated:
    """A kind's built-in simulator, for ``gateway simulate``, the demo and the tests."""

    #: import path of a module with ``sample_data(count=...)``, ``create_app(data, ...)``
    #: and ``demo_source(base_url, ...)`` (imported only when a simulator is wanted)
    module: str
    #: the name the demo gives its source of this kind (as in docs/)
    demo_name: str
    #: for credentials that renew (``gateway demo``): the keyword arguments of
    #: ``demo_source``, given the file a rotated refresh token may be kept in
    renewing: Callable[[str | None], Mapping[str, Any]] | None = None
    #: the simulator enforces the backend's documented rate limit (``create_app``'s
    #: ``rate_limit``), which ``gateway simulate --no-rate-limit`` switches off, and its
    #: demo source's client-side budget with it
    rate_limited: bool = False


@dataclass(frozen=True)
class Adapter:
    """How the registry builds one kind: its kind, its settings model, its source class
    and its simulator. Everything the gateway knows of a kind comes from here."""

    #: the sourceKind its objects report (a user's manifest: MANIFEST, or the kind it names)
    kind: SourceKind
    settings: type[SourceSettings]
    #: called as create(name, settings, transport=None, clock=None,
    #: http_transport="aiohttp", cache=None, coalesce=True, tracer=None,
    #: metrics=True, workers=1) → a Source
    create: Callable[..., Source]
    #: the kind's built-in simulator (None: it has none)
    simulator: Simulated | None = None
    #: the settings model for one table, where it depends on the table (a user's manifest)
    settings_for: Callable[[Mapping[str, Any]], type[SourceSettings]] | None = None

    @property
    def config_name(self) -> str:
        """The kind's name in configs (``kind = "..."``)."""
        return self.kind.value

    def settings_model(self, table: Mapping[str, Any]) -> type[SourceSettings]:
        return self.settings if self.settings_for is None else self.settings_for(table)
