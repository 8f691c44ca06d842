"""One published event, one trace: the gateway, broker and worker processes
export their spans over OTLP/HTTP to a small receiver in this test, which
decodes them with the OTLP protobuf package; the spans of all three
services share one trace id, the worker's ``process`` span included."""

from __future__ import annotations

import asyncio
import gzip
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from aiohttp import web
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
    ExportTraceServiceRequest,
    ExportTraceServiceResponse,
)

from tests.fixtures.broker import BrokerFactory
from tests.integration.gateway.support import ALL_SCOPES, GatewayProcess, make_token
from tests.integration.worker.support import RECORD_HANDLER, WorkerFactory, worker_process

__all__ = ["worker_process"]

WAIT_S = 30.0


@dataclass(frozen=True)
class ReceivedSpan:
    service: str
    name: str
    trace_id: str
    span_id: str
    parent_id: str


class OtlpReceiver:
    """``POST /v1/traces`` (protobuf, optionally gzip) → decoded spans."""

    def __init__(self) -> None:
        self.spans: list[ReceivedSpan] = []
        self.arrived = asyncio.Event()

    async def traces(self, request: web.Request) -> web.Response:
        body = await request.read()
        if request.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        export = ExportTraceServiceRequest()
        export.ParseFromString(body)
        for resource_spans in export.resource_spans:
            attributes = {a.key: a.value.string_value for a in resource_spans.resource.attributes}
            service = attributes.get("service.name", "")
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    self.spans.append(
                        ReceivedSpan(
                            service,
                            span.name,
                            span.trace_id.hex(),
                            span.span_id.hex(),
                            span.parent_span_id.hex(),
                        )
                    )
        self.arrived.set()
        return web.Response(
            body=ExportTraceServiceResponse().SerializeToString(),
            content_type="application/x-protobuf",
        )


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[OtlpReceiver, str]]:
    otlp = OtlpReceiver()
    app = web.Application()
    app.router.add_post("/v1/traces", otlp.traces)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = runner.addresses[0][1]
    try:
        yield otlp, f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


def otel_env(endpoint: str) -> dict[str, str]:
    return {
        "OTEL_EXPORTER_OTLP_ENDPOINT": endpoint,
        "OTEL_EXPORTER_OTLP_PROTOCOL": "http/protobuf",
        "OTEL_BSP_SCHEDULE_DELAY": "100",
    }


async def test_one_event_makes_one_trace_across_gateway_broker_and_worker(
    receiver: tuple[OtlpReceiver, str],
    broker_process: BrokerFactory,
    worker_process: WorkerFactory,
    tmp_path: Path,
) -> None:
    otlp, endpoint = receiver
    topic = f"traced.{uuid.uuid4().hex[:8]}"
    env = otel_env(endpoint)
    broker = await asyncio.to_thread(broker_process, env)
    gateway = GatewayProcess(broker, env, tmp_path)
    try:
        await asyncio.to_thread(gateway.start)
        worker = await asyncio.to_thread(
            worker_process,
            broker,
            {**env, "PROMETHEAN_WORKER_HANDLERS": f"{RECORD_HANDLER}@{topic}"},
        )
        token = make_token(scopes=ALL_SCOPES)
        status, body = await asyncio.to_thread(
            gateway.post,
            f"/publish/{topic}",
            json.dumps({"seq": 1}).encode(),
            {"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
        )
        assert status == 200, body
        event_id = body["id"]

        def process_spans() -> list[ReceivedSpan]:
            return [s for s in otlp.spans if s.name == f"process {topic}"]

        deadline = time.monotonic() + WAIT_S
        while not process_spans():
            assert time.monotonic() < deadline, (
                f"no process span within {WAIT_S}s; got {otlp.spans}; worker log:\n"
                + worker.log_tail()
            )
            otlp.arrived.clear()
            with_timeout = max(0.0, deadline - time.monotonic())
            try:
                await asyncio.wait_for(otlp.arrived.wait(), with_timeout)
            except TimeoutError:
                continue
        trace_id = process_spans()[0].trace_id

        def services_in_trace() -> set[str]:
            return {s.service for s in otlp.spans if s.trace_id == trace_id}

        wanted = {"promethean-gateway", "promethean-broker", "promethean-worker"}
        while not wanted <= services_in_trace():
            assert time.monotonic() < deadline, f"trace {trace_id}: {services_in_trace()}"
            otlp.arrived.clear()
            try:
                await asyncio.wait_for(otlp.arrived.wait(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                continue
    finally:
        gateway.kill()

    in_trace = [s for s in otlp.spans if s.trace_id == trace_id]
    names = {(s.service, s.name) for s in in_trace}
    assert ("promethean-gateway", f"publish {topic}") in names, names
    assert ("promethean-broker", f"publish {topic}") in names, names
    assert ("promethean-worker", f"process {topic}") in names, names
    # The process span continues the trace: its parent is a span of it.
    process = process_spans()[0]
    assert process.parent_id in {s.span_id for s in in_trace}
    assert event_id
