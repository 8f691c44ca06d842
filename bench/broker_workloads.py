"""The broker workloads the project is judged by, with the SDK as client.

    uv run python bench/broker_workloads.py [--runs 3] [--workloads w1,w2,w3]
        [--store URL | --ferretdb] [--inflight N] [--partitions N]
        [--profile DIR] [--profile-client DIR]

- W1: publish 50,000 events of 200 B with at least 256 in flight; msg/s.
  Then the broker's RSS (psutil).
- W2: 50,000 pre-published events drained by 10 consumers of one group,
  each message acked; msg/s.
- W3: a steady 1,000 msg/s for 10 s to one consumer; publish-to-receive
  latency p50 / p99 in ms, after a warm-up of 240 events that is not
  measured (so every partition writer and the group's cursors exist).

Every workload runs against a fresh broker process (``python -m
promethean_broker``) on a free loopback port with a fresh store: SQLite in a
temporary directory by default, ``--store mongodb://...`` for a MongoDB, or
``--ferretdb`` to start FerretDB (SQLite handler) from
``~/.cache/promethean/ferretdb-v1.24.2/ferretdb`` (W1 only unless
``--workloads`` says otherwise). ``--runs N`` prints each run and the medians
against the targets.

Profiling: ``--profile DIR`` (or ``PROMETHEAN_BENCH_PROFILE=DIR``) runs the
broker under cProfile and prints its hottest functions after each workload
(cProfile sees the event-loop thread only, not the SQLite threads);
``--profile-client DIR`` does the same for the client side in this process.
Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import cProfile
import io
import os
import pstats
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiohttp
import msgspec
import psutil

from promethean.client import ClientConfig, Message, SubscribeOptions, WebSocketBusClient

PROFILE_ENV: Final = "PROMETHEAN_BENCH_PROFILE"
FERRETDB_BIN: Final = Path.home() / ".cache/promethean/ferretdb-v1.24.2/ferretdb"
READY_TIMEOUT_S: Final = 30.0
PAYLOAD_BYTES: Final = 200
TOP_FUNCTIONS: Final = 30
WARMUP_EVENTS: Final = 240

TARGETS: Final = {
    "W1 publish msg/s": (20_000, "min"),
    "W2 drain msg/s": (15_000, "min"),
    "W3 p50 ms": (5.0, "max"),
    "W3 p99 ms": (25.0, "max"),
    "broker RSS after W1 MB": (150.0, "max"),
}

_json = msgspec.json.Encoder()


def padded_payload(index: int, size: int = PAYLOAD_BYTES, **fields: Any) -> dict[str, Any]:
    """A JSON object of exactly ``size`` bytes once encoded."""
    body: dict[str, Any] = {"i": index, **fields, "pad": ""}
    body["pad"] = "x" * max(0, size - len(_json.encode(body)))
    return body


def warmup_payload(index: int) -> dict[str, Any]:
    return padded_payload(index, sent_ns=time.perf_counter_ns())


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# -- processes ---------------------------------------------------------------


@dataclass
class BrokerProcess:
    store_url: str
    workdir: Path
    profile_path: Path | None = None
    port: int = field(default_factory=free_port)
    process: asyncio.subprocess.Process | None = None
    env: dict[str, str] = field(default_factory=dict)
    """Added to the broker's environment (e.g. its id in a cluster)."""

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def http_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def cpu_s(self) -> float:
        """User + system CPU seconds of the broker process, every thread."""
        assert self.process is not None
        times = psutil.Process(self.process.pid).cpu_times()
        return float(times.user + times.system)

    def rss_mb(self) -> float:
        assert self.process is not None
        return psutil.Process(self.process.pid).memory_info().rss / (1024 * 1024)

    async def start(self) -> None:
        env = {
            **os.environ,
            "BUS_PORT": str(self.port),
            "PROMETHEAN_HOST": "127.0.0.1",
            "PROMETHEAN_STORE": self.store_url,
            "PROMETHEAN_LOG_LEVEL": "warning",
            **self.env,
        }
        command = [sys.executable]
        if self.profile_path is not None:
            command += ["-m", "cProfile", "-o", str(self.profile_path)]
        command += ["-m", "promethean_broker"]
        with (self.workdir / "broker.log").open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
            )
        await self._wait_ready()

    async def _wait_ready(self) -> None:
        assert self.process is not None
        deadline = time.monotonic() + READY_TIMEOUT_S
        async with aiohttp.ClientSession() as http:
            while time.monotonic() < deadline:
                if self.process.returncode is not None:
                    raise RuntimeError(f"broker exited; see {self.workdir / 'broker.log'}")
                with contextlib.suppress(aiohttp.ClientError, OSError):
                    async with http.get(self.http_url + "/healthz/ready") as reply:
                        if reply.status == 200:
                            return
                await asyncio.sleep(0.05)
        raise RuntimeError(f"broker not ready within {READY_TIMEOUT_S}s")

    async def create_topic(self, name: str, partitions: int | None) -> None:
        """``POST /topics`` when a partition count is asked for (else the
        broker creates the topic on first publish with its default)."""
        if partitions is None:
            return
        body = {"name": name, "partitions": partitions}
        async with (
            aiohttp.ClientSession() as http,
            http.post(self.http_url + "/topics", json=body) as reply,
        ):
            if reply.status >= 300:
                raise RuntimeError(f"POST /topics {body}: {reply.status} {await reply.text()}")

    async def admin(self, path: str) -> Any:
        async with aiohttp.ClientSession() as http, http.get(self.http_url + path) as reply:
            return await reply.json()

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 60)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


@contextlib.contextmanager
def running_ferretdb(workdir: Path) -> Iterator[str]:
    """FerretDB with its SQLite handler on a free port (as tests/fixtures/ferretdb.py)."""
    if not FERRETDB_BIN.is_file():
        raise SystemExit(f"FerretDB binary not found at {FERRETDB_BIN}")
    port = free_port()
    (workdir / "ferretdb").mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            str(FERRETDB_BIN),
            "--handler=sqlite",
            f"--sqlite-url=file:{workdir / 'ferretdb'}/",
            f"--listen-addr=127.0.0.1:{port}",
            "--debug-addr=-",
            "--telemetry=disable",
            f"--state-dir={workdir}",
            "--log-level=warn",
        ],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while True:
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
                break
            if process.poll() is not None or time.monotonic() > deadline:
                raise SystemExit("FerretDB did not start")
            time.sleep(0.05)
        yield f"mongodb://127.0.0.1:{port}/"
    finally:
        process.terminate()
        process.wait(10)


def fsync_ms(directory: Path, writes: int = 50) -> float:
    """Mean time of a 4 KiB write + fsync in ``directory``: the floor under
    every durable append, and the main source of run-to-run variance."""
    path = directory / "fsync-probe"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        started = time.perf_counter()
        for _ in range(writes):
            os.write(fd, b"x" * 4096)
            os.fsync(fd)
        return (time.perf_counter() - started) / writes * 1000
    finally:
        os.close(fd)
        path.unlink()


# -- workloads ---------------------------------------------------------------


async def publish_all(
    bus: WebSocketBusClient, topic: str, count: int, inflight: int, make: Callable[[int], Any]
) -> None:
    """``count`` publishes with ``inflight`` outstanding at any time."""
    next_index = iter(range(count))

    async def publisher() -> None:
        for index in next_index:
            await bus.publish(topic, make(index))

    await asyncio.gather(*(publisher() for _ in range(inflight)))


async def w1_publish(broker: BrokerProcess, args: argparse.Namespace) -> dict[str, float]:
    await broker.create_topic("bench.w1", args.partitions)
    async with WebSocketBusClient(broker.url, CLIENT_CONFIG) as bus:
        await bus.publish("bench.w1", padded_payload(-1))  # create the topic
        broker_cpu, client_cpu = broker.cpu_s(), time.process_time()
        started = time.perf_counter()
        await publish_all(bus, "bench.w1", args.count, args.inflight, padded_payload)
        elapsed = time.perf_counter() - started
        broker_cpu, client_cpu = broker.cpu_s() - broker_cpu, time.process_time() - client_cpu
    return {
        "W1 publish msg/s": args.count / elapsed,
        "broker RSS after W1 MB": broker.rss_mb(),
        "W1 broker CPU % (all threads)": 100 * broker_cpu / elapsed,
        "W1 client CPU %": 100 * client_cpu / elapsed,
    }


async def drain(
    url: str,
    topic: str,
    group: str,
    count: int,
    consumers: int,
    then: Callable[[], Awaitable[None]] | None = None,
) -> tuple[float, float]:
    """Drain ``count`` events of ``topic`` with ``consumers`` clients of
    ``group``, each message acked: seconds until the last one was received,
    and until ``then`` returned (the consumers still connected)."""
    received: set[tuple[int, int]] = set()
    drained = asyncio.Event()

    async def handle(message: Message) -> None:
        received.add((message.partition, message.offset))
        if len(received) >= count:
            drained.set()

    clients = [WebSocketBusClient(url, CLIENT_CONFIG) for _ in range(consumers)]
    for client in clients:
        await client.connect()
    try:
        started = time.perf_counter()
        options = SubscribeOptions(start="earliest")
        for client in clients:
            await client.subscribe(topic, group, handle, options=options)
        await drained.wait()
        handled = time.perf_counter() - started
        if then is not None:
            await then()
        return handled, time.perf_counter() - started
    finally:
        for client in clients:
            await client.close()


async def w2_drain(broker: BrokerProcess, args: argparse.Namespace) -> dict[str, float]:
    topic, group = "bench.w2", "drainers"
    await broker.create_topic(topic, args.partitions)
    async with WebSocketBusClient(broker.url, CLIENT_CONFIG) as bus:
        await publish_all(bus, topic, args.count, 1024, padded_payload)

    async def committed_all() -> None:
        # The broker has no push for "committed"; ask its admin API.
        while (await broker.admin(f"/lag?topic={topic}&group={group}"))["lag"] > 0:  # noqa: ASYNC110
            await asyncio.sleep(0.01)

    handled, committed = await drain(
        broker.url, topic, group, args.count, args.consumers, committed_all
    )
    return {
        "W2 drain msg/s": args.count / handled,
        "W2 until committed msg/s": args.count / committed,
    }


async def w3_latency(broker: BrokerProcess, args: argparse.Namespace) -> dict[str, float]:
    topic, total = "bench.w3", args.rate * args.seconds
    await broker.create_topic(topic, args.partitions)
    latencies_ms: list[float] = []
    expected = WARMUP_EVENTS
    all_received = asyncio.Event()

    async def handle(message: Message) -> None:
        latencies_ms.append((time.perf_counter_ns() - message.payload["sent_ns"]) / 1e6)
        if len(latencies_ms) >= expected:
            all_received.set()

    async with (
        WebSocketBusClient(broker.url, CLIENT_CONFIG) as publisher,
        WebSocketBusClient(broker.url, CLIENT_CONFIG) as consumer,
    ):
        await publisher.publish(topic, padded_payload(-1, sent_ns=0))  # create the topic
        await consumer.subscribe(topic, "latency", handle)
        # Warm-up, not measured: every partition's writer and the group's
        # cursors exist and have been used once.
        await publish_all(publisher, topic, WARMUP_EVENTS, 64, warmup_payload)
        await asyncio.wait_for(all_received.wait(), 60)
        latencies_ms.clear()
        expected = total
        all_received.clear()
        pending: set[asyncio.Task[Any]] = set()
        started = time.perf_counter()
        for index in range(total):
            delay = started + index / args.rate - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            body = padded_payload(index, sent_ns=time.perf_counter_ns())
            task = asyncio.create_task(publisher.publish(topic, body))
            pending.add(task)
            task.add_done_callback(pending.discard)
        await asyncio.gather(*pending)
        await asyncio.wait_for(all_received.wait(), 60)
    latencies_ms.sort()
    return {
        "W3 p50 ms": statistics.median(latencies_ms),
        "W3 p99 ms": latencies_ms[int(len(latencies_ms) * 0.99) - 1],
        "W3 max ms": latencies_ms[-1],
    }


CLIENT_CONFIG: Final = ClientConfig(max_pending_publishes=20_000)
Workload = Callable[[BrokerProcess, argparse.Namespace], Awaitable[dict[str, float]]]
WORKLOADS: Final[dict[str, Workload]] = {"w1": w1_publish, "w2": w2_drain, "w3": w3_latency}


# -- running -----------------------------------------------------------------


@contextlib.asynccontextmanager
async def broker_for(
    name: str, run: int, store: str | None, workdir: Path, profile_dir: Path | None
) -> AsyncIterator[BrokerProcess]:
    """A fresh broker with a fresh store (a new SQLite file or database name)."""
    here = workdir / f"{name}-run{run}"
    here.mkdir(parents=True)
    if store is None:
        store_url = f"sqlite:///{here / 'broker.db'}"
    else:
        store_url = store.rstrip("/") + f"/bench_{uuid.uuid4().hex[:12]}"
    profile = profile_dir / f"broker-{name}-run{run}.prof" if profile_dir else None
    broker = BrokerProcess(store_url, here, profile)
    await broker.start()
    try:
        yield broker
    finally:
        await broker.stop()
    if profile is not None:
        print_profile(f"broker profile, {name} run {run}", profile)


def print_profile(title: str, path: Path) -> None:
    out = io.StringIO()
    stats = pstats.Stats(str(path), stream=out)
    stats.sort_stats("tottime").print_stats(TOP_FUNCTIONS)
    print(f"\n=== {title} ({path}) ===")
    print("\n".join(out.getvalue().splitlines()[: TOP_FUNCTIONS + 12]))


async def run_once(
    name: str, run: int, args: argparse.Namespace, store: str | None
) -> dict[str, float]:
    async with broker_for(name, run, store, args.workdir, args.profile) as broker:
        profiler = cProfile.Profile() if args.profile_client else None
        if profiler is not None:
            profiler.enable()
        try:
            return await WORKLOADS[name](broker, args)
        finally:
            if profiler is not None:
                profiler.disable()
                path = args.profile_client / f"client-{name}-run{run}.prof"
                profiler.dump_stats(path)
                print_profile(f"client profile, {name} run {run}", path)


def verdict(metric: str, value: float) -> str:
    if metric not in TARGETS:
        return ""
    target, kind = TARGETS[metric]
    met = value >= target if kind == "min" else value <= target
    return f"target {'>=' if kind == 'min' else '<='} {target:,}: {'met' if met else 'MISSED'}"


async def main(args: argparse.Namespace, store: str | None) -> None:
    results: dict[str, list[float]] = {}
    for run in range(1, args.runs + 1):
        conditions = {
            "disk fsync ms": fsync_ms(args.workdir),
            "load average 1 min": os.getloadavg()[0],
        }
        for metric, value in conditions.items():
            results.setdefault(metric, []).append(value)
            print(f"run {run} {metric:<26} {value:>12,.2f}")
        for name in args.workloads:
            figures = await run_once(name, run, args, store)
            for metric, value in figures.items():
                results.setdefault(metric, []).append(value)
                print(f"run {run} {metric:<26} {value:>12,.2f}", flush=True)
    print(f"\nmedians of {args.runs} run(s), store {store or 'sqlite'}:")
    for metric, values in results.items():
        median = statistics.median(values)
        runs = ", ".join(f"{v:,.1f}" for v in values)
        print(f"  {metric:<26} {median:>12,.2f}   [{runs}]  {verdict(metric, median)}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=1)
    parser.add_argument("--workloads", default=None, help="comma list of w1,w2,w3")
    target = parser.add_mutually_exclusive_group()
    target.add_argument("--store", help="a mongodb:// URL (default: SQLite in a temp dir)")
    target.add_argument("--ferretdb", action="store_true", help="start FerretDB for the store")
    parser.add_argument("--count", type=int, default=50_000, help="events in W1 and W2")
    parser.add_argument("--inflight", type=int, default=512, help="W1 publishes in flight")
    parser.add_argument("--consumers", type=int, default=10, help="W2 consumers")
    parser.add_argument("--rate", type=int, default=1_000, help="W3 msg/s")
    parser.add_argument("--seconds", type=int, default=10, help="W3 duration")
    parser.add_argument(
        "--partitions",
        type=int,
        default=None,
        help="create the bench topics with this many partitions (default: the broker's)",
    )
    parser.add_argument("--profile", type=Path, default=os.environ.get(PROFILE_ENV))
    parser.add_argument("--profile-client", type=Path, default=None)
    args = parser.parse_args()
    mongo = args.ferretdb or args.store is not None
    args.workloads = (args.workloads or ("w1" if mongo else "w1,w2,w3")).split(",")
    if unknown := set(args.workloads) - set(WORKLOADS):
        parser.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    if args.inflight < 256:
        print("note: W1 is defined with at least 256 publishes in flight", file=sys.stderr)
    for directory in (args.profile, args.profile_client):
        if directory is not None:
            Path(directory).mkdir(parents=True, exist_ok=True)
    return args


def cli() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="promethean-bench-") as tmp:
        args.workdir = Path(tmp)
        if args.ferretdb:
            with running_ferretdb(args.workdir) as url:
                asyncio.run(main(args, url))
        else:
            asyncio.run(main(args, args.store))


if __name__ == "__main__":
    cli()
