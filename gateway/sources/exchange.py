"""How one source's GETs reach the wire: aiohttp directly, or an httpx client.

The seam under :class:`gateway.sources.http.BackendHttp`. An exchange sends one GET to
an already encoded path and query and returns what the gateway reads of the answer, or
raises BACKEND_TIMEOUT / BACKEND_UNAVAILABLE for failures of the transport itself.
Status codes and bodies are judged above it, the same way for every exchange.

aiohttp directly is the default: it costs the least CPU per call (bench/README.md). The
httpx exchange serves the other ``[performance] http_transport`` settings and tests that
inject an ``httpx`` transport for faults no simulator can produce.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol

import aiohttp
import httpx
from yarl import URL

from gateway.errors import BackendTimeout, BackendUnavailable


@dataclass(frozen=True, slots=True)
class Reply:
    """What the gateway reads of a backend's answer."""

    status: int
    content: bytes
    retry_after: str | None


class Exchange(Protocol):
    """Sends one GET of ``path`` (encoded, from the base URL's path on) with ``query``
    (encoded, may be empty) and the given extra headers."""

    async def get(self, path: str, query: str, headers: Mapping[str, str]) -> Reply: ...

    async def aclose(self) -> None: ...


def _timeout(source: str) -> BackendTimeout:
    return BackendTimeout(source, "the backend did not answer in time")


def _unreachable(source: str, why: str) -> BackendUnavailable:
    return BackendUnavailable(source, f"cannot reach the backend ({why})")


class AiohttpExchange:
    """One aiohttp session per source: a keep-alive pool of ``max_connections``, no
    cookie jar (a backend's cookies must not leak between callers), no redirects."""

    def __init__(
        self,
        source: str,
        base_url: str,
        headers: Mapping[str, str],
        *,
        timeout_s: float,
        max_connections: int,
    ) -> None:
        self.source = source
        self._base = base_url.rstrip("/")
        self._headers = dict(headers)
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None

    def _open(self) -> aiohttp.ClientSession:
        # Made on first use: aiohttp binds a session to the running event loop.
        self._session = aiohttp.ClientSession(
            headers=self._headers,
            timeout=self._timeout,
            connector=aiohttp.TCPConnector(limit=self._max_connections),
            cookie_jar=aiohttp.DummyCookieJar(),
        )
        return self._session

    async def get(self, path: str, query: str, headers: Mapping[str, str]) -> Reply:
        session = self._session or self._open()
        # Path and query are encoded once by the caller; yarl need not parse them again.
        url = URL(f"{self._base}{path}?{query}" if query else self._base + path, encoded=True)
        try:
            async with session.get(url, headers=headers, allow_redirects=False) as response:
                content = await response.read()
                return Reply(response.status, content, response.headers.get("Retry-After"))
        except TimeoutError:
            raise _timeout(self.source) from None
        except aiohttp.ClientConnectorError as exc:
            refused = isinstance(exc.os_error, ConnectionRefusedError)
            why = "connection refused" if refused else type(exc).__name__
            raise _unreachable(self.source, why) from None
        except aiohttp.ClientError as exc:
            raise _unreachable(self.source, type(exc).__name__) from None

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


class HttpxExchange:
    """An ``httpx.AsyncClient`` (httpx's own pool, httpx-aiohttp's transport, or a
    transport a test injects)."""

    def __init__(self, source: str, client: httpx.AsyncClient) -> None:
        self.source = source
        self.client = client

    async def get(self, path: str, query: str, headers: Mapping[str, str]) -> Reply:
        try:
            response = await self.client.get(f"{path}?{query}" if query else path, headers=headers)
        except httpx.TransportError as exc:
            # httpx-aiohttp reports a refused connection as ConnectTimeout: causes tell.
            if _refused(exc):
                raise _unreachable(self.source, "connection refused") from None
            if isinstance(exc, httpx.TimeoutException):
                raise _timeout(self.source) from None
            raise _unreachable(self.source, type(exc).__name__) from None
        return Reply(response.status_code, response.content, response.headers.get("retry-after"))

    async def aclose(self) -> None:
        await self.client.aclose()


def _refused(exc: BaseException) -> bool:
    """Whether a ConnectionRefusedError is somewhere in the exception's causes."""
    seen: BaseException | None = exc
    for _ in range(8):  # causes are chained by libraries: bounded, never a cycle
        if seen is None:
            return False
        if isinstance(seen, ConnectionRefusedError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False
