"""Publish and deliver spans continue the trace an event's ``traceparent``
header carries, so one trace crosses producer → broker → consumer."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestServer
from opentelemetry import trace
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from promethean.client import Message, SubscribeOptions, WebSocketBusClient
from promethean.runtime.tracing import inject_headers
from promethean_broker.app import RUNTIME_KEY, create_app
from promethean_broker.settings import BrokerSettings

EXPORTER = InMemorySpanExporter()


def sdk_provider() -> TracerProvider:
    """The process-wide SDK provider with our exporter (set once per process)."""
    current = trace.get_tracer_provider()
    if not isinstance(current, TracerProvider):
        current = TracerProvider()
        trace.set_tracer_provider(current)
    current.add_span_processor(SimpleSpanProcessor(EXPORTER))
    return current


@pytest.fixture
async def broker_url() -> AsyncIterator[str]:
    settings = dataclasses.replace(BrokerSettings(), store_url="memory://")
    server = TestServer(create_app(settings))
    await server.start_server()
    try:
        await asyncio.wait_for(server.app[RUNTIME_KEY].serving.wait(), 10)
        yield f"ws://{server.host}:{server.port}/ws"
    finally:
        await server.close()


async def test_publish_and_deliver_spans_join_the_producers_trace(broker_url: str) -> None:
    provider = sdk_provider()
    EXPORTER.clear()
    producer = provider.get_tracer("test-producer")
    async with WebSocketBusClient(broker_url) as bus:
        sub = await bus.subscribe("orders", "billing", options=SubscribeOptions(start="earliest"))
        with producer.start_as_current_span("produce") as root:
            headers = inject_headers(None)
            await bus.publish("orders", {"n": 1}, headers=headers)
        async with asyncio.timeout(10):
            message = await anext(aiter(sub))
        await message.ack()
    assert message.headers is not None
    assert message.headers["traceparent"] == headers["traceparent"]
    trace_id = root.get_span_context().trace_id
    spans = {s.name: s for s in EXPORTER.get_finished_spans()}
    assert spans["publish orders"].context.trace_id == trace_id
    assert spans["deliver orders"].context.trace_id == trace_id
    assert spans["deliver orders"].attributes["messaging.consumer.group.name"] == "billing"


async def test_a_handler_runs_in_a_process_span_of_the_events_trace(broker_url: str) -> None:
    provider = sdk_provider()
    EXPORTER.clear()
    producer = provider.get_tracer("test-producer")
    handled = asyncio.Event()
    seen: list[int] = []

    async def handle(message: Message) -> None:
        seen.append(trace.get_current_span().get_span_context().trace_id)
        handled.set()

    async with WebSocketBusClient(broker_url) as bus:
        await bus.subscribe(
            "invoices", "mailer", handle, options=SubscribeOptions(start="earliest")
        )
        with producer.start_as_current_span("produce") as root:
            await bus.publish("invoices", {"n": 1}, headers=inject_headers(None))
        async with asyncio.timeout(10):
            await handled.wait()
    trace_id = root.get_span_context().trace_id
    assert seen == [trace_id], "the handler ran inside the event's trace"
    process = list(
        {
            s.context.span_id: s
            for s in EXPORTER.get_finished_spans()
            if s.name == "process invoices"
        }.values()
    )
    assert len(process) == 1
    assert process[0].context.trace_id == trace_id
    assert process[0].attributes["messaging.consumer.group.name"] == "mailer"
    assert process[0].parent is not None
