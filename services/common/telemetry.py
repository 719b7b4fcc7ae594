"""OpenTelemetry set-up through the standard OTEL_* variables, done once per process.

Spans go to an OTLP collector when OTEL_EXPORTER_OTLP_ENDPOINT is set, and to a JSON-lines
file when CRM_TRACE_FILE is set (the embedded mode's local trace store). OTEL_SDK_DISABLED=true
turns tracing off entirely.
"""

import os
from collections.abc import Sequence
from typing import IO, Any

from opentelemetry import trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult

_enabled = False


class JsonLinesSpanExporter(SpanExporter):
    """Appends finished spans, one JSON object a line, to a local file."""

    def __init__(self, path: str) -> None:
        self._file: IO[str] = open(path, "a", encoding="utf-8")  # noqa: SIM115 - closed in shutdown

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        """Write the spans and flush so readers see them at once."""
        for span in spans:
            self._file.write(span.to_json(indent=None) + "\n")
        self._file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        """Close the file."""
        self._file.close()


def setup(service_name: str) -> bool:
    """Install the process's tracer provider; return whether tracing is on."""
    global _enabled
    if os.environ.get("OTEL_SDK_DISABLED", "").lower() == "true":
        return False
    if _enabled:
        return True
    name = os.environ.get("OTEL_SERVICE_NAME", service_name)
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    if os.environ.get("OTEL_EXPORTER_OTLP_ENDPOINT") or os.environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if path := os.environ.get("CRM_TRACE_FILE"):
        provider.add_span_processor(
            BatchSpanProcessor(JsonLinesSpanExporter(path), schedule_delay_millis=200)
        )
    trace.set_tracer_provider(provider)
    _enabled = True
    return True


def enabled() -> bool:
    """Whether setup() turned tracing on in this process."""
    return _enabled


def instrument_grpc_server() -> None:
    """Trace every incoming gRPC call (must run before the server is created)."""
    if _enabled:
        from opentelemetry.instrumentation.grpc import GrpcInstrumentorServer

        GrpcInstrumentorServer().instrument()


def instrument_grpc_aio_client() -> None:
    """Trace every outgoing grpc.aio call and propagate the context in metadata."""
    if _enabled:
        from opentelemetry.instrumentation.grpc import GrpcAioInstrumentorClient

        GrpcAioInstrumentorClient().instrument()


def instrument_sqlalchemy(engines: set[Any]) -> None:
    """Trace every SQL statement the engines run."""
    if _enabled:
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        SQLAlchemyInstrumentor().instrument(engines=list(engines))


def current_traceparent() -> str:
    """The W3C traceparent of the active span, or "" outside a trace."""
    ctx = trace.get_current_span().get_span_context()
    if not ctx.is_valid:
        return ""
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{int(ctx.trace_flags):02x}"


def current_trace_id() -> str:
    """The active trace id as 32 hex digits, or ""."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else ""


def set_attributes(**attributes: str) -> None:
    """Set crm.* attributes (listed in docs/telemetry.md) on the active span."""
    span = trace.get_current_span()
    for key, value in attributes.items():
        span.set_attribute(f"crm.{key.replace('_', '.')}", value)
