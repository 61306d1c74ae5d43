"""Settings and the TOML loader.

The file's shape is public (docs/configuration.md). ``${NAME}`` anywhere in a string value is read
from the environment at load time; a bad file is one line naming the source and key.
"""

from __future__ import annotations

import difflib
import ipaddress
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.errors import ConfigError
from gateway.sources.base import HttpTransport, SourceSettings
from gateway.sources.manifest import ManifestError
from gateway.sources.registry import ADAPTERS
from gateway.state.sealing import decode_key

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = Field(
        default="127.0.0.1", description="the address `gateway serve` listens on (--host wins)"
    )
    port: int = Field(
        default=8000,
        ge=0,
        le=65535,
        description="the port `gateway serve` listens on (--port, then $PORT, win)",
    )
    access_log: bool = Field(
        default=True, description="one log line per HTTP request (uvicorn's access log)"
    )
    http_parser: Literal["httptools", "h11"] = Field(
        default="httptools",
        description="uvicorn's HTTP/1.1 parser: httptools (C, the fast one) or h11 (pure Python)",
    )
    metrics: bool = Field(
        default=True,
        description="serve /metrics in the Prometheus text format (docs/operations.md)",
    )
    log_format: Literal["text", "json"] = Field(
        default="text",
        description='"text": one readable line per record; "json": one JSON object per line',
    )
    log_level: Literal["debug", "info", "warning", "error"] = Field(
        default="info",
        description='"debug" adds one line per backend call (source, status, duration)',
    )
    federation: bool = Field(
        default=False,
        description="serve the schema as an Apollo Federation 2 subgraph (docs/federation.md)",
    )
    trusted_proxies: tuple[str, ...] = Field(
        default=(),
        description='addresses or networks ("10.0.0.0/8") of the reverse proxies whose'
        " X-Forwarded-For is believed: the client is the last address in it that is not one of"
        " them; empty: the connection's peer is the client, whatever a header says",
    )

    @field_validator("trusted_proxies")
    @classmethod
    def _addresses(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for item in value:
            try:
                ipaddress.ip_network(item, strict=False)
            except ValueError:
                raise ValueError(
                    f"{item!r} is not an IP address or network (such as 10.0.0.0/8)"
                ) from None
        return value


class ApiKeySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="the key's name: in logs and metrics, never the key itself")
    key: str | None = Field(
        default=None,
        description='the key as clients send it ("Authorization: Bearer <key>" or '
        '"X-Api-Key: <key>"); give this or key_sha256',
    )
    key_sha256: str | None = Field(
        default=None,
        pattern=r"^[0-9a-fA-F]{64}$",
        description="the key's sha256 as 64 hex digits, so the file does not hold the key",
    )
    scopes: tuple[str, ...] = Field(
        default=(), description='what the key may read: "orders:read", "pii:read", "raw:read"'
    )
    sources: tuple[str, ...] | None = Field(
        default=None,
        description="the only sources this key sees, not even by id (all when not given)",
    )
    requests_per_minute: int = Field(
        default=0,
        ge=0,
        description="this key's quota of requests per minute (0: none); over it: HTTP 429,"
        " CLIENT_RATE_LIMITED",
    )
    bulk: bool = Field(
        default=False,
        description="every request of this key is bulk: rate budgets serve interactive"
        " traffic first (bulk_share)",
    )

    @model_validator(mode="after")
    def _one_secret(self) -> ApiKeySettings:
        if (self.key is None) == (self.key_sha256 is None):
            raise ValueError("give exactly one of key and key_sha256")
        return self


class JwtSettings(BaseModel):
    """Bearer JWTs as credentials (`exp` required): HS256 with a shared secret or RS256 with
    a public key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    algorithm: Literal["HS256", "RS256"] = Field(
        default="HS256",
        description="HS256 (a shared secret) or RS256 (the issuer's public key)",
    )
    secret: str | None = Field(default=None, description="the shared secret, for HS256")
    public_key: str | None = Field(default=None, description="the PEM public key, for RS256")
    issuer: str | None = Field(
        default=None, description="the `iss` every token must carry (not checked when unset)"
    )
    audience: str | None = Field(
        default=None, description="the `aud` every token must carry (not checked when unset)"
    )
    scope_claim: str = Field(
        default="scope",
        description="the claim holding space-separated scopes (OAuth style), or a list",
    )
    sources_claim: str = Field(
        default="sources",
        description="the claim holding a list of sources the token may read (all when absent)",
    )

    @model_validator(mode="after")
    def _key_for_algorithm(self) -> JwtSettings:
        if self.algorithm == "HS256" and not self.secret:
            raise ValueError("HS256 needs secret")
        if self.algorithm == "RS256" and not self.public_key:
            raise ValueError("RS256 needs public_key")
        return self


class LimitSettings(BaseModel):
    """Checked before any backend call; over one, the query is QUERY_TOO_COMPLEX."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_depth: int = Field(default=10, ge=1, description="the deepest selection nesting")
    max_aliases: int = Field(
        default=30, ge=0, description="aliases in one document, `__typename`'s included"
    )
    max_directives: int = Field(
        default=50,
        ge=0,
        description="directives written in one document, known or not (counted before validation)",
    )
    max_tokens: int = Field(default=2000, ge=1, description="lexical tokens in one document")
    max_cost: int = Field(
        default=2000,
        ge=1,
        description="the estimated number of backend requests one query may cause",
    )
    max_page_size: int = Field(
        default=500, ge=1, description="the largest `first` a connection field accepts"
    )
    max_body_bytes: int = Field(
        default=1_000_000, ge=1024, description="the largest request body; a larger one is HTTP 413"
    )
    requests_per_minute_per_client: int = Field(
        default=0,
        ge=0,
        description="the quota of each JWT subject (`sub`) and each anonymous client (by"
        " address), requests per minute; 0 is none (an API key has its own)",
    )
    max_subscriptions_per_client: int = Field(
        default=20,
        ge=0,
        description="open subscriptions one client (credential, or anonymous address) may hold",
    )


class SecuritySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    require_auth: bool = Field(
        default=True,
        description="false: callers without a credential get anonymous_scopes instead of HTTP 401",
    )
    anonymous_scopes: tuple[str, ...] = Field(
        default=(), description="the scopes of a caller without a credential (require_auth = false)"
    )
    introspection: bool = Field(
        default=False,
        description='answer __schema and __type, serve GraphiQL and say "Did you mean ...?"',
    )
    api_keys: tuple[ApiKeySettings, ...] = Field(
        default=(), description="the API keys: one [[security.api_keys]] table each"
    )
    jwt: JwtSettings | None = Field(
        default=None, description="accept Bearer JWTs as credentials too (`exp` required)"
    )
    cors_origins: tuple[str, ...] = Field(
        default=(), description="origins allowed to call from a browser (CORS); none by default"
    )
    limits: LimitSettings = Field(
        default=LimitSettings(), description="query limits checked before any backend call"
    )
    persisted_queries: Path | None = Field(
        default=None,
        description='a manifest {"<sha256>": "<document>"} of trusted documents, checked at '
        "start-up (relative to the working directory)",
    )
    persisted_only: bool = Field(
        default=False,
        description="run only the manifest's documents (PERSISTED_QUERY_NOT_IN_LIST for any other)",
    )

    @model_validator(mode="after")
    def _list_for_only(self) -> SecuritySettings:
        if self.persisted_only and self.persisted_queries is None:
            raise ValueError("persisted_only = true needs persisted_queries (a manifest file)")
        return self


class PerformanceSettings(BaseModel):
    """The levers measured in bench/ (README there); the defaults are the fast ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    http_transport: HttpTransport = Field(
        default="aiohttp",
        description='"aiohttp": aiohttp directly; "httpx-aiohttp": httpx over httpx-aiohttp\'s '
        'transport; "httpx": httpx with its own connection pool',
    )
    query_caches: bool = Field(
        default=True, description="cache parses, validations and query analyses per query text"
    )
    loaders: bool = Field(
        default=True,
        description="false: the naive gateway, every load its own backend call (for "
        "comparison only)",
    )
    #: A request's objects are freed by reference counting as it ends, so collections
    #: only rescan what requests in flight still hold.
    gc_freeze: bool = Field(
        default=True,
        description="`gateway serve` and `gateway demo` move the objects that exist at start "
        "(modules, schema, config) out of the cycle collector's reach (gc.freeze)",
    )
    gc_young_threshold: int = Field(
        default=7000,
        ge=0,
        description="run a young collection every this many (net) allocations, not "
        "Python's 700 (0 keeps Python's default)",
    )


class CacheSettings(BaseModel):
    """Where cached answers, rate budgets (and what else replicas share) live."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    backend: Literal["memory", "redis"] = Field(
        default="memory",
        description='"memory": this process only; "redis": shared by every worker and replica',
    )
    url: str | None = Field(
        default=None, description='redis://[:password@]host:6379/0, for backend = "redis"'
    )
    max_entries: int = Field(
        default=50_000,
        ge=1,
        description="the memory store's size; the least recently used entries go first",
    )
    encryption_key: str | None = Field(
        default=None,
        description="32 random bytes, base64: what Redis holds (cached bodies, APQ documents,"
        ' tokens) is sealed with it (AES-GCM); required with backend = "redis", unused by the'
        " memory store",
    )
    encryption_key_previous: str | None = Field(
        default=None,
        description="the key before the current one, while rotating: what it sealed is still read",
    )

    @field_validator("encryption_key", "encryption_key_previous")
    @classmethod
    def _a_key(cls, value: str | None) -> str | None:
        if value is not None:
            decode_key(value)
        return value

    @model_validator(mode="after")
    def _url_for_redis(self) -> CacheSettings:
        if self.backend == "redis" and not self.url:
            raise ValueError('backend = "redis" needs url (redis://host:6379/0)')
        if self.backend == "redis" and not self.encryption_key:
            raise ValueError(
                'backend = "redis" needs encryption_key (32 random bytes, base64; make one '
                'with: python -c "import os,base64;print(base64.b64encode(os.urandom(32))'
                '.decode())")'
            )
        if self.encryption_key_previous and not self.encryption_key:
            raise ValueError("encryption_key_previous needs encryption_key (the new key)")
        if self.url is not None and not self.url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("url must start with redis://, rediss:// or unix://")
        return self


class EventSettings(BaseModel):
    """Live order events (docs/live.md): how long they are kept for resuming, and how many
    subscribers the gateway serves."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    retention_s: float = Field(
        default=3600,
        gt=0,
        le=7 * 86400,
        description="events are kept this long for resuming (Last-Event-ID); an older resume "
        "point is EVENTS_EXPIRED",
    )
    max_subscriptions: int = Field(
        default=10_000, ge=0, description="open subscriptions of this process, all clients"
    )
    buffer: int = Field(
        default=256,
        ge=1,
        le=100_000,
        description="events one subscriber may fall behind before it is dropped with "
        "SUBSCRIBER_TOO_SLOW",
    )


class Settings(BaseModel):
    """Everything the gateway is configured with."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    server: ServerSettings = Field(
        default=ServerSettings(), description="the HTTP server, logs and /metrics"
    )
    sources: Mapping[str, SourceSettings] = Field(
        default_factory=dict,
        description="the backends: one [sources.<name>] table each, the key its name",
    )
    security: SecuritySettings = Field(
        default=SecuritySettings(), description="who may ask what, and query limits"
    )
    performance: PerformanceSettings = Field(
        default=PerformanceSettings(), description="the levers measured in bench/"
    )
    cache: CacheSettings = Field(
        default=CacheSettings(),
        description="where cached answers and rate budgets live (this process, or Redis)",
    )
    events: EventSettings = Field(
        default=EventSettings(), description="live order events: retention and subscribers"
    )

    def secrets(self) -> list[str]:
        values = [s for src in self.sources.values() for s in src.secrets()]
        values += [k.key for k in self.security.api_keys if k.key]
        jwt = self.security.jwt
        password = urlsplit(self.cache.url).password if self.cache.url else None
        values += [password] if password else []
        keys = (self.cache.encryption_key, self.cache.encryption_key_previous)
        values += [k for k in keys if k]
        return values + ([jwt.secret] if jwt is not None and jwt.secret else [])


class Environment(BaseSettings):
    """What the process environment may say: where the config is, and the port."""

    model_config = SettingsConfigDict(extra="ignore")

    gateway_config: Path | None = None
    port: int | None = Field(default=None, ge=0, le=65535)
    #: set by `gateway serve --workers N` for its worker processes
    gateway_workers: int = Field(default=1, ge=1)


def _substitute(value: Any, where: str) -> Any:
    if isinstance(value, str):

        def lookup(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in os.environ:
                raise ConfigError(f"{where}: environment variable {name} is not set")
            return os.environ[name]

        return _VAR.sub(lookup, value)
    if isinstance(value, dict):
        return {k: _substitute(v, f"{where}.{k}" if where else k) for k, v in value.items()}
    if isinstance(value, list):
        return [_substitute(v, f"{where}[{i}]") for i, v in enumerate(value)]
    return value


def _describe(error: ValidationError, prefix: str, model: type[BaseModel]) -> str:
    first = error.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    where = f"{prefix}.{loc}" if prefix and loc else prefix or loc
    if first["type"] == "extra_forbidden":
        known = list(model.model_fields)
        guess = difflib.get_close_matches(str(first["loc"][-1]), known, n=1)
        hint = f" (did you mean '{guess[0]}'?)" if guess else ""
        return f"{where}: unknown key{hint}"
    if first["type"] == "missing":
        return f"{where}: required key is missing"
    return f"{where}: {first['msg']}"


def settings_from_mapping(mapping: Mapping[str, Any]) -> Settings:
    """Validate an already-parsed config; raises ConfigError with one line."""
    data: dict[str, Any] = _substitute(dict(mapping), "")
    raw_sources = data.pop("sources", {}) or {}
    if not isinstance(raw_sources, dict):
        raise ConfigError("sources: must be a table of [sources.<name>] tables")
    sources: dict[str, SourceSettings] = {}
    for name, table in raw_sources.items():
        where = f"sources.{name}"
        if not _SOURCE_NAME.match(name):
            raise ConfigError(f"{where}: a source name may hold letters, digits, '_', '.', '-'")
        if not isinstance(table, dict):
            raise ConfigError(f"{where}: must be a table")
        kind = table.get("kind")
        if kind is None:
            raise ConfigError(f"{where}.kind: required key is missing")
        adapter = ADAPTERS.get(str(kind))
        if adapter is None:
            raise ConfigError(
                f"{where}.kind: unknown kind '{kind}' (known: {', '.join(sorted(ADAPTERS))})"
            )
        try:
            model = adapter.settings_model(table)
            sources[name] = model.model_validate(table)
        except ManifestError as exc:
            raise ConfigError(f"{where}.manifest: {exc}") from None
        except ValidationError as exc:
            raise ConfigError(_describe(exc, where, model)) from None
    try:
        settings = Settings.model_validate({**data, "sources": sources})
    except ValidationError as exc:
        raise ConfigError(_describe(exc, "", Settings)) from None
    for name, source in settings.sources.items():
        if (problem := source.check_with_cache(settings.cache.backend)) is not None:
            raise ConfigError(f"sources.{name}.{problem}")
    return settings


def load_settings(path: Path) -> Settings:
    """Read and validate a TOML config file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read the config file ({exc.strerror})") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from None
    return settings_from_mapping(data)
