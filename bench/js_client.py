"""The JavaScript client next to a Python client, through one gateway.

    uv run python bench/js_client.py [--runs 3] [--count 5000] [--inflight 256]
        [--rate 1000] [--seconds 5]

Starts a broker (SQLite in a temporary directory) and one gateway on free
loopback ports (the gateway's per-connection publish rate limit raised out
of the way, so the clients are measured, not the limiter), builds nothing:
run ``npm ci && npm run build`` in clients/js first (scripts/test.sh does).
Per run, for each client:

- **throughput**: one connection publishes ``--count`` events keeping
  ``--inflight`` publishes outstanding; events/s until the last ``OK``, and
  the client process's own CPU time per event (user + system; steadier than
  events/s on a loaded machine, where the gateway and broker set the pace).
- **latency**: one connection publishes ``--rate`` events/s for
  ``--seconds`` (after 1 s of warm-up), another consumes them with a handler
  that acks; publish-to-handler latency p50 / p99 (sent and received in the
  same process).

The Node.js side is bench/js_client.mjs with @promethean/client. The Python
side speaks the same gateway protocol with aiohttp (the Python SDK,
`promethean.client`, speaks the broker protocol and has no gateway mode), as
lean as the test suite's gateway client: one WebSocket, replies matched by
``corr``, ``overloaded`` retried, a random id on every publish like the JS
client. Every throughput run first publishes 1,000 events unmeasured on its
topic, in the measuring process (so Node's JIT is warm and the topic
exists). Runs alternate between the two clients so both see the same machine
load (who goes first alternates); it prints each run, the medians, and the
load average before and after.
Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any, Final

import aiohttp
import jwt

ROOT: Final = Path(__file__).resolve().parents[1]
NODE_BENCH: Final = ROOT / "bench" / "js_client.mjs"
SECRET: Final = "bench-secret-0123456789abcdef0123"
READY_TIMEOUT_S: Final = 60.0
WARMUP_S: Final = 1.0
WARMUP_PUBLISHES: Final = 1000
RETRY_CODES: Final = ("overloaded", "rate_limited")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(port: int, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"process exited with {process.returncode}")
        url = f"http://127.0.0.1:{port}/healthz/ready"
        with contextlib.suppress(OSError), urllib.request.urlopen(url, timeout=1) as response:
            if response.status == 200:
                return
        time.sleep(0.1)
    raise SystemExit(f"port {port} never became ready")


@contextlib.contextmanager
def stack(workdir: Path) -> Iterator[str]:
    """A broker and one gateway; yields the gateway's WebSocket URL."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PROMETHEAN_", "BUS_", "WS_", "JWT_"))
    }
    quiet = {"PROMETHEAN_LOG_LEVEL": "warning", "PROMETHEAN_HOST": "127.0.0.1"}
    bus_port, ws_port = free_port(), free_port()
    broker = subprocess.Popen(
        [sys.executable, "-m", "promethean_broker"],
        env={
            **env,
            **quiet,
            "BUS_PORT": str(bus_port),
            "PROMETHEAN_STORE": f"sqlite:///{workdir}/bus.db",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    gateway = subprocess.Popen(
        [sys.executable, "-m", "promethean_gateway"],
        env={
            **env,
            **quiet,
            "WS_PORT": str(ws_port),
            "BUS_URL": f"ws://127.0.0.1:{bus_port}/ws",
            "JWT_SECRET": SECRET,
            "PROMETHEAN_GATEWAY_PUBLISH_RATE": "1000000",
            "PROMETHEAN_GATEWAY_PUBLISH_BURST": "1000000",
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(bus_port, broker)
        wait_ready(ws_port, gateway)
        yield f"ws://127.0.0.1:{ws_port}/ws"
    finally:
        for process in (gateway, broker):
            process.send_signal(signal.SIGKILL)
            process.wait()


def make_token() -> str:
    scopes = ["publish:**", "subscribe:**"]
    claims = {"sub": "bench", "exp": int(time.time()) + 3600, "scopes": scopes}
    return jwt.encode(claims, SECRET, algorithm="HS256")


# -- the Python client -------------------------------------------------------


class PyGatewayClient:
    """One gateway WebSocket: requests answered by ``corr``, events to a handler."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.session = session
        self.ws = ws
        self.waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.corr = itertools.count(1)
        self.on_event: Callable[[dict[str, Any]], Awaitable[None]] | None = None
        self.reader = asyncio.get_running_loop().create_task(self.read())

    @classmethod
    async def open(cls, url: str, token: str) -> PyGatewayClient:
        session = aiohttp.ClientSession()
        client = cls(session, await session.ws_connect(url, max_msg_size=0))
        await client.request({"op": "AUTH", "token": token})
        return client

    async def read(self) -> None:
        async for msg in self.ws:
            frame = json.loads(msg.data)
            if frame["op"] == "EVENT":
                if self.on_event is not None:
                    await self.on_event(frame)
                continue
            future = self.waiting.pop(frame.get("corr"), None)
            if future is not None and not future.done():
                future.set_result(frame)

    async def request(self, frame: dict[str, Any]) -> dict[str, Any]:
        while True:
            corr = next(self.corr)
            future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
            self.waiting[corr] = future
            await self.ws.send_str(json.dumps({**frame, "corr": corr}))
            reply = await future
            if reply["op"] == "ERR" and reply["code"] in RETRY_CODES:
                await asyncio.sleep(reply.get("retry_after_ms", 100) / 1000)
                continue
            if reply["op"] == "ERR":
                raise RuntimeError(f"{frame['op']}: {reply}")
            return reply

    async def publish(self, topic: str, payload: Any) -> str:
        # A random idempotency id, as the JS client sends by default.
        opts = {"id": uuid.uuid4().hex}
        reply = await self.request(
            {"op": "PUBLISH", "topic": topic, "payload": payload, "opts": opts}
        )
        return str(reply["id"])

    async def close(self) -> None:
        await self.ws.close()
        self.reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self.reader
        await self.session.close()


async def py_throughput(url: str, topic: str, count: int, inflight: int) -> dict[str, Any]:
    client = await PyGatewayClient.open(url, make_token())
    slots = asyncio.Semaphore(inflight)

    async def one(i: int) -> None:
        async with slots:
            await client.publish(topic, {"i": i})

    # Warm-up, unmeasured, on this topic (as the Node.js side does for its JIT).
    await asyncio.gather(*(one(-1 - i) for i in range(WARMUP_PUBLISHES)))
    started = time.perf_counter()
    cpu = time.process_time()
    await asyncio.gather(*(one(i) for i in range(count)))
    seconds = time.perf_counter() - started
    cpu_us_per_msg = (time.process_time() - cpu) * 1e6 / count
    await client.close()
    return {
        "count": count,
        "seconds": seconds,
        "msgs_per_s": count / seconds,
        "cpu_us_per_msg": cpu_us_per_msg,
    }


async def py_latency(url: str, topic: str, rate: int, seconds: float) -> dict[str, Any]:
    token = make_token()
    publisher = await PyGatewayClient.open(url, token)
    subscriber = await PyGatewayClient.open(url, token)
    latencies: list[float] = []
    received = 0
    all_in = asyncio.Event()
    total = round(rate * (seconds + WARMUP_S))
    warmup = round(rate * WARMUP_S)

    async def handle(frame: dict[str, Any]) -> None:
        nonlocal received
        received += 1
        payload = frame["event"]["payload"]
        if payload["m"]:
            latencies.append((time.perf_counter() - payload["t"]) * 1000)
        ack = {"op": "ACK", "topic": topic, "group": "bench", "id": frame["event"]["id"]}
        await subscriber.ws.send_str(json.dumps(ack))
        if received >= total:
            all_in.set()

    subscriber.on_event = handle
    await subscriber.request(
        {"op": "SUBSCRIBE", "topic": topic, "group": "bench", "opts": {"max_inflight": 256}}
    )
    started = time.perf_counter()
    tasks = []
    for i in range(total):
        wait = started + i / rate - time.perf_counter()
        if wait > 0.001:
            await asyncio.sleep(wait)
        payload = {"t": time.perf_counter(), "m": i >= warmup}
        tasks.append(asyncio.create_task(publisher.publish(topic, payload)))
    await asyncio.gather(*tasks)
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(all_in.wait(), 10)
    await publisher.close()
    await subscriber.close()
    latencies.sort()

    def at(q: float) -> float:
        return latencies[min(len(latencies) - 1, int(q * len(latencies)))]

    return {"measured": len(latencies), "received": received, "p50_ms": at(0.5), "p99_ms": at(0.99)}


# -- the Node.js client ------------------------------------------------------


def node_run(*args: str) -> dict[str, Any]:
    node = shutil.which("node")
    if node is None:
        raise SystemExit("node is required")
    if not (ROOT / "clients" / "js" / "dist" / "index.js").is_file():
        raise SystemExit("build the client first: cd clients/js && npm ci && npm run build")
    out = subprocess.run(
        [node, str(NODE_BENCH), *args], capture_output=True, text=True, check=True, timeout=300
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


# -- main --------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--count", type=int, default=5000)
    parser.add_argument("--inflight", type=int, default=256)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=5.0)
    args = parser.parse_args()
    load_before = os.getloadavg()
    rows: dict[str, list[dict[str, Any]]] = {"node": [], "python": []}
    with tempfile.TemporaryDirectory() as tmp, stack(Path(tmp)) as url:
        token = make_token()
        for run in range(1, args.runs + 1):
            # Who goes first alternates, so neither always follows the other's backlog.
            order = ("node", "python") if run % 2 else ("python", "node")
            for name in order:
                if name == "node":
                    tp = node_run(
                        "throughput",
                        url,
                        token,
                        f"bench.js.tp.n{run}",
                        str(args.count),
                        str(args.inflight),
                    )
                    lat = node_run(
                        "latency",
                        url,
                        token,
                        f"bench.js.lat.n{run}",
                        str(args.rate),
                        str(args.seconds),
                        str(WARMUP_S),
                    )
                else:
                    tp = asyncio.run(
                        py_throughput(url, f"bench.js.tp.p{run}", args.count, args.inflight)
                    )
                    lat = asyncio.run(
                        py_latency(url, f"bench.js.lat.p{run}", args.rate, args.seconds)
                    )
                rows[name].append({**tp, "p50_ms": lat["p50_ms"], "p99_ms": lat["p99_ms"]})
            for name in ("node", "python"):
                row = rows[name][-1]
                print(
                    f"run {run} {name:6}  publish {row['msgs_per_s']:8.0f} msg/s "
                    f"({args.inflight} in flight, client CPU {row['cpu_us_per_msg']:5.0f} us/msg)"
                    f"  latency @ {args.rate}/s "
                    f"p50 {row['p50_ms']:6.2f} ms  p99 {row['p99_ms']:7.2f} ms",
                    flush=True,
                )
    load_after = os.getloadavg()
    print(f"\nmedians of {args.runs} runs, one gateway, {os.cpu_count()} cores")
    print("client  publish msg/s  client CPU us/msg  p50 ms  p99 ms")
    for name in ("node", "python"):
        runs = rows[name]
        print(
            f"{name:6}  {statistics.median(r['msgs_per_s'] for r in runs):13.0f}"
            f"  {statistics.median(r['cpu_us_per_msg'] for r in runs):17.0f}"
            f"  {statistics.median(r['p50_ms'] for r in runs):6.2f}"
            f"  {statistics.median(r['p99_ms'] for r in runs):6.2f}"
        )
    node_version = subprocess.run(["node", "--version"], capture_output=True, text=True).stdout
    print(f"node {node_version.strip()}, python {sys.version.split()[0]}")
    print(
        "load average before: {:.2f} {:.2f} {:.2f}, after: {:.2f} {:.2f} {:.2f}".format(
            *load_before, *load_after
        )
    )


if __name__ == "__main__":
    main()
