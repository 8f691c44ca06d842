"""The ``process`` span every SDK handler call runs in: a child of the span
whose W3C ``traceparent`` the event carries, so one trace reaches from the
producer through the gateway and broker to the handler. The span is current
while the handler runs, so spans the handler starts are its children.

Uses the OpenTelemetry API only: with no tracer provider configured (see
`promethean.runtime.tracing`) the span is a no-op and costs next to nothing.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Final

from opentelemetry import propagate, trace

from promethean.client.types import Message

TRACER_NAME: Final = "promethean"
SPAN_PREFIX: Final = "process "


@contextmanager
def process_span(message: Message) -> Iterator[trace.Span]:
    """Run the handler of ``message`` inside ``process <topic>``; an
    exception is recorded on the span (and re-raised)."""
    context = propagate.extract(dict(message.headers or {}))
    tracer = trace.get_tracer(TRACER_NAME)
    with tracer.start_as_current_span(
        SPAN_PREFIX + message.topic,
        context=context,
        kind=trace.SpanKind.CONSUMER,
        attributes={
            "messaging.system": "promethean",
            "messaging.operation.type": "process",
            "messaging.destination.name": message.topic,
            "messaging.consumer.group.name": message.group,
            "messaging.destination.partition.id": str(message.partition),
            "messaging.promethean.offset": message.offset,
            "messaging.message.id": message.id,
            "messaging.promethean.attempt": message.attempt,
        },
    ) as span:
        yield span
