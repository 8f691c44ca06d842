"""`span_from_headers` makes a real span under a real tracer and nothing at
all under the no-op one."""

from __future__ import annotations

from opentelemetry import trace
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from promethean.runtime.tracing import configure_tracing, inject_headers, span_from_headers

PARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_a_no_op_tracer_yields_the_invalid_span() -> None:
    with span_from_headers(trace.NoOpTracer(), "publish t", {"traceparent": PARENT}) as span:
        assert span is trace.INVALID_SPAN
        assert not span.is_recording()
        assert "traceparent" not in inject_headers(None)


def test_a_real_tracer_continues_the_trace_of_the_headers() -> None:
    exporter = InMemorySpanExporter()
    tracer = configure_tracing("test", exporter).get_tracer("test")
    with span_from_headers(tracer, "publish t", {"traceparent": PARENT}, {"a": 1}) as span:
        assert span.is_recording()
    (finished,) = exporter.get_finished_spans()
    assert finished.name == "publish t"
    assert finished.context is not None
    assert format(finished.context.trace_id, "032x") == PARENT.split("-")[1]
    assert finished.attributes == {"a": 1}
