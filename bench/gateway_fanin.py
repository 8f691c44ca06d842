"""Gateway fan-in: many authenticated WebSocket clients, each subscribed and
acking, publishing a steady total rate through the gateway.

    uv run python bench/gateway_fanin.py [--connections 1000] [--rate 1000]
        [--seconds 10] [--runs 3] [--gc-freeze-ms 0] [--gc-sweep-ms N]

Starts a fresh broker (SQLite in a temporary directory) and a gateway on free
loopback ports. Every client authenticates with its own HS256 token,
subscribes to ``bench.fanin`` in one shared group (so each event goes to one
of them) and acks every EVENT. The clients together publish ``--rate``
events/s, round robin. Per run it prints the gateway's RSS and CPU (share of
one core, from psutil) and the publish-to-EVENT latency p50/p99 (sent and
received in this process), and from the gateway's ``/metrics`` the cycle
collections in the measured window, those pausing it over 50 ms, the longest
pause's bucket (also for the ramp before it) and what GC sweeps reclaimed.
``--gc-freeze-ms 0`` runs both services with CPython's collector unpaced.
With ``--runs N`` it prints the medians; the target is p99 < 50 ms. Figures
only; nothing is asserted.

At thousands of connections one client process is the bottleneck on a small
machine: ``--client-procs P`` spreads the subscribing connections over P
worker processes (each with its own event loop; the publish timestamps are
``time.perf_counter``, CLOCK_MONOTONIC, comparable across processes) while
this process publishes through ``--publishers`` connections (default 8). The
open-file limit is raised to its hard limit. Each run also prints the
gateway's broker connections (established TCP connections to the broker's
port, the publishing link included). The issue 20 target:

    uv run python bench/gateway_fanin.py --connections 5000 --client-procs 3
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import multiprocessing
import os
import resource
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, Final

import aiohttp
import jwt
import msgspec
import psutil
from prometheus_client.parser import text_string_to_metric_families

SECRET: Final = "bench-secret-0123456789abcdef0123"
TOPIC: Final = "bench.fanin"
GROUP: Final = "bench"
WARMUP_S: Final = 8.0
"""Traffic before measuring. Longer than one PROMETHEAN_GC_FREEZE_MS (5 s)
so the sweep that follows the ramp to ``--connections`` (the frozen set
grows by far more than a quarter) lands here, not in the steady state; each
run prints the longest collection pause up to the end of the warm-up
(``ramp_gc_longest_pause_le_ms``) beside the steady state's."""
READY_TIMEOUT_S: Final = 60.0
CONNECT_BATCH: Final = 100
METRICS_TIMEOUT_S: Final = 30.0
ERRORS_SHOWN: Final = 5
SUBSCRIBED_TIMEOUT_S: Final = 300.0
DEFAULT_MULTI_PROC_PUBLISHERS: Final = 8
_json = msgspec.json.Encoder()
_decode = msgspec.json.Decoder()


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
def stack(
    workdir: Path, connections: int, store: str | None = None, gc_env: dict[str, str] | None = None
) -> Iterator[tuple[int, int, psutil.Process, psutil.Process]]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("PROMETHEAN_", "BUS_", "WS_", "JWT_"))
    }
    bus_port, ws_port = free_port(), free_port()
    quiet = {"PROMETHEAN_LOG_LEVEL": "warning", "PROMETHEAN_HOST": "127.0.0.1", **(gc_env or {})}
    broker = subprocess.Popen(
        [sys.executable, "-m", "promethean_broker"],
        env={
            **env,
            **quiet,
            "BUS_PORT": str(bus_port),
            "PROMETHEAN_STORE": store or f"sqlite:///{workdir}/bus.db",
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
            "PROMETHEAN_GATEWAY_MAX_CONNECTIONS": str(connections * 2),
        },
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        wait_ready(bus_port, broker)
        wait_ready(ws_port, gateway)
        yield ws_port, bus_port, psutil.Process(gateway.pid), psutil.Process(broker.pid)
    finally:
        for process in (gateway, broker):
            process.send_signal(signal.SIGKILL)
            process.wait()


@dataclass(frozen=True)
class GcReading:
    """A service's cycle-collector figures from its ``/metrics``."""

    buckets: dict[tuple[str, float], float]
    """(generation, upper bound in s) -> collections so far."""
    reclaimed: float = 0.0
    """Objects the pacer's sweeps reclaimed so far."""


def read_gc(port: int) -> GcReading:
    """Empty when the gateway is too loaded to answer within the timeout."""
    try:
        with urllib.request.urlopen(
            f"http://127.0.0.1:{port}/metrics", timeout=METRICS_TIMEOUT_S
        ) as response:
            text = response.read().decode()
    except OSError as exc:
        print(f"/metrics did not answer: {exc}", file=sys.stderr)
        return GcReading({})
    buckets: dict[tuple[str, float], float] = {}
    reclaimed = 0.0
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == "promethean_gc_pause_seconds_bucket":
                buckets[(sample.labels["generation"], float(sample.labels["le"]))] = sample.value
            elif sample.name == "promethean_gc_sweep_reclaimed_objects_total":
                reclaimed = sample.value
    return GcReading(buckets, reclaimed)


def gc_pauses(before: GcReading, after: GcReading) -> tuple[int, int, float]:
    """Between two readings: collections, those that paused the loop
    over 50 ms, and the upper bound (ms) of the bucket of the longest."""
    total = over_50 = 0
    longest = 0.0
    for generation in {g for g, _ in after.buckets}:
        rows = sorted(
            (bound, count - before.buckets.get((g, bound), 0))
            for (g, bound), count in after.buckets.items()
            if g == generation
        )
        count = rows[-1][1]
        total += int(count)
        over_50 += int(count - next(c for b, c in rows if b >= 0.05))
        if count:
            longest = max(longest, next(b for b, c in rows if c == count) * 1000)
    return total, over_50, longest


@dataclass
class Totals:
    latencies: list[float]
    publish_latencies: list[float] = field(default_factory=list)
    sent_at: dict[int, float] = field(default_factory=dict)
    received: int = 0
    measuring: bool = False
    errors: int = 0
    """ERR replies and publishes the gateway's socket no longer took."""


async def client(
    session: aiohttp.ClientSession,
    url: str,
    n: int,
    totals: Totals,
    ready: asyncio.Event,
    subscribe: bool = True,
) -> aiohttp.ClientWebSocketResponse:
    token = jwt.encode(
        {
            "sub": f"bench-{n}",
            "exp": int(time.time()) + 3600,
            "scopes": ["publish:bench.*", "subscribe:bench.*"],
        },
        SECRET,
        algorithm="HS256",
    )
    ws = await session.ws_connect(url, max_msg_size=0)
    await ws.send_bytes(_json.encode({"op": "AUTH", "token": token, "corr": 1}))
    if subscribe:
        await ws.send_bytes(
            _json.encode(
                {
                    "op": "SUBSCRIBE",
                    "topic": TOPIC,
                    "group": GROUP,
                    "corr": 2,
                    "opts": {"ackTimeoutMs": 30000},
                }
            )
        )

    async def read() -> None:
        oks = 0
        async for msg in ws:
            frame = _decode.decode(msg.data)
            op = frame.get("op")
            if op == "EVENT":
                now = time.perf_counter()
                if totals.measuring:
                    totals.latencies.append(now - frame["event"]["payload"]["t"])
                totals.received += 1
                await ws.send_bytes(
                    _json.encode(
                        {"op": "ACK", "topic": TOPIC, "group": GROUP, "id": frame["event"]["id"]}
                    )
                )
            elif op == "OK" and isinstance(frame.get("corr"), int) and frame["corr"] >= 100:
                started = totals.sent_at.pop(frame["corr"], None)
                if started is not None and totals.measuring:
                    totals.publish_latencies.append(time.perf_counter() - started)
            elif op == "OK" and frame.get("corr") in (1, 2):
                oks += 1
                if oks == (2 if subscribe else 1):
                    ready.set()
            elif op == "ERR":
                totals.errors += 1
                if totals.errors <= ERRORS_SHOWN:
                    print("ERR", frame, file=sys.stderr)

    asyncio.get_running_loop().create_task(read())
    return ws


def raise_open_files() -> None:
    """Thousands of sockets need more than the usual soft limit of 1,024."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def open_clients(
    session: aiohttp.ClientSession, url: str, numbers: range, totals: Totals, subscribe: int
) -> list[aiohttp.ClientWebSocketResponse]:
    """Clients ``numbers``, authenticated; those below ``subscribe`` also
    subscribed. Returns once every one was answered ``OK``."""
    readies = {n: asyncio.Event() for n in numbers}
    sockets: list[aiohttp.ClientWebSocketResponse] = []
    for start in range(numbers.start, numbers.stop, CONNECT_BATCH):
        sockets += await asyncio.gather(
            *(
                client(session, url, n, totals, readies[n], n < subscribe)
                for n in range(start, min(numbers.stop, start + CONNECT_BATCH))
            )
        )
    waits = (ready.wait() for ready in readies.values())
    await asyncio.wait_for(asyncio.gather(*waits), SUBSCRIBED_TIMEOUT_S)
    return sockets


def subscriber_worker(url: str, numbers: range, pipe: Connection) -> None:
    """A client process: subscribes ``numbers``, says ``ready``, measures
    between the ``measure`` and ``stop`` commands, then sends back its
    latencies and how many events it received."""
    raise_open_files()
    asyncio.run(_subscribe_and_measure(url, numbers, pipe))


async def _subscribe_and_measure(url: str, numbers: range, pipe: Connection) -> None:
    totals = Totals([])
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    try:
        await open_clients(session, url, numbers, totals, numbers.stop)
        pipe.send("ready")
        for command in ("measure", "stop"):
            got = await asyncio.to_thread(pipe.recv)
            if got != command:
                raise SystemExit(f"expected {command!r}, got {got!r}")
            totals.measuring = command == "measure"
        pipe.send((totals.latencies, totals.received))
    finally:
        await session.close()


class SubscriberProcs:
    """``subscribers`` subscribing connections spread over ``procs`` processes."""

    def __init__(self, url: str, subscribers: int, procs: int) -> None:
        spawn = multiprocessing.get_context("spawn")
        self.pipes: list[Connection] = []
        self.procs: list[multiprocessing.process.BaseProcess] = []
        share = -(-subscribers // procs)
        for first in range(0, subscribers, share):
            mine, theirs = spawn.Pipe()
            numbers = range(first, min(subscribers, first + share))
            proc = spawn.Process(target=subscriber_worker, args=(url, numbers, theirs))
            proc.start()
            self.pipes.append(mine)
            self.procs.append(proc)

    async def ready(self) -> None:
        for pipe in self.pipes:
            if not await asyncio.to_thread(pipe.poll, SUBSCRIBED_TIMEOUT_S):
                raise SystemExit("a client process never subscribed")
            pipe.recv()

    def tell(self, command: str) -> None:
        for pipe in self.pipes:
            pipe.send(command)

    async def results(self) -> tuple[list[float], int]:
        latencies: list[float] = []
        received = 0
        for pipe in self.pipes:
            theirs, count = await asyncio.to_thread(pipe.recv)
            latencies += theirs
            received += count
        return latencies, received

    def kill(self) -> None:
        for proc in self.procs:
            proc.kill()
            proc.join()


def broker_connections(gateway: psutil.Process, bus_port: int) -> int:
    """The gateway's established TCP connections to the broker."""
    return sum(
        1
        for conn in gateway.net_connections("tcp")
        if conn.status == psutil.CONN_ESTABLISHED and conn.raddr and conn.raddr.port == bus_port
    )


async def one_run(
    url: str,
    proc: psutil.Process,
    broker: psutil.Process,
    connections: int,
    rate: int,
    seconds: float,
    subscribers: int,
    publishers_wanted: int | None = None,
    client_procs: int = 1,
    bus_port: int = 0,
) -> dict[str, float]:
    gateway_port = int(url.rsplit(":", 1)[1].split("/")[0])
    totals = Totals([])
    session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
    workers: SubscriberProcs | None = None
    try:
        if client_procs > 1:
            # The subscribers live in the worker processes; this one publishes.
            workers = SubscriberProcs(url, subscribers, client_procs)
            publishers = publishers_wanted or DEFAULT_MULTI_PROC_PUBLISHERS
            numbers = range(subscribers, subscribers + publishers)
            sockets = await open_clients(session, url, numbers, totals, 0)
            await workers.ready()
        else:
            sockets = await open_clients(session, url, range(connections), totals, subscribers)
            publishers = min(connections, publishers_wanted or connections)

        corrs = itertools.count(100)

        async def publish_for(duration: float) -> int:
            sent = 0
            tick = 0.01
            per_tick = rate * tick
            started = time.perf_counter()
            budget = 0.0
            while (elapsed := time.perf_counter() - started) < duration:
                budget = elapsed * rate - sent
                for _ in range(int(budget)):
                    ws = sockets[sent % publishers]
                    corr = next(corrs)
                    totals.sent_at[corr] = time.perf_counter()
                    sent += 1
                    frame = {
                        "op": "PUBLISH",
                        "topic": TOPIC,
                        "corr": corr,
                        "payload": {"t": time.perf_counter(), "n": sent},
                    }
                    try:
                        await ws.send_bytes(_json.encode(frame))
                    except (aiohttp.ClientError, ConnectionError):
                        totals.errors += 1  # the gateway closed this publisher
                await asyncio.sleep(tick if per_tick >= 1 else 1 / rate)
            return sent

        await publish_for(WARMUP_S)
        gc_before = await asyncio.to_thread(read_gc, gateway_port)
        rss_before = proc.memory_info().rss
        me = psutil.Process()
        cpu_before = sum(proc.cpu_times()[:2])
        broker_before = sum(broker.cpu_times()[:2])
        me_before = sum(me.cpu_times()[:2])
        totals.measuring = True
        if workers is not None:
            workers.tell("measure")
        wall = time.perf_counter()
        sent = await publish_for(seconds)
        await asyncio.sleep(1.0)
        totals.measuring = False
        if workers is not None:
            workers.tell("stop")
        wall = time.perf_counter() - wall
        links = broker_connections(proc, bus_port) if bus_port else float("nan")
        if workers is not None:
            theirs, _ = await workers.results()
            totals.latencies += theirs
        gc_after = await asyncio.to_thread(read_gc, gateway_port)
        collections, long_pauses, longest_pause = gc_pauses(gc_before, gc_after)
        cpu = (sum(proc.cpu_times()[:2]) - cpu_before) / wall
        broker_cpu = (sum(broker.cpu_times()[:2]) - broker_before) / wall
        client_cpu = (sum(me.cpu_times()[:2]) - me_before) / wall
        rss = max(rss_before, proc.memory_info().rss)
        lat = sorted(totals.latencies)
        pub = sorted(totals.publish_latencies)
        return {
            "sent": sent,
            "received": len(lat),
            "rss_mib": rss / 2**20,
            "cpu_pct": cpu * 100,
            "broker_cpu_pct": broker_cpu * 100,
            "client_cpu_pct": client_cpu * 100,
            "p50_ms": lat[len(lat) // 2] * 1000 if lat else float("nan"),
            "p99_ms": lat[int(len(lat) * 0.99)] * 1000 if lat else float("nan"),
            "publish_ok_p50_ms": pub[len(pub) // 2] * 1000 if pub else float("nan"),
            "publish_ok_p99_ms": pub[int(len(pub) * 0.99)] * 1000 if pub else float("nan"),
            "gc_collections": collections,
            "gc_pauses_over_50ms": long_pauses,
            "gc_longest_pause_le_ms": longest_pause,
            "ramp_gc_longest_pause_le_ms": gc_pauses(GcReading({}), gc_before)[2],
            "gc_sweep_reclaimed": gc_after.reclaimed - gc_before.reclaimed,
            "broker_links": links,
            "errors": totals.errors,
        }
    finally:
        await session.close()
        if workers is not None:
            workers.kill()


def gc_env(args: argparse.Namespace) -> dict[str, str]:
    env = {}
    if args.gc_freeze_ms is not None:
        env["PROMETHEAN_GC_FREEZE_MS"] = str(args.gc_freeze_ms)
    if args.gc_sweep_ms is not None:
        env["PROMETHEAN_GC_SWEEP_MS"] = str(args.gc_sweep_ms)
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=1000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--store", default=None, help="broker store URL (default: SQLite in a temp dir)"
    )
    parser.add_argument(
        "--gc-freeze-ms",
        type=int,
        default=None,
        help="PROMETHEAN_GC_FREEZE_MS of both services (0: CPython's collector unpaced)",
    )
    parser.add_argument(
        "--gc-sweep-ms", type=int, default=None, help="PROMETHEAN_GC_SWEEP_MS of both services"
    )
    parser.add_argument(
        "--publishers", type=int, default=None, help="connections that publish (default: all)"
    )
    parser.add_argument(
        "--subscribers", type=int, default=None, help="connections that subscribe (default: all)"
    )
    parser.add_argument(
        "--client-procs",
        type=int,
        default=1,
        help="processes holding the subscribing connections (1: all in this process)",
    )
    args = parser.parse_args()
    raise_open_files()
    results = []
    for run in range(1, args.runs + 1):
        with (
            tempfile.TemporaryDirectory() as tmp,
            stack(Path(tmp), args.connections, args.store, gc_env(args)) as stacked,
        ):
            port, bus_port, proc, broker = stacked
            figures = asyncio.run(
                one_run(
                    f"ws://127.0.0.1:{port}/ws",
                    proc,
                    broker,
                    args.connections,
                    args.rate,
                    args.seconds,
                    args.subscribers if args.subscribers is not None else args.connections,
                    args.publishers,
                    args.client_procs,
                    bus_port,
                )
            )
        results.append(figures)
        print(f"run {run}: " + "  ".join(f"{k}={v:.1f}" for k, v in figures.items()), flush=True)
    medians: dict[str, Any] = {k: statistics.median(r[k] for r in results) for k in results[0]}
    print(
        f"median of {args.runs}: {args.connections} connections, {args.rate} msg/s: "
        f"gateway RSS {medians['rss_mib']:.0f} MiB, CPU {medians['cpu_pct']:.0f}% of a core, "
        f"publish-to-EVENT p50 {medians['p50_ms']:.1f} ms, p99 {medians['p99_ms']:.1f} ms "
        f"(target p99 < 50 ms), received {medians['received']:.0f}/{medians['sent']:.0f}; "
        f"gateway GC pauses over 50 ms: {medians['gc_pauses_over_50ms']:.0f} "
        f"of {medians['gc_collections']:.0f} collections; "
        f"gateway-to-broker connections {medians['broker_links']:.0f} (target <= 16 plus the"
        " publishing link)"
    )


if __name__ == "__main__":
    main()
