"""OpenTelemetry traces over OTLP/HTTP, configured only by the standard ``OTEL_*`` variables.

With no endpoint (neither ``OTEL_EXPORTER_OTLP_ENDPOINT`` nor
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``), ``OTEL_SDK_DISABLED=true`` or
``OTEL_TRACES_EXPORTER=none``, :func:`configure` returns None and the hooks are built
without tracing: the decision is made once at start, never per request. Otherwise the
SDK reads the rest (sampler, batch sizes, headers, timeout, service name) from the
environment itself.

The gateway keeps its own TracerProvider per app instead of installing a process-wide
one: tests build many apps, and a global provider can be set only once.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.trace import Tracer

#: The service name when ``OTEL_SERVICE_NAME`` (or ``service.name`` in
#: ``OTEL_RESOURCE_ATTRIBUTES``) does not say one.
DEFAULT_SERVICE = "order-graph-gateway"
INSTRUMENTATION = "gateway"


def enabled(env: Mapping[str, str] = os.environ) -> bool:
    """Whether the environment asks for traces to be exported."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    if env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() == "none":
        return False
    return bool(
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "").strip()
        or env.get("OTEL_EXPORTER_OTLP_ENDPOINT", "").strip()
    )


@dataclass(frozen=True)
class Tracing:
    """An app's tracer and the provider to flush when the app stops."""

    tracer: Tracer
    provider: TracerProvider

    def shutdown(self) -> None:
        """Export what is buffered and stop the export thread."""
        self.provider.shutdown()


def configure(env: Mapping[str, str] = os.environ) -> Tracing | None:
    """A tracer exporting over OTLP/HTTP, or None when tracing is off."""
    if not enabled(env):
        return None
    named = env.get("OTEL_SERVICE_NAME") or "service.name=" in env.get(
        "OTEL_RESOURCE_ATTRIBUTES", ""
    )
    resource = Resource.create({} if named else {SERVICE_NAME: DEFAULT_SERVICE})
    provider = TracerProvider(resource=resource)
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    return Tracing(provider.get_tracer(INSTRUMENTATION), provider)
