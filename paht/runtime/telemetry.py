"""OpenTelemetry traces and metrics, and JSON logs that carry the trace id. Silent unless configured."""
from __future__ import annotations

import json
import logging
import random
import sys
import threading
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator, Sequence

from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import (
    BatchSpanProcessor,
    ConsoleSpanExporter,
    SimpleSpanProcessor,
    SpanExporter,
    SpanExportResult,
)

_configured = False


class JsonlSpanExporter(SpanExporter):
    """Append finished spans as JSON lines to a file: for tests and for reading traces without a collector."""

    def __init__(self, path: Path):
        self._path = Path(path)
        self._path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        lines = []
        for span in spans:
            ctx = span.get_span_context()
            lines.append(
                json.dumps(
                    {
                        "trace_id": format(ctx.trace_id, "032x"),
                        "span_id": format(ctx.span_id, "016x"),
                        "parent_id": format(span.parent.span_id, "016x") if span.parent else None,
                        "name": span.name,
                        "kind": span.kind.name,
                        "service": span.resource.attributes.get("service.name"),
                        "start": span.start_time,
                        "end": span.end_time,
                        "attributes": {k: v for k, v in (span.attributes or {}).items() if isinstance(v, (str, int, float, bool))},
                    },
                    ensure_ascii=False,
                )
            )
        with self._lock, self._path.open("a", encoding="utf-8") as fh:
            fh.write("\n".join(lines) + "\n")
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        return None


def recording(exporter: str) -> bool:
    """Whether spans are recorded and exported: with `none`, the detailed instrumentation (a span per SQL statement,
    per ASGI message) is not installed at all; requests still get trace ids (TraceIds below), which logs and events
    carry."""
    return exporter != "none"


_spans_recorded = True  # until setup_telemetry() says otherwise (tests record into exporters of their own)


def spans_recorded() -> bool:
    """Whether this process records spans (PAHT_OTEL_EXPORTER is not `none`); when not, the hot paths make no span
    and only keep the trace ids (in_trace)."""
    return _spans_recorded


@contextmanager
def in_trace(traceparent: str = "", tracestate: str = "") -> Iterator[trace.Span]:
    """Run the block in the caller's trace (a W3C traceparent) or a new one, as a span that records nothing: its log
    lines and the events it causes carry the ids, without a sampler, attributes or an exporter's work."""
    caller = None
    if traceparent:
        carrier = {"traceparent": traceparent, **({"tracestate": tracestate} if tracestate else {})}
        caller = trace.get_current_span(propagate.extract(carrier)).get_span_context()
    if caller is not None and caller.is_valid:
        ids = trace.SpanContext(caller.trace_id, random.getrandbits(64) or 1, is_remote=False, trace_flags=caller.trace_flags,
                                trace_state=caller.trace_state)
    else:
        ids = trace.SpanContext(random.getrandbits(128) or 1, random.getrandbits(64) or 1, is_remote=False)
    span = trace.NonRecordingSpan(ids)
    token = otel_context.attach(trace.set_span_in_context(span))
    try:
        yield span
    finally:
        otel_context.detach(token)


class TraceIds:
    """ASGI middleware for a service whose spans are not recorded: each request runs in_trace() of its caller's
    `traceparent` header or a new one, without the work of an instrumented server (a sampler, attributes, a wrapped
    send, spans per dependency)."""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        parent = state = ""
        for name, value in scope["headers"]:
            if name == b"traceparent":
                parent = value.decode("latin-1")
            elif name == b"tracestate":
                state = value.decode("latin-1")
        with in_trace(parent, state):
            await self.app(scope, receive, send)


def setup_telemetry(service: str, exporter: str, node_id: str = "province") -> None:
    """Install the tracer and meter providers once per process; exporter: none | console | otlp | jsonl:<path> ({service} in the path is replaced)."""
    global _configured, _spans_recorded
    if _configured:
        return
    _configured = True
    _spans_recorded = recording(exporter)
    resource = Resource.create({"service.name": f"paht-{service}", "service.namespace": "paht", "paht.node_id": node_id})
    if exporter == "none":
        # Nothing would read the spans: they are not recorded (ids are still made, so logs and
        # traceparent headers keep them). Elsewhere OTEL_TRACES_SAMPLER and its argument choose.
        from opentelemetry.sdk.trace.sampling import ALWAYS_OFF

        provider = TracerProvider(resource=resource, sampler=ALWAYS_OFF)
    else:
        provider = TracerProvider(resource=resource)
    readers = []
    if exporter == "console":
        from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, PeriodicExportingMetricReader

        provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(out=sys.stderr)))
        readers.append(PeriodicExportingMetricReader(ConsoleMetricExporter(out=sys.stderr), export_interval_millis=60_000))
    elif exporter == "otlp":
        from opentelemetry.exporter.otlp.proto.grpc.metric_exporter import OTLPMetricExporter
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter
        from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        readers.append(PeriodicExportingMetricReader(OTLPMetricExporter()))
    elif exporter.startswith("jsonl:"):
        path = exporter.removeprefix("jsonl:").replace("{service}", service)
        provider.add_span_processor(SimpleSpanProcessor(JsonlSpanExporter(Path(path))))
    elif exporter != "none":
        raise ValueError(f"unknown PAHT_OTEL_EXPORTER {exporter!r}: use none, console, otlp or jsonl:<path>")
    trace.set_tracer_provider(provider)
    if readers:  # with no reader nothing would read a measurement: leave the no-op meter (FastAPI then measures nothing)
        metrics.set_meter_provider(MeterProvider(resource=resource, metric_readers=readers))


def shutdown_telemetry() -> None:
    provider = trace.get_tracer_provider()
    if hasattr(provider, "shutdown"):
        provider.shutdown()


class JsonFormatter(logging.Formatter):
    """One JSON object per line with the current trace and span ids."""

    def __init__(self, service: str):
        super().__init__()
        self._service = service

    def format(self, record: logging.LogRecord) -> str:
        ctx = trace.get_current_span().get_span_context()
        out = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "service": self._service,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if ctx.is_valid:
            out["trace_id"] = format(ctx.trace_id, "032x")
            out["span_id"] = format(ctx.span_id, "016x")
        for key in ("report_id", "event_id", "stream", "outcome"):
            if key in record.__dict__:
                out[key] = record.__dict__[key]
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        return json.dumps(out, ensure_ascii=False)


def setup_logging(service: str, level: str = "INFO") -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter(service))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("uvicorn.access", "httpx", "nats"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
