"""OpenTelemetry spans for publish, deliver and process, with the W3C
``traceparent`` carried in event headers so one trace crosses gateway →
broker → worker.

Services call `configure_tracing` once; tests pass an in-memory exporter.
Without configuration the global no-op tracer is used and costs nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager, nullcontext
from typing import Final

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor, SpanExporter

TRACEPARENT = "traceparent"
TRACER_NAME = "promethean"


def configure_tracing(service: str, exporter: SpanExporter | None) -> TracerProvider:
    """A tracer provider for ``service`` exporting to ``exporter`` (if any)."""
    provider = TracerProvider(resource=Resource.create({"service.name": f"promethean-{service}"}))
    if exporter is not None:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    return provider


def configure_tracing_from_env(service: str, environ: Mapping[str, str]) -> TracerProvider | None:
    """Install a global tracer provider exporting over OTLP/HTTP when the
    standard ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or ``..._TRACES_ENDPOINT``) is
    set; otherwise leave the no-op tracer in place and return None."""
    if not (
        environ.get("OTEL_EXPORTER_OTLP_ENDPOINT")
        or environ.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
    ):
        return None
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
    from opentelemetry.sdk.trace.export import BatchSpanProcessor

    provider = TracerProvider(resource=Resource.create({"service.name": f"promethean-{service}"}))
    provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    return provider


def tracer(provider: trace.TracerProvider | None = None) -> trace.Tracer:
    return (provider or trace.get_tracer_provider()).get_tracer(TRACER_NAME)


def inject_headers(
    headers: dict[str, str] | None, context: Context | None = None
) -> dict[str, str]:
    """``headers`` plus the current trace context (``traceparent``)."""
    carrier = dict(headers or {})
    propagate.inject(carrier, context=context)
    return carrier


def extract_context(headers: Mapping[str, str] | None) -> Context:
    return propagate.extract(dict(headers or {}))


def span_from_headers(
    tracer_: trace.Tracer,
    name: str,
    headers: Mapping[str, str] | None,
    attributes: Mapping[str, str | int] | None = None,
    kind: trace.SpanKind = trace.SpanKind.CONSUMER,
) -> AbstractContextManager[trace.Span]:
    """A span continuing the trace whose ``traceparent`` the event carries.

    With no tracer provider installed every span would be a no-op; the
    context extraction and the span's context manager are skipped too
    (this runs for every publish)."""
    if _no_op(tracer_):
        return _NO_SPAN
    return _span_from_headers(tracer_, name, headers, attributes, kind)


_NO_SPAN: Final = nullcontext(trace.INVALID_SPAN)


def _no_op(tracer_: trace.Tracer) -> bool:
    # A ProxyTracer (`tracer()` before any provider is installed) delegates
    # to a NoOpTracer until one is; `_tracer` is that delegate, read without
    # the environment lookup `trace.get_tracer_provider` makes each call.
    delegate = tracer_
    if isinstance(tracer_, trace.ProxyTracer):
        delegate = getattr(tracer_, "_tracer", tracer_)
    return isinstance(delegate, trace.NoOpTracer)


@contextmanager
def _span_from_headers(
    tracer_: trace.Tracer,
    name: str,
    headers: Mapping[str, str] | None,
    attributes: Mapping[str, str | int] | None,
    kind: trace.SpanKind,
) -> Iterator[trace.Span]:
    with tracer_.start_as_current_span(
        name, context=extract_context(headers), kind=kind, attributes=dict(attributes or {})
    ) as span:
        yield span
