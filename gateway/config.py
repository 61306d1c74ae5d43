"""Settings and the TOML loader.

The file's shape is public (DESIGN.md). ``${NAME}`` anywhere in a string value is read
from the environment at load time; a bad file is one line naming the source and key.
"""

from __future__ import annotations

import difflib
import os
import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from gateway.errors import ConfigError
from gateway.sources.base import HttpTransport, SourceSettings
from gateway.sources.registry import ADAPTERS

_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_SOURCE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


class ServerSettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=0, le=65535)
    #: one log line per HTTP request (uvicorn's access log)
    access_log: bool = True
    #: uvicorn's HTTP/1.1 parser: httptools (C, the fast one) or h11 (pure Python)
    http_parser: Literal["httptools", "h11"] = "httptools"
    #: /metrics in the Prometheus text format (DESIGN.md, "Operating it")
    metrics: bool = True
    #: "text": one readable line per record; "json": one JSON object per line
    log_format: Literal["text", "json"] = "text"
    #: "debug" adds one line per backend call (source, status, duration)
    log_level: Literal["debug", "info", "warning", "error"] = "info"


class ApiKeySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    key: str | None = None
    key_sha256: str | None = Field(default=None, pattern=r"^[0-9a-fA-F]{64}$")
    scopes: tuple[str, ...] = ()
    sources: tuple[str, ...] | None = None
    #: every request of this key is bulk: it yields rate budgets to interactive traffic
    bulk: bool = False

    @model_validator(mode="after")
    def _one_secret(self) -> ApiKeySettings:
        if (self.key is None) == (self.key_sha256 is None):
            raise ValueError("give exactly one of key and key_sha256")
        return self


class JwtSettings(BaseModel):
    """Bearer JWTs as credentials: HS256 with a shared secret or RS256 with a public key."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    algorithm: Literal["HS256", "RS256"] = "HS256"
    secret: str | None = None
    public_key: str | None = None
    issuer: str | None = None
    audience: str | None = None
    #: the claim holding space-separated scopes (OAuth style), or a list
    scope_claim: str = "scope"
    #: the claim holding a list of sources the token may read (all when absent)
    sources_claim: str = "sources"

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

    max_depth: int = Field(default=10, ge=1)
    max_aliases: int = Field(default=30, ge=0)
    #: directives written in one document, known or not (counted before validation)
    max_directives: int = Field(default=50, ge=0)
    max_tokens: int = Field(default=2000, ge=1)
    #: the estimated number of backend requests one query may cause
    max_cost: int = Field(default=2000, ge=1)
    max_page_size: int = Field(default=500, ge=1)
    max_body_bytes: int = Field(default=1_000_000, ge=1024)


class SecuritySettings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    require_auth: bool = True
    anonymous_scopes: tuple[str, ...] = ()
    introspection: bool = False
    api_keys: tuple[ApiKeySettings, ...] = ()
    jwt: JwtSettings | None = None
    #: origins allowed to call from a browser (CORS); none by default
    cors_origins: tuple[str, ...] = ()
    limits: LimitSettings = LimitSettings()
    #: a manifest {"<sha256>": "<document>"} checked at start-up (gateway.persisted)
    persisted_queries: Path | None = None
    #: run only the manifest's documents (PERSISTED_QUERY_NOT_IN_LIST for any other)
    persisted_only: bool = False

    @model_validator(mode="after")
    def _list_for_only(self) -> SecuritySettings:
        if self.persisted_only and self.persisted_queries is None:
            raise ValueError("persisted_only = true needs persisted_queries (a manifest file)")
        return self


class PerformanceSettings(BaseModel):
    """The levers measured in bench/ (README there); the defaults are the fast ones."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: "aiohttp": aiohttp directly; "httpx-aiohttp": httpx over httpx-aiohttp's
    #: transport; "httpx": httpx with its own connection pool
    http_transport: HttpTransport = "aiohttp"
    #: parses, validations and query analyses cached per query text
    query_caches: bool = True
    #: false: the naive gateway, every load its own backend call (for comparison only)
    loaders: bool = True
    #: `gateway serve` and `gateway demo` move the objects that exist at start (modules,
    #: schema, config) out of the cycle collector's reach (``gc.freeze``)...
    gc_freeze: bool = True
    #: ...and run a young collection every this many (net) allocations, not Python's 700:
    #: a request's objects are freed by reference counting as it ends, so collections
    #: only rescan what requests in flight still hold (0 keeps Python's default)
    gc_young_threshold: int = Field(default=7000, ge=0)


class CacheSettings(BaseModel):
    """Where cached answers, rate budgets (and what else replicas share) live."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    #: "memory": this process only; "redis": shared by every worker and replica
    backend: Literal["memory", "redis"] = "memory"
    #: redis://[:password@]host:6379/0, for backend = "redis"
    url: str | None = None
    #: the memory store's size; the least recently used entries go first
    max_entries: int = Field(default=50_000, ge=1)

    @model_validator(mode="after")
    def _url_for_redis(self) -> CacheSettings:
        if self.backend == "redis" and not self.url:
            raise ValueError('backend = "redis" needs url (redis://host:6379/0)')
        if self.url is not None and not self.url.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("url must start with redis://, rediss:// or unix://")
        return self


class Settings(BaseModel):
    """Everything the gateway is configured with."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    server: ServerSettings = ServerSettings()
    sources: Mapping[str, SourceSettings] = Field(default_factory=dict)
    security: SecuritySettings = SecuritySettings()
    performance: PerformanceSettings = PerformanceSettings()
    cache: CacheSettings = CacheSettings()

    def secrets(self) -> list[str]:
        values = [s for src in self.sources.values() for s in src.secrets()]
        values += [k.key for k in self.security.api_keys if k.key]
        jwt = self.security.jwt
        password = urlsplit(self.cache.url).password if self.cache.url else None
        values += [password] if password else []
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
            sources[name] = adapter.settings.model_validate(table)
        except ValidationError as exc:
            raise ConfigError(_describe(exc, where, adapter.settings)) from None
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
