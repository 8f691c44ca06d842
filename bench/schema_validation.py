"""Validation on publish: W1 publish throughput with ``validate`` off and on
(a 10-property JSON Schema), the overhead, and the validator's cost per
payload.

    uv run python bench/schema_validation.py [--runs 3] [--count 50000] [--inflight 512]

Each run starts a fresh broker (``python -m promethean_broker``, SQLite in a
temporary directory) per mode, creates ``bench.w1p`` with ``validate`` set
or not, registers the schema under ``bench.w1p-value`` and publishes
``--count`` valid 200-byte payloads with ``--inflight`` outstanding through
the SDK. The order of the two modes alternates between runs. The validator
figures are measured in this process: decoding the payload plus the
compiled check (`check_payload`), and the whole publish gate
(`SchemaGate.admit`: cached latest schema, check, schema-id header).
Target: overhead ≤ 15 %. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

import aiohttp
import msgspec
import psutil

from promethean.bus.requests import PublishRequest
from promethean.client import ClientConfig, WebSocketBusClient
from promethean.clock import SystemClock
from promethean.schemas.gate import SchemaGate
from promethean.schemas.validation import check_payload, compile_schema
from promethean.store.memory import MemoryStore

TOPIC: Final = "bench.w1p"
PAYLOAD_BYTES: Final = 200
TARGET_OVERHEAD_PCT: Final = 15.0
READY_TIMEOUT_S: Final = 30.0
_json = msgspec.json.Encoder()

SCHEMA: Final[dict[str, Any]] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "type": "object",
    "required": ["i", "order", "customer", "qty", "price"],
    "additionalProperties": False,
    "properties": {
        "i": {"type": "integer", "minimum": -1},
        "order": {"type": "string", "maxLength": 32},
        "customer": {"type": "string", "maxLength": 32},
        "qty": {"type": "integer", "minimum": 1},
        "price": {"type": "number", "minimum": 0},
        "currency": {"enum": ["EUR", "USD", "GBP"]},
        "express": {"type": "boolean"},
        "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 8},
        "note": {"type": ["string", "null"]},
        "pad": {"type": "string"},
    },
}


def payload(index: int) -> dict[str, Any]:
    """A valid 10-property payload of exactly 200 bytes once encoded."""
    body: dict[str, Any] = {
        "i": index,
        "order": f"o-{index}",
        "customer": f"c-{index % 97}",
        "qty": 1 + index % 5,
        "price": 9.5,
        "currency": "EUR",
        "express": index % 2 == 0,
        "tags": ["a", "b"],
        "note": None,
        "pad": "",
    }
    body["pad"] = "x" * max(0, PAYLOAD_BYTES - len(_json.encode(body)))
    return body


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class Broker:
    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.http = f"http://127.0.0.1:{self.port}"
        self.url = f"ws://127.0.0.1:{self.port}/ws"
        self.process: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        env = {
            **os.environ,
            "BUS_PORT": str(self.port),
            "PROMETHEAN_HOST": "127.0.0.1",
            "PROMETHEAN_STORE": f"sqlite:///{self.workdir}/bus.db",
            "PROMETHEAN_LOG_LEVEL": "warning",
        }
        with (self.workdir / "broker.log").open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "promethean_broker",
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + READY_TIMEOUT_S
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with http.get(self.http + "/healthz/ready") as reply:
                        if reply.status == 200:
                            return
                await asyncio.sleep(0.05)
        raise RuntimeError(f"broker not ready; see {self.workdir / 'broker.log'}")

    def cpu_s(self) -> float:
        """User + system CPU seconds of the broker process, every thread."""
        if self.process is None:
            raise RuntimeError("broker not started")
        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)

    async def post(self, path: str, body: Any) -> None:
        async with aiohttp.ClientSession() as http, http.post(self.http + path, json=body) as r:
            if r.status >= 300:
                raise RuntimeError(f"POST {path}: {r.status} {await r.text()}")

    async def stop(self) -> None:
        if self.process is not None and self.process.returncode is None:
            self.process.send_signal(signal.SIGTERM)
            await asyncio.wait_for(self.process.wait(), 60)


async def w1p(validate: bool, args: argparse.Namespace) -> tuple[float, float]:
    """W1 publish on a fresh broker, with validation on or off: msg/s and
    the broker's CPU µs per message (less sensitive to a loaded machine)."""
    with tempfile.TemporaryDirectory(prefix="bench-validation-") as tmp:
        broker = Broker(Path(tmp))
        await broker.start()
        try:
            await broker.post("/topics", {"name": TOPIC, "partitions": 4, "validate": validate})
            await broker.post(
                f"/subjects/{TOPIC}-value/versions", {"schema": _json.encode(SCHEMA).decode()}
            )
            config = ClientConfig(max_pending_publishes=max(args.inflight * 2, 1024))
            async with WebSocketBusClient(broker.url, config) as bus:
                await bus.publish(TOPIC, payload(-1))
                indexes = iter(range(args.count))

                async def publisher() -> None:
                    for index in indexes:
                        await bus.publish(TOPIC, payload(index))

                cpu, started = broker.cpu_s(), time.perf_counter()
                await asyncio.gather(*(publisher() for _ in range(args.inflight)))
                elapsed, cpu = time.perf_counter() - started, broker.cpu_s() - cpu
                return args.count / elapsed, cpu / args.count * 1e6
        finally:
            await broker.stop()


def validator_us(samples: int = 50_000) -> tuple[float, float]:
    """µs per payload: decode + compiled check, and the whole publish gate."""
    validator = compile_schema(SCHEMA)
    payloads = [_json.encode(payload(i)) for i in range(1000)]
    started = time.perf_counter()
    for n in range(samples):
        if check_payload(validator, payloads[n % 1000]) is not None:
            raise RuntimeError("bench payload is invalid")
    check = (time.perf_counter() - started) / samples * 1e6

    async def gate_cost() -> float:
        store = MemoryStore()
        await store.open()
        await store.put_schema(f"{TOPIC}-value", SCHEMA)
        gate = SchemaGate(store, SystemClock())
        requests = [PublishRequest(topic=TOPIC, payload=p) for p in payloads]
        await gate.admit(requests[0])
        begun = time.perf_counter()
        for n in range(samples):
            await gate.admit(requests[n % 1000])
        return (time.perf_counter() - begun) / samples * 1e6

    return check, asyncio.run(gate_cost())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--count", type=int, default=50_000)
    parser.add_argument("--inflight", type=int, default=512)
    args = parser.parse_args()
    load = os.getloadavg()
    print(f"load average: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}; cores: {os.cpu_count()}")
    off: list[tuple[float, float]] = []
    on: list[tuple[float, float]] = []
    for run in range(args.runs):
        order = (False, True) if run % 2 == 0 else (True, False)
        figures = {mode: asyncio.run(w1p(mode, args)) for mode in order}
        off.append(figures[False])
        on.append(figures[True])
        (rate_off, cpu_off), (rate_on, cpu_on) = figures[False], figures[True]
        print(
            f"run {run + 1}: off {rate_off:,.0f} msg/s {cpu_off:.1f} µs CPU/msg, "
            f"on {rate_on:,.0f} msg/s {cpu_on:.1f} µs CPU/msg"
        )
    checks, gates = zip(*(validator_us() for _ in range(args.runs)), strict=True)
    median_off = statistics.median(rate for rate, _ in off)
    median_on = statistics.median(rate for rate, _ in on)
    cpu_off = statistics.median(cpu for _, cpu in off)
    cpu_on = statistics.median(cpu for _, cpu in on)
    overhead = 100 * (1 - median_on / median_off)
    cpu_overhead = 100 * (cpu_on / cpu_off - 1)
    verdict = "meets" if max(overhead, cpu_overhead) <= TARGET_OVERHEAD_PCT else "misses"
    print(f"W1P validation off: {median_off:,.0f} msg/s, {cpu_off:.1f} µs broker CPU/msg")
    print(f"W1P validation on:  {median_on:,.0f} msg/s, {cpu_on:.1f} µs broker CPU/msg")
    print(
        f"overhead (medians of {args.runs}): throughput {overhead:.1f} %, broker CPU "
        f"{cpu_overhead:.1f} % ({verdict} the ≤ {TARGET_OVERHEAD_PCT:.0f} % target)"
    )
    print(f"validator (decode + check): {statistics.median(checks):.2f} µs per payload")
    print(f"publish gate (lookup + check + header): {statistics.median(gates):.2f} µs per payload")
    load = os.getloadavg()
    print(f"load average after: {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}")


if __name__ == "__main__":
    main()
