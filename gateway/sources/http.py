"""The one HTTP seam every adapter's client goes through.

Turns error statuses into the gateway's exception tree (the Exchange under it does the
same for transport failures), parses JSON exactly (floats as Decimal), masks credentials
in anything that becomes a message, and bounds concurrency per source.
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any, TypeAlias
from urllib.parse import quote, urlencode

import msgspec

from gateway.cache.fresh import FRESH
from gateway.cache.policy import CachePolicy
from gateway.cache.store import Entry
from gateway.credentials.base import Credential, CredentialFailed
from gateway.errors import (
    BackendError,
    BackendPayloadInvalid,
    BackendRateLimited,
    BackendRejected,
    BackendUnavailable,
)
from gateway.redact import SecretMasker
from gateway.request_warnings import warn_stale
from gateway.resilience.breaker import CircuitBreaker
from gateway.resilience.budget import BULK, PATIENCE, Budget, allowed_wait, rate_limited
from gateway.resilience.coalesce import Coalescer
from gateway.resilience.retry import RetryPolicy, parse_retry_after
from gateway.sources.exchange import Exchange, Reply
from gateway.telemetry import metrics

log = logging.getLogger("gateway.backend")

Params: TypeAlias = Mapping[str, str | int] | list[tuple[str, str | int]]
#: Reads a backend's error body: (backend's own code, human message).
ErrorReader: TypeAlias = Callable[[int, Any], tuple[str | None, str]]

_UNAVAILABLE = frozenset({429, 502, 503, 504})
#: How long a 429 without Retry-After closes the budget (HighLevel sends none: its
#: window frees a slot as its oldest call leaves, which is soon under a steady load).
NO_RETRY_AFTER_S = 1.0


# msgspec hands each non-integer literal's own text to Decimal: exact, and about twice as
# fast as the standard library's decoder on a 50-order page (bench/README.md).
_DECODER = msgspec.json.Decoder(float_hook=Decimal)
_BOM = b"\xef\xbb\xbf"


def parse_json(content: bytes) -> Any:
    """Strict JSON (RFC 8259: no NaN) with every non-integer number as an exact Decimal.

    Raises ValueError (msgspec.DecodeError) for anything that is not JSON.
    """
    return _DECODER.decode(content[3:] if content.startswith(_BOM) else content)


def read_detail_error(status: int, body: Any) -> tuple[str | None, str]:
    """Django REST framework style: ``{"detail": "..."}`` (LicenseSpring, Hamgam)."""
    if isinstance(body, Mapping) and isinstance(body.get("detail"), str):
        return None, body["detail"]
    return None, f"HTTP {status}"


class BackendHttp:
    """One source's shared connection pool (an :class:`Exchange`) with the gateway's error
    mapping and resilience: a concurrency bound, retries of idempotent GETs, a circuit
    breaker, an optional rate budget, identical calls in flight made once (coalescing),
    and an optional cache of answers with stale-if-error."""

    def __init__(
        self,
        *,
        source: str,
        exchange: Exchange,
        masker: SecretMasker,
        read_error: ErrorReader,
        max_concurrency: int,
        retry: RetryPolicy,
        breaker: CircuitBreaker,
        budget: Budget | None = None,
        cache: CachePolicy | None = None,
        coalesce: bool = True,
        attempt_headers: Callable[[], dict[str, str]] = dict,
        credential: Credential | None = None,
    ) -> None:
        self.source = source
        self.exchange = exchange
        self.attempt_headers = attempt_headers
        #: a renewing token sent as Authorization per attempt (None: fixed in the exchange)
        self.credential = credential
        self._mask = masker
        self._read_error = read_error
        self._slots = asyncio.Semaphore(max_concurrency)
        self._retry = retry
        self.breaker = breaker
        self._budget = budget
        self.cache = cache
        #: off only in the benchmark's naive gateway (``[performance] loaders = false``)
        self.flights: Coalescer[tuple[Reply, Any]] = Coalescer(enabled=coalesce)
        #: False after a call the backend failed to answer, True again after one it did
        self.last_call_ok = True

    @property
    def healthy(self) -> bool:
        return self.last_call_ok and self.breaker.closed

    async def get_json(
        self,
        path: str,
        *,
        params: Params | None = None,
        headers: Mapping[str, str] | None = None,
        missing: Callable[[int, Any], bool] = lambda status, body: status == 404,
    ) -> Any:
        """GET a JSON document; None when ``missing(status, body)`` says it does not exist.

        ``headers`` belong to the logical call and are the same on every attempt (Adobe's
        X-Correlation-Id); ``attempt_headers`` are made anew for each attempt. The same
        path and query in flight twice is one call (the source's credential is the same).
        """
        query = urlencode(params, quote_via=quote) if params else ""
        # An export waits longer for budget than an interactive request, and yields to
        # it: the two never share a call, so neither inherits the other's patience,
        # refusal or place in the budget.
        flight = (path, query, PATIENCE.get(), BULK.get())
        cache = self.cache
        if cache is None:
            _, body = await self.flights.run(
                flight, lambda: self._call(path, query, headers, missing)
            )
            return body
        key = cache.key(path, query)
        entry = await self._cached(cache, key)
        age = cache.age(entry.stored_at) if entry is not None else 0.0
        if entry is not None and age < cache.ttl_s and not FRESH.get():
            metrics.record_cache(self.source, "hit")
            return self._interpret(Reply(entry.status, entry.content, None), missing)
        try:
            _, body = await self.flights.run(
                flight, lambda: self._call(path, query, headers, missing, store_as=key)
            )
        except BackendError as exc:
            if entry is None or age >= cache.keep_s or not _stale_may_answer(exc):
                metrics.record_cache(self.source, "miss")
                raise
            metrics.record_cache(self.source, "stale")
            warn_stale(self.source, age)
            log.warning("%s; answering with a copy %.0f s old", exc.log_text(), age)
            return self._interpret(Reply(entry.status, entry.content, None), missing)
        metrics.record_cache(self.source, "miss")
        return body

    async def _cached(self, cache: CachePolicy, key: str) -> Entry | None:
        data = await cache.store.get(key)
        if data is None:
            return None
        try:
            return Entry.decode(data)
        except ValueError as exc:
            log.warning("source %s: a cached answer cannot be read (%s); a miss", self.source, exc)
            return None

    async def _call(
        self,
        path: str,
        query: str,
        headers: Mapping[str, str] | None,
        missing: Callable[[int, Any], bool],
        store_as: str | None = None,
    ) -> tuple[Reply, Any]:
        """One logical call: breaker, budget, retries; stored when ``store_as`` is given."""
        self.breaker.before_call()

        async def attempt() -> tuple[Reply, Any]:
            sent = {**headers, **self.attempt_headers()} if headers else self.attempt_headers()
            if self.credential is None:
                reply = await self._send(path, query, sent)
            else:
                reply = await self._authorized(path, query, sent, self.credential)
            try:
                return reply, self._interpret(reply, missing)
            except BackendUnavailable as exc:
                if reply.status == 429 and self._budget is not None:
                    await self._spend_retry_after(exc)
                raise

        try:
            reply, body = await self._retry.run(attempt)
        except BackendRateLimited:
            self.breaker.cancel_trial()  # never sent: it decides nothing
            metrics.record_refused(self.source, "rate_limited")
            raise
        except asyncio.CancelledError:
            self.breaker.cancel_trial()  # abandoned: it decides nothing
            raise
        except BackendUnavailable as exc:
            if exc.http_status != 429:
                self._failed(exc)
                raise
            # The backend answered: it is up, only over its limit. Its budget is closed
            # for the Retry-After (attempt()); the breaker is not told, and the fields
            # fail as a call the budget refused would.
            self.breaker.cancel_trial()
            raise BackendRateLimited(
                self.source,
                f"the backend's rate limit is reached (HTTP 429); retry in "
                f"{exc.retry_after or NO_RETRY_AFTER_S:.1f} s",
                backend_code=exc.backend_code,
                http_status=429,
                retry_after=exc.retry_after or NO_RETRY_AFTER_S,
            ) from None
        except BackendError as exc:
            self._failed(exc)
            raise
        self.last_call_ok = True
        self.breaker.record_success()
        if store_as is not None and self.cache is not None:
            entry = Entry(self.cache.now(), reply.status, reply.content)
            # an answer that the object does not exist is kept no longer than the TTL
            keep = self.cache.keep_s if reply.status < 400 else self.cache.ttl_s
            await self.cache.store.set(store_as, entry.encode(), keep)
        return reply, body

    async def _authorized(
        self, path: str, query: str, sent: dict[str, str], credential: Credential
    ) -> Reply:
        """The GET with the credential's token; a 401 renews it at once and the GET is
        sent again, once (the token was revoked, or ran out on the backend's clock)."""
        token = await credential.token()
        reply = await self._send(path, query, {**sent, **_bearer(token)})
        if reply.status != 401:
            return reply
        token = await credential.renew(token)
        return await self._send(path, query, {**sent, **_bearer(token)})

    async def _send(self, path: str, query: str, headers: Mapping[str, str]) -> Reply:
        # The budget is granted before a connection slot is taken, so calls that wait for
        # budget hold no slot; the budget's 10% longer window absorbs the wait for a slot.
        if self._budget is not None:
            await self._budget.acquire()
        async with self._slots:
            try:
                return await self.exchange.get(path, query, headers)
            except BackendError as exc:  # the transport's: timeout, unreachable
                log.warning("%s", exc.log_text())
                raise

    def _failed(self, exc: BackendError) -> None:
        if _is_outage(exc):
            self.last_call_ok = False
            self.breaker.record_failure()
        else:
            self.breaker.record_success()

    async def _spend_retry_after(self, error: BackendUnavailable) -> None:
        """A 429 closes the budget for everyone sharing it until its Retry-After (a
        second without one); a wait longer than the budget allows a call is not retried."""
        assert self._budget is not None
        wait = error.retry_after if error.retry_after is not None else NO_RETRY_AFTER_S
        await self._budget.block(wait)
        if wait > allowed_wait(self._budget.max_wait_s):
            raise rate_limited(self.source, wait) from None

    def _interpret(self, reply: Reply, missing: Callable[[int, Any], bool]) -> Any:
        status = reply.status
        body: Any
        try:
            body = parse_json(reply.content) if reply.content else None
            parsed = True
        except ValueError:
            body, parsed = None, False
        if status < 400:
            if not parsed or body is None:
                invalid = BackendPayloadInvalid(
                    self.source, f"HTTP {status} with a body that is not JSON", http_status=status
                )
                log.warning("%s", invalid.log_text())
                raise invalid
            return body
        if parsed and missing(status, body):
            return None
        backend_code, message = self._read_error(status, body) if parsed else (None, "")
        # The backend's words reach the client (secrets masked, paths cut), never the log.
        said = without_paths(self._mask(message or f"HTTP {status}"))
        error: BackendError
        if status in _UNAVAILABLE:
            error = BackendUnavailable(
                self.source,
                f"the backend is unavailable: HTTP {status}",
                backend_code=backend_code,
                http_status=status,
                retry_after=parse_retry_after(reply.retry_after, self._retry.clock.wall()),
                said=said,
            )
        elif status >= 500:
            error = BackendError(
                self.source,
                f"the backend failed: HTTP {status}",
                backend_code=backend_code,
                http_status=status,
                said=said,
            )
        else:
            error = BackendRejected(
                self.source,
                f"the backend refused the request: HTTP {status}",
                backend_code=backend_code,
                http_status=status,
                said=said,
            )
        log.warning("%s", error.log_text())
        raise error

    async def aclose(self) -> None:
        await self.exchange.aclose()


# A URL, or a path at the start of a word ("Cannot GET /contacts/abc?locationId=x"), in a
# backend's message: the path may name ids, its query an email.
_PATHS = re.compile(r"""(?:[a-z][a-z0-9+.-]*://|(?<![\w/.~-])/)[^\s'"<>]*""", re.IGNORECASE)


def without_paths(message: str) -> str:
    """A backend's error message with every URL and path in it replaced by "…"."""
    return _PATHS.sub("…", message)


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _stale_may_answer(error: BackendError) -> bool:
    """A cached copy answers for a backend that is down, broken or over its budget, never
    for one that refused the request (a 4xx says the copy may be wrong to show)."""
    return isinstance(error, BackendRateLimited) or _is_outage(error)


def _is_outage(error: BackendError) -> bool:
    """Failures that say the backend is down or broken (not that the request was wrong)."""
    if isinstance(error, BackendRejected):
        return False
    if isinstance(error, CredentialFailed):  # refused credentials: the backend is fine
        return error.retriable
    return error.http_status is None or error.http_status >= 500 or error.retriable
