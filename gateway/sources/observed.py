"""Every backend HTTP call observed: a count and a duration, a debug log line, the request
id sent along and, with tracing on, a client span whose context goes out as ``traceparent``.

:class:`ObservedExchange` wraps a source's :class:`~gateway.sources.exchange.Exchange`, so
each attempt (a retry is another call) is seen once, whichever transport makes it. It
lives with the sources and uses telemetry (metrics, request ids), never the reverse.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping

from opentelemetry import propagate
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer

from gateway.errors import BackendError, BackendTimeout
from gateway.sources.exchange import Exchange, Reply
from gateway.telemetry import requestid
from gateway.telemetry.metrics import register_source

log = logging.getLogger("gateway.backend.calls")


def outcome_of_status(status: int) -> str:
    """The ``outcome`` label of an answered call."""
    if status < 400:
        return "ok"
    if status == 404:
        return "not_found"
    if status == 429:
        return "rate_limited"
    return "error"


def outcome_of_error(error: BackendError) -> str:
    """The ``outcome`` label of a call the transport failed (no answer)."""
    return "timeout" if isinstance(error, BackendTimeout) else "error"


class ObservedExchange:
    """An Exchange that observes each call of the one it wraps.

    ``request_id_header`` names the header carrying the request id (None: the adapter
    sends it itself, as Adobe's X-Correlation-Id). Whether to trace and to count is
    decided here, once (``[server] metrics = false``: not counted).
    """

    def __init__(
        self,
        inner: Exchange,
        *,
        source: str,
        kind: str,
        request_id_header: str | None,
        tracer: Tracer | None,
        metrics: bool = True,
    ) -> None:
        self.inner = inner
        self.source, self.kind = source, kind
        self._id_header = request_id_header
        self._tracer = tracer
        self._span_name = f"GET {source}"
        self._metrics = register_source(source, kind) if metrics else None
        # read once, when the app starts: logs.configure runs before the sources are built
        self._debug = log.isEnabledFor(logging.DEBUG)

    async def get(self, path: str, query: str, headers: Mapping[str, str]) -> Reply:
        request_id = requestid.current()
        if request_id is not None and self._id_header is not None:
            headers = {**headers, self._id_header: request_id}
        if self._tracer is not None:
            return await self._traced(path, query, headers, self._tracer)
        # Inline rather than shared with the traced path: an extra coroutine per backend
        # call was most of what this wrapper cost.
        start = time.perf_counter()
        try:
            reply = await self.inner.get(path, query, headers)
        except BackendError as exc:
            self._done(outcome_of_error(exc), start, exc.code)
            raise
        status = reply.status
        if status < 400 and not self._debug:  # the usual call, without two more calls
            if self._metrics is not None:
                self._metrics.record("ok", time.perf_counter() - start)
            return reply
        self._done(outcome_of_status(status), start, status)
        return reply

    async def _traced(
        self, path: str, query: str, headers: Mapping[str, str], tracer: Tracer
    ) -> Reply:
        with tracer.start_as_current_span(
            self._span_name,
            kind=SpanKind.CLIENT,
            attributes={
                "gateway.source": self.source,
                "gateway.source_kind": self.kind,
                "http.request.method": "GET",
            },
        ) as span:
            carrier = dict(headers)
            propagate.inject(carrier)  # traceparent of this client span
            start = time.perf_counter()
            try:
                reply = await self.inner.get(path, query, carrier)
            except BackendError as exc:
                self._done(outcome_of_error(exc), start, exc.code)
                span.set_attribute("error.type", outcome_of_error(exc))
                span.set_status(Status(StatusCode.ERROR, exc.code))
                raise
            self._done(outcome_of_status(reply.status), start, reply.status)
            span.set_attribute("http.response.status_code", reply.status)
            if reply.status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            return reply

    def _done(self, outcome: str, start: float, status: int | str) -> None:
        seconds = time.perf_counter() - start
        if self._metrics is not None:
            self._metrics.record(outcome, seconds)
        if self._debug:
            # Never the path or query: they may hold a customer's email or id.
            log.debug(
                "backend call source=%s status=%s duration_ms=%.1f",
                self.source,
                status,
                seconds * 1000,
                extra={
                    "source": self.source,
                    "kind": self.kind,
                    "status": status,
                    "outcome": outcome,
                    "duration_ms": round(seconds * 1000, 1),
                },
            )

    async def aclose(self) -> None:
        await self.inner.aclose()
