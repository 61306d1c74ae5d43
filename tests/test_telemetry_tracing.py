"""Traces: OTLP/HTTP to a collector in this suite, which decodes the protobuf it receives.

The collector is a Starlette app on a free loopback port; the gateway is pointed at it
only through OTEL_EXPORTER_OTLP_ENDPOINT, as an operator would.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Span
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from gateway.simulators import BackgroundServer
from gateway.telemetry import tracing
from tests.conftest import Simulators, gateway_client

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"
QUERY = """query OneOrder { orderBySourceId(source: "eu-shop", sourceId: "123") {
  number customer { email } } }"""


@dataclass
class Received:
    """One exported span with what the test reads of it."""

    span: Span
    service: str

    @property
    def attributes(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for kv in self.span.attributes:
            kind = kv.value.WhichOneof("value")
            out[kv.key] = getattr(kv.value, kind) if kind else None
        return out

    @property
    def trace_id(self) -> str:
        return self.span.trace_id.hex()

    @property
    def span_id(self) -> str:
        return self.span.span_id.hex()

    @property
    def parent_id(self) -> str:
        return self.span.parent_span_id.hex()


@dataclass
class Collector:
    """An OTLP/HTTP trace receiver: POST /v1/traces with a protobuf body."""

    spans: list[Received] = field(default_factory=list)
    content_types: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def app(self) -> Starlette:
        async def traces(request: Request) -> Response:
            body = await request.body()
            if request.headers.get("content-encoding") == "gzip":
                body = gzip.decompress(body)
            export = ExportTraceServiceRequest.FromString(body)
            with self.lock:
                self.content_types.append(request.headers.get("content-type", ""))
                for resource_spans in export.resource_spans:
                    service = next(
                        kv.value.string_value
                        for kv in resource_spans.resource.attributes
                        if kv.key == "service.name"
                    )
                    for scope_spans in resource_spans.scope_spans:
                        self.spans += [Received(s, service) for s in scope_spans.spans]
            return Response(b"", media_type="application/x-protobuf")

        return Starlette(routes=[Route("/v1/traces", traces, methods=["POST"])])

    def named(self, name: str) -> list[Received]:
        with self.lock:
            return [r for r in self.spans if r.span.name == name]


@pytest.fixture
def collector(monkeypatch: pytest.MonkeyPatch) -> Iterator[Collector]:
    c = Collector()
    server = BackgroundServer(c.app()).start()
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", server.base_url)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_SDK_DISABLED", raising=False)
    monkeypatch.delenv("OTEL_TRACES_EXPORTER", raising=False)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    yield c
    server.stop()


def test_server_and_client_spans_continue_the_callers_trace(
    sims: Simulators, collector: Collector
) -> None:
    with gateway_client(sims.settings(["hamgam"])) as client:
        response = client.post(
            "/graphql",
            json={"query": QUERY},
            headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01", "x-request-id": "req-7"},
        )
        assert response.json()["data"]["orderBySourceId"]["customer"]["email"]
    # leaving the client ends the app's lifespan, which flushes the exporter
    (server,) = collector.named("OneOrder")
    assert server.span.kind == Span.SPAN_KIND_SERVER
    assert server.service == "order-graph-gateway"
    assert server.trace_id == TRACE_ID and server.parent_id == PARENT_ID
    assert server.attributes["http.response.status_code"] == 200
    assert server.attributes["graphql.operation.name"] == "OneOrder"
    assert server.attributes["gateway.request_id"] == "req-7"
    calls = collector.named("GET eu-shop")
    assert len(calls) == 2  # the order, then its customer
    for call in calls:
        assert call.span.kind == Span.SPAN_KIND_CLIENT
        assert call.trace_id == TRACE_ID and call.parent_id == server.span_id
        assert call.attributes["gateway.source"] == "eu-shop"
        assert call.attributes["http.response.status_code"] == 200
    assert set(collector.content_types) == {"application/x-protobuf"}
    # each backend call carried its own client span as the parent of the backend's work
    sent = [e.headers["traceparent"] for e in sims.log.of("hamgam")]
    assert sorted(sent) == sorted(f"00-{TRACE_ID}-{c.span_id}-01" for c in calls)


def test_a_request_without_traceparent_starts_a_trace(
    sims: Simulators, collector: Collector
) -> None:
    sims.set.faults.set("hamgam", "status=500")
    with gateway_client(sims.settings(["hamgam"])) as client:
        body = client.post("/graphql", json={"query": QUERY}).json()
        assert body["errors"][0]["extensions"]["code"] == "BACKEND_ERROR"
    (server,) = collector.named("OneOrder")
    assert server.parent_id == "" and len(server.trace_id) == 32
    assert server.span.status.code == server.span.status.STATUS_CODE_ERROR
    (call,) = collector.named("GET eu-shop")
    assert call.trace_id == server.trace_id and call.parent_id == server.span_id
    assert call.attributes["http.response.status_code"] == 500
    (entry,) = sims.log.of("hamgam")
    assert entry.headers["traceparent"].split("-")[1] == server.trace_id


def test_without_an_endpoint_nothing_is_traced(
    sims: Simulators, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    assert tracing.configure() is None
    with gateway_client(sims.settings(["hamgam"])) as client:
        client.post(
            "/graphql",
            json={"query": QUERY},
            headers={"traceparent": f"00-{TRACE_ID}-{PARENT_ID}-01"},
        )
    assert sims.log.of("hamgam")
    assert all("traceparent" not in e.headers for e in sims.log.of("hamgam"))


@pytest.mark.parametrize(
    ("env", "on"),
    [
        ({}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318"}, True),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, True),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_SDK_DISABLED": "true"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://c:4318", "OTEL_TRACES_EXPORTER": "none"}, False),
        ({"OTEL_EXPORTER_OTLP_ENDPOINT": " "}, False),
    ],
)
def test_only_an_otlp_endpoint_switches_tracing_on(env: dict[str, str], on: bool) -> None:
    assert tracing.enabled(env) is on
