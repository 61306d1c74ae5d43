"""The ASGI middleware every request passes: request id, request metrics, server span.

The view says what it learnt (:func:`note_operation`, :func:`note_outcome`) through a
context variable; a request the view never noted is counted only when it was refused
under a GraphQL path (the GraphiQL page, /healthz and /metrics are not GraphQL requests).
Exports are counted but not timed: one streams for minutes, and would hide in the
histogram how long the interactive requests take.
"""

from __future__ import annotations

import time
from collections.abc import Collection
from contextvars import ContextVar
from dataclasses import dataclass

from graphql import DocumentNode, OperationDefinitionNode
from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, Status, StatusCode, Tracer
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.telemetry import metrics, requestid

_ID_HEADER = requestid.HEADER.lower().encode("latin-1")
_MAX_SPAN_NAME = 128


@dataclass(slots=True)
class RequestNote:
    """What the view learnt about one request."""

    operation: str | None = None
    outcome: str | None = None


_note: ContextVar[RequestNote | None] = ContextVar("gateway_request_note", default=None)


def note_operation(name: str | None) -> None:
    """The executed operation's name (None: an anonymous operation)."""
    note = _note.get()
    if note is not None:
        note.operation = name


def note_document(document: DocumentNode, provided: str | None) -> None:
    """Notes the name of the operation the document will run: the one named ``provided``
    (the request's operationName), else the first (as Strawberry runs it). A name the
    document lacks leaves it anonymous: that request fails anyway, and a client's made-up
    name must not become a label value."""
    note = _note.get()
    if note is None:
        return
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            name = definition.name
            if provided is None:
                note.operation = None if name is None else name.value
                return
            if name is not None and name.value == provided:
                note.operation = provided
                return


def note_outcome(outcome: str) -> None:
    """``ok``, ``partial`` (data and errors) or ``error`` (no data)."""
    note = _note.get()
    if note is not None:
        note.outcome = outcome


class Telemetry:
    """Binds the request id (echoed as ``X-Request-Id`` on every response), counts and
    times GraphQL requests and, when ``tracer`` is given, runs each request in a server
    span continuing the caller's ``traceparent``. Which variant runs is chosen here once."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        metrics_on: bool = True,
        tracer: Tracer | None = None,
        graphql_paths: Collection[str] = ("/graphql", "/export"),
        untimed_paths: Collection[str] = ("/export",),
    ) -> None:
        self.app = app
        self._metrics_on = metrics_on
        self._tracer = tracer
        self._graphql_paths = frozenset(graphql_paths)
        self._untimed_paths = frozenset(untimed_paths)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = None
        for key, value in scope["headers"]:
            if key == _ID_HEADER:
                request_id = requestid.accept_or_make(value.decode("latin-1"))
                break
        if request_id is None:
            request_id = requestid.new()
        # Not reset afterwards: each request is its own task, and the app's INTERNAL
        # error handler, outside this middleware, still reads the id.
        requestid.bind(request_id)
        note = RequestNote()
        _note.set(note)
        id_header = (_ID_HEADER, request_id.encode("latin-1"))
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message["headers"] = [*message.get("headers", ()), id_header]
            await send(message)

        start = time.perf_counter()
        if self._tracer is None:
            try:
                await self.app(scope, receive, send_with_id)
            finally:
                if note.outcome is not None and self._metrics_on:  # the usual case, inline
                    untimed = scope["path"] in self._untimed_paths
                    seconds = None if untimed else time.perf_counter() - start
                    metrics.record_request(note.operation, note.outcome, seconds)
                else:
                    self._record(scope, note, status, start)
            return

        carrier = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        span = self._tracer.start_span(
            "graphql",
            context=propagate.extract(carrier),
            kind=SpanKind.SERVER,
            attributes={
                "http.request.method": scope["method"],
                "url.path": scope["path"],
                "gateway.request_id": request_id,
            },
        )
        token = otel_context.attach(trace.set_span_in_context(span))
        try:
            await self.app(scope, receive, send_with_id)
        finally:
            otel_context.detach(token)
            outcome = self._record(scope, note, status, start)
            if note.outcome is not None:
                name = note.operation or metrics.ANONYMOUS
                span.update_name(name[:_MAX_SPAN_NAME])
                span.set_attribute("graphql.operation.name", name)
                span.set_attribute("gateway.outcome", note.outcome)
            else:
                span.update_name(f"{scope['method']} {scope['path']}"[:_MAX_SPAN_NAME])
            span.set_attribute("http.response.status_code", status)
            if outcome == "error" or status >= 500:
                span.set_status(Status(StatusCode.ERROR))
            span.end()

    def _record(self, scope: Scope, note: RequestNote, status: int, start: float) -> str | None:
        outcome = note.outcome
        if outcome is None and status >= 400 and scope["path"] in self._graphql_paths:
            outcome = "error"  # refused before the view (body too large) or crashed
        if outcome is not None and self._metrics_on:
            metrics.record_request(note.operation, outcome, self._seconds(scope, start))
        return outcome

    def _seconds(self, scope: Scope, start: float) -> float | None:
        """The request's duration for the histogram; None for an export (not timed)."""
        if scope["path"] in self._untimed_paths:
            return None
        return time.perf_counter() - start
