"""Promethean side by side with NATS JetStream and Redis Streams, one run.

    uv run python bench/peers.py [--runs 3] [--quick] [--peers a,b,...]
        [--workloads w1,w1p,w2,w3] [--baseline GIT_REF]

Peers (each server fresh per workload and run, in a temporary directory, on
a free loopback port; peers interleaved within each run):

- ``nats``: Debian ``nats-server`` with JetStream on file storage.
- ``redis``: Debian ``redis-server``, AOF with ``appendfsync everysec``.
- ``redis-always``: the same with ``appendfsync always`` (the durable reference:
  like Promethean it fsyncs before it answers).
- ``promethean``: the broker (``python -m promethean_broker``) on SQLite.
- ``promethean-memory``: the broker on the memory store (a reference, not a peer).
- with ``--baseline REF``: ``promethean@REF``, the broker's and library's source at
  git ``REF`` on SQLite, so a change is measured before and after in one run.

Workloads, 200 B JSON payloads, every client under uvloop:

- W1: publish with 1 in flight (each publish awaits its durable acknowledgement).
- W1P: publish with 256 in flight.
- W2: 10 consumers of one group drain pre-published events, each acked;
  timed until the server reports every event acked (JetStream consumer info,
  Redis ``XINFO GROUPS``, the broker's ``GET /lag``).
- W3: a steady 1,000 msg/s to one consumer for a few seconds: publish-to-
  receive latency p50 / p99 and the publisher's achieved rate.

For each, the server's CPU (user + system, all threads, from
``/proc/<pid>/stat``) per message, and after W1 the server's RSS. Prints
every run with the 1-minute load average, then one table of medians with
the issue's targets as ratios. Figures only; nothing is asserted. The
machine is shared, so figures are noisy: compare peers in the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, Protocol

import msgspec

PAYLOAD_BYTES: Final = 200
READY_TIMEOUT_S: Final = 30.0
W3_WARMUP: Final = 200
CLOCK_TICKS: Final = os.sysconf("SC_CLK_TCK")
PAGE_BYTES: Final = os.sysconf("SC_PAGE_SIZE")
PROFILE_EXTRA: list[str] = os.environ.get("PEERS_PYSPY_ARGS", "").split()
PROFILE_SUFFIXES: Final = {"flamegraph": ".svg", "raw": ".txt", "speedscope": ".json"}
REPO: Final = Path(__file__).resolve().parent.parent

PEERS: Final = ("nats", "redis", "redis-always", "promethean", "promethean-memory")
WORKLOADS: Final = ("w1", "w1p", "w2", "w3")
COLUMN_TITLES: Final = {
    "nats": "NATS JetStream",
    "redis": "Redis everysec",
    "redis-always": "Redis always",
    "promethean": "Promethean SQLite",
    "promethean-memory": "Promethean memory",
}

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


# -- pure: payloads, figures, the table --------------------------------------


def payload(index: int, sent_ns: int = 0) -> dict[str, Any]:
    """A JSON object of exactly `PAYLOAD_BYTES` once encoded (for any
    ``sent_ns`` of up to 19 digits)."""
    body: dict[str, Any] = {"i": index, "sent_ns": sent_ns, "pad": ""}
    body["pad"] = "x" * max(0, PAYLOAD_BYTES - len(_encode(body)))
    return body


def percentile(sorted_values: Sequence[float], fraction: float) -> float:
    """The nearest-rank percentile of already sorted values."""
    if not sorted_values:
        raise ValueError("no values")
    rank = max(1, min(len(sorted_values), round(fraction * len(sorted_values))))
    return sorted_values[rank - 1]


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured value of one peer in one run, with the load it saw."""

    peer: str
    metric: str
    value: float
    run: int
    load: float


def medians(figures: Sequence[Figure]) -> dict[tuple[str, str], float]:
    """Median per (peer, metric) over the runs."""
    grouped: dict[tuple[str, str], list[float]] = {}
    for figure in figures:
        grouped.setdefault((figure.peer, figure.metric), []).append(figure.value)
    return {key: statistics.median(values) for key, values in grouped.items()}


# Rows of the table: (metric, label, format).
ROWS: Final = (
    ("w1 msg/s", "W1 publish, 1 in flight, msg/s", "{:,.0f}"),
    ("w1p msg/s", "W1P publish, 256 in flight, msg/s", "{:,.0f}"),
    ("w2 msg/s", "W2 10 consumers drain, acked, msg/s", "{:,.0f}"),
    ("w3 p50 ms", "W3 1k msg/s p50 ms", "{:.2f}"),
    ("w3 p99 ms", "W3 1k msg/s p99 ms", "{:.2f}"),
    ("w3 msg/s", "W3 achieved publish rate msg/s", "{:,.0f}"),
    ("w1 cpu us", "server CPU us/msg W1", "{:.1f}"),
    ("w1p cpu us", "server CPU us/msg W1P", "{:.1f}"),
    ("w2 cpu us", "server CPU us/msg W2", "{:.1f}"),
    ("w3 cpu us", "server CPU us/msg W3", "{:.1f}"),
    ("w1 rss MB", "server RSS after W1, MB", "{:.0f}"),
    ("load", "load average (1 min), median", "{:.2f}"),
)


@dataclass(frozen=True, slots=True)
class Target:
    """One of the issue's targets, judged on the ``subject`` peer's median:
    ``value <op> factor x reference`` (a reference peer) or ``value <op> bound``."""

    label: str
    metric: str
    kind: str  # "min" (at least) or "max" (at most)
    bound: float | None = None
    reference: str | None = None
    reference_metric: str | None = None
    factor: float = 1.0

    def check(
        self, table: dict[tuple[str, str], float], subject: str
    ) -> tuple[float, float, bool] | None:
        """(value, limit, met), or None when a figure is missing."""
        value = table.get((subject, self.metric))
        if self.reference is not None:
            ref = table.get((self.reference, self.reference_metric or self.metric))
            limit = None if ref is None else ref * self.factor
        else:
            limit = self.bound
        if value is None or limit is None:
            return None
        met = value >= limit if self.kind == "min" else value <= limit
        return value, limit, met


TARGETS: Final = (
    Target("W1 >= 1.0x Redis always", "w1 msg/s", "min", reference="redis-always"),
    Target("W1P >= 1.0x NATS JetStream", "w1p msg/s", "min", reference="nats"),
    Target("W2 >= 1.0x Redis Streams", "w2 msg/s", "min", reference="redis"),
    Target("W3 p50 <= 2x NATS p50", "w3 p50 ms", "max", reference="nats", factor=2.0),
    Target("W3 p99 <= Redis always p99", "w3 p99 ms", "max", reference="redis-always"),
    Target("W3 at the full 1,000 msg/s (>= 990)", "w3 msg/s", "min", bound=990.0),
    Target("CPU W1 <= 60 us/msg", "w1 cpu us", "max", bound=60.0),
    Target("CPU W1P <= 12 us/msg", "w1p cpu us", "max", bound=12.0),
    Target("CPU W2 <= 10 us/msg", "w2 cpu us", "max", bound=10.0),
    Target("CPU W3 <= 200 us/msg", "w3 cpu us", "max", bound=200.0),
    Target("RSS after W1 <= 150 MB", "w1 rss MB", "max", bound=150.0),
)


def render_table(table: dict[tuple[str, str], float], peers: Sequence[str], runs: int) -> str:
    """A Markdown table of medians, one column per peer."""
    titles = [COLUMN_TITLES.get(peer, peer) for peer in peers]
    lines = [
        f"| medians of {runs} | " + " | ".join(titles) + " |",
        "|---|" + "---:|" * len(peers),
    ]
    for metric, label, fmt in ROWS:
        cells = [
            fmt.format(table[(peer, metric)]) if (peer, metric) in table else "-" for peer in peers
        ]
        if any(cell != "-" for cell in cells):
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def render_targets(table: dict[tuple[str, str], float], subjects: Sequence[str]) -> str:
    """The issue's targets for each Promethean peer: value, limit, ratio, verdict.
    The ratio is value / limit, so >= 1 meets a "min" target and <= 1 a "max" one."""
    lines = [
        "| target | " + " | ".join(COLUMN_TITLES.get(s, s) for s in subjects) + " |",
        "|---|" + "---|" * len(subjects),
    ]
    for target in TARGETS:
        cells = []
        for subject in subjects:
            checked = target.check(table, subject)
            if checked is None:
                cells.append("-")
                continue
            value, limit, met = checked
            ratio = value / limit if limit else float("inf")
            verdict = "met" if met else "MISSED"
            cells.append(f"{_number(value)} vs {_number(limit)}: {ratio:.2f}x {verdict}")
        lines.append(f"| {target.label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _number(value: float) -> str:
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.2f}"


# -- processes ---------------------------------------------------------------


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def proc_cpu_s(pid: int) -> float:
    """User + system CPU seconds of a process, every thread, from /proc."""
    stat = Path(f"/proc/{pid}/stat").read_text()
    fields = stat[stat.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def proc_rss_mb(pid: int) -> float:
    resident_pages = int(Path(f"/proc/{pid}/statm").read_text().split()[1])
    return resident_pages * PAGE_BYTES / (1024 * 1024)


@dataclass
class Server:
    argv: list[str]
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    process: asyncio.subprocess.Process | None = None

    @property
    def pid(self) -> int:
        if self.process is None:
            raise RuntimeError("server not started")
        return self.process.pid

    async def start(self) -> None:
        with (self.workdir / "server.log").open("ab") as log:
            self.process = await asyncio.create_subprocess_exec(
                *self.argv,
                cwd=self.workdir,
                env={**os.environ, **self.env},
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )

    def check_alive(self) -> None:
        if self.process is None or self.process.returncode is not None:
            log = (self.workdir / "server.log").read_text(errors="replace")[-2000:]
            raise RuntimeError(f"{self.argv[0]} exited:\n{log}")

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.terminate()
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


async def wait_until(probe: Callable[[], Awaitable[bool]], server: Server, what: str) -> None:
    deadline = time.monotonic() + READY_TIMEOUT_S
    while time.monotonic() < deadline:
        server.check_alive()
        with contextlib.suppress(Exception):
            if await probe():
                return
        await asyncio.sleep(0.05)
    raise RuntimeError(f"{what} not ready within {READY_TIMEOUT_S}s")


# -- peers -------------------------------------------------------------------

OnBody = Callable[[dict[str, Any]], None]


class Peer(Protocol):
    server: Server

    async def publish(self, topic: str, body: dict[str, Any]) -> None: ...

    async def publish_many(self, topic: str, count: int, inflight: int) -> None:
        """``count`` publishes with up to ``inflight`` unacknowledged."""

    async def drain(self, topic: str, count: int, consumers: int) -> None:
        """Consume ``count`` events of ``topic`` with ``consumers`` members of
        one group, acking each; return once the server reports all acked."""

    async def listen(self, topic: str, on_body: OnBody) -> None:
        """One consumer of ``topic`` from now on; ``on_body`` per event (acked)."""

    async def close(self) -> None: ...


class NatsPeer:
    """JetStream, file storage, one stream over ``bench.>``."""

    STREAM: Final = "BENCH"

    def __init__(self, server: Server, url: str) -> None:
        self.server = server
        self.url = url
        self._connections: list[Any] = []
        self._js: Any = None

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, workdir: Path, variant: str) -> AsyncIterator[NatsPeer]:
        import nats
        from nats.js.api import StorageType

        port = free_port()
        argv = ["nats-server", "-a", "127.0.0.1", "-p", str(port), "-js", "-sd", str(workdir)]
        server = Server(argv, workdir)
        await server.start()
        peer = cls(server, f"nats://127.0.0.1:{port}")
        try:

            async def connected() -> bool:
                nc = await nats.connect(
                    peer.url, allow_reconnect=False, connect_timeout=1, error_cb=_quiet
                )
                peer._connections.append(nc)
                peer._js = nc.jetstream()
                return True

            await wait_until(connected, server, "nats-server")
            await peer._js.add_stream(
                name=cls.STREAM, subjects=["bench.>"], storage=StorageType.FILE
            )
            yield peer
        finally:
            await peer.close()
            await server.stop()

    async def publish(self, topic: str, body: dict[str, Any]) -> None:
        await self._js.publish(topic, _encode(body), stream=self.STREAM)

    async def publish_many(self, topic: str, count: int, inflight: int) -> None:
        await publish_lanes(self, topic, count, inflight)

    async def drain(self, topic: str, count: int, consumers: int) -> None:
        import nats
        from nats.errors import TimeoutError as NatsTimeout

        received = 0
        done = asyncio.Event()

        async def member() -> None:
            nonlocal received
            nc = await nats.connect(self.url)
            self._connections.append(nc)
            sub = await nc.jetstream().pull_subscribe(topic, durable="drainers", stream=self.STREAM)
            while not done.is_set():
                try:
                    batch = await sub.fetch(batch=100, timeout=0.5)
                except NatsTimeout:
                    continue
                for message in batch:
                    _decode(message.data)
                    await message.ack()
                received += len(batch)
                if received >= count:
                    done.set()

        members = [asyncio.create_task(member()) for _ in range(consumers)]
        try:
            await _wait_all(done, members)
            while True:
                info = await self._js.consumer_info(self.STREAM, "drainers")
                if info.num_ack_pending == 0 and info.num_pending == 0:
                    return
                await asyncio.sleep(0.005)
        finally:
            await _cancel(members)

    async def listen(self, topic: str, on_body: OnBody) -> None:
        async def handle(message: Any) -> None:
            on_body(_decode(message.data))
            await message.ack()

        await self._js.subscribe(
            topic, durable="latency", stream=self.STREAM, cb=handle, manual_ack=True
        )

    async def close(self) -> None:
        for nc in self._connections:
            with contextlib.suppress(Exception):
                await nc.close()
        self._connections.clear()


class RedisPeer:
    """Redis Streams: XADD, consumer groups with XREADGROUP / XACK."""

    def __init__(self, server: Server, port: int) -> None:
        import redis.asyncio as aioredis

        self.server = server
        self.port = port
        # A blocking pool: past its size a command waits for a connection
        # instead of failing (W3 piles up publishes while the server stalls).
        pool = aioredis.BlockingConnectionPool(
            host="127.0.0.1", port=port, max_connections=512, timeout=None
        )
        self.client = aioredis.Redis(connection_pool=pool)
        self._extra: list[Any] = []

    @classmethod
    @contextlib.asynccontextmanager
    async def running(cls, workdir: Path, variant: str) -> AsyncIterator[RedisPeer]:
        port = free_port()
        fsync = "always" if variant == "redis-always" else "everysec"
        argv = [
            "redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(workdir),
            "--appendonly", "yes", "--appendfsync", fsync, "--save", "", "--daemonize", "no",
        ]  # fmt: skip
        server = Server(argv, workdir)
        await server.start()
        peer = cls(server, port)
        try:
            await wait_until(peer.client.ping, server, "redis-server")
            yield peer
        finally:
            await peer.close()
            await server.stop()

    async def publish(self, topic: str, body: dict[str, Any]) -> None:
        await self.client.xadd(topic, {"d": _encode(body)})

    async def publish_many(self, topic: str, count: int, inflight: int) -> None:
        """One connection, pipelines of ``inflight`` XADDs (redis-py runs one
        command at a time per connection, so pipelining is how a Redis client
        keeps many in flight)."""
        if inflight == 1:
            for index in range(count):
                await self.publish(topic, payload(index))
            return
        for start in range(0, count, inflight):
            pipe = self.client.pipeline(transaction=False)
            for index in range(start, min(count, start + inflight)):
                pipe.xadd(topic, {"d": _encode(payload(index))})
            await pipe.execute()

    async def drain(self, topic: str, count: int, consumers: int) -> None:
        import redis.asyncio as aioredis

        await self.client.xgroup_create(topic, "drainers", id="0")
        received = 0
        done = asyncio.Event()

        async def member(index: int) -> None:
            nonlocal received
            client = aioredis.Redis(host="127.0.0.1", port=self.port)
            self._extra.append(client)
            while not done.is_set():
                reply: Any = await client.xreadgroup(
                    "drainers", f"c{index}", {topic: ">"}, count=100, block=500
                )
                ids = [entry_id for _, entries in reply for entry_id, _ in entries]
                for _, entries in reply:
                    for _, fields in entries:
                        _decode(fields[b"d"])
                if ids:
                    await client.xack(topic, "drainers", *ids)
                received += len(ids)
                if received >= count:
                    done.set()

        members = [asyncio.create_task(member(i)) for i in range(consumers)]
        try:
            await _wait_all(done, members)
            while True:
                (group,) = await self.client.xinfo_groups(topic)
                if group["pending"] == 0 and group["lag"] == 0:
                    return
                await asyncio.sleep(0.005)
        finally:
            await _cancel(members)

    async def listen(self, topic: str, on_body: OnBody) -> None:
        import redis.asyncio as aioredis

        await self.client.xgroup_create(topic, "latency", id="$", mkstream=True)
        client = aioredis.Redis(host="127.0.0.1", port=self.port)
        self._extra.append(client)

        async def consume() -> None:
            while True:
                reply: Any = await client.xreadgroup(
                    "latency", "c", {topic: ">"}, count=100, block=0
                )
                ids = []
                for _, entries in reply:
                    for entry_id, fields in entries:
                        on_body(_decode(fields[b"d"]))
                        ids.append(entry_id)
                if ids:
                    await client.xack(topic, "latency", *ids)

        self._extra.append(asyncio.create_task(consume()))

    async def close(self) -> None:
        tasks = [x for x in self._extra if isinstance(x, asyncio.Task)]
        await _cancel(tasks)
        for client in [x for x in self._extra if not isinstance(x, asyncio.Task)]:
            await client.aclose()
        self._extra.clear()
        await self.client.aclose()
        await self.client.connection_pool.disconnect()


class PrometheanPeer:
    """The broker as a process, driven by our SDK."""

    def __init__(self, server: Server, port: int) -> None:
        self.server = server
        self.port = port
        self.url = f"ws://127.0.0.1:{port}/ws"
        self._clients: list[Any] = []
        self._bus: Any = None

    @classmethod
    @contextlib.asynccontextmanager
    async def running(
        cls, workdir: Path, variant: str, source: Path | None = None
    ) -> AsyncIterator[PrometheanPeer]:
        import aiohttp

        port = free_port()
        store = "memory://" if variant == "promethean-memory" else f"sqlite:///{workdir / 'bus.db'}"
        env = {
            "BUS_PORT": str(port),
            "PROMETHEAN_HOST": "127.0.0.1",
            "PROMETHEAN_STORE": store,
            "PROMETHEAN_LOG_LEVEL": "warning",
        }
        if source is not None:
            env["PYTHONPATH"] = f"{source / 'libs/promethean/src'}:{source / 'services/broker/src'}"
        server = Server([sys.executable, "-m", "promethean_broker"], workdir, env)
        await server.start()
        peer = cls(server, port)
        try:
            async with aiohttp.ClientSession() as http:

                async def ready() -> bool:
                    async with http.get(f"http://127.0.0.1:{port}/healthz/ready") as reply:
                        return reply.status == 200

                await wait_until(ready, server, "broker")
            peer._bus = await peer._client()
            yield peer
        finally:
            await peer.close()
            await server.stop()

    async def _client(self) -> Any:
        from promethean.client import ClientConfig, WebSocketBusClient

        client = WebSocketBusClient(self.url, ClientConfig(max_pending_publishes=20_000))
        await client.connect()
        self._clients.append(client)
        return client

    async def publish(self, topic: str, body: dict[str, Any]) -> None:
        await self._bus.publish(topic, body)

    async def publish_many(self, topic: str, count: int, inflight: int) -> None:
        await publish_lanes(self, topic, count, inflight)

    async def _lag(self, topic: str, group: str) -> int:
        import aiohttp

        url = f"http://127.0.0.1:{self.port}/lag?topic={topic}&group={group}"
        async with aiohttp.ClientSession() as http, http.get(url) as reply:
            return int((await reply.json())["lag"])

    async def drain(self, topic: str, count: int, consumers: int) -> None:
        from promethean.client import Message, SubscribeOptions

        received = 0
        done = asyncio.Event()

        async def handle(message: Message) -> None:
            nonlocal received
            _ = message.payload
            received += 1
            if received >= count:
                done.set()

        members = [await self._client() for _ in range(consumers)]
        for member in members:
            await member.subscribe(
                topic, "drainers", handle, options=SubscribeOptions(start="earliest")
            )
        await done.wait()
        # The broker has no push for "all committed": poll its admin API.
        while await self._lag(topic, "drainers") > 0:  # noqa: ASYNC110
            await asyncio.sleep(0.005)

    async def listen(self, topic: str, on_body: OnBody) -> None:
        from promethean.client import Message

        async def handle(message: Message) -> None:
            on_body(message.payload)

        consumer = await self._client()
        await consumer.subscribe(topic, "latency", handle)

    async def close(self) -> None:
        for client in self._clients:
            with contextlib.suppress(Exception):
                await client.close()
        self._clients.clear()


async def _wait_all(done: asyncio.Event, members: list[asyncio.Task[None]]) -> None:
    """Wait for ``done``; a member that fails ends the wait with its error."""
    waiter = asyncio.create_task(done.wait())
    finished, _ = await asyncio.wait([waiter, *members], return_when=asyncio.FIRST_COMPLETED)
    if done.is_set():
        waiter.cancel()
        return
    for task in finished:
        if task is not waiter:
            waiter.cancel()
            task.result()
            raise RuntimeError("a consumer stopped before the drain was done")


async def _quiet(error: Exception) -> None:
    """nats-py's error callback while the server starts: refusals are expected."""


async def _cancel(tasks: Sequence[asyncio.Task[Any]]) -> None:
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


# -- workloads ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Sizes:
    w1: int = 10_000
    w1p: int = 50_000
    w1p_inflight: int = 256
    w2: int = 50_000
    w2_consumers: int = 10
    w3_rate: int = 1_000
    w3_seconds: int = 10


QUICK: Final = Sizes(w1=300, w1p=2_000, w2=2_000, w3_seconds=2)


async def publish_lanes(peer: Peer, topic: str, count: int, inflight: int) -> None:
    """``inflight`` concurrent lanes, each awaiting one publish at a time
    (the clients that multiplex requests on one connection: NATS, ours)."""
    indexes = iter(range(count))

    async def lane() -> None:
        for index in indexes:
            await peer.publish(topic, payload(index))

    await asyncio.gather(*(lane() for _ in range(inflight)))


class Meter:
    """Server CPU over an interval."""

    def __init__(self, peer: Peer) -> None:
        self.pid = peer.server.pid
        self.cpu = proc_cpu_s(self.pid)
        self.started = time.perf_counter()

    def stop(self, messages: int) -> tuple[float, float]:
        """(msg/s, server CPU µs per message)."""
        elapsed = time.perf_counter() - self.started
        cpu = proc_cpu_s(self.pid) - self.cpu
        return messages / elapsed, cpu * 1e6 / messages


async def w1(peer: Peer, sizes: Sizes) -> dict[str, float]:
    await peer.publish("bench.w1", payload(-1))
    meter = Meter(peer)
    await peer.publish_many("bench.w1", sizes.w1, 1)
    rate, cpu = meter.stop(sizes.w1)
    return {"w1 msg/s": rate, "w1 cpu us": cpu, "w1 rss MB": proc_rss_mb(peer.server.pid)}


async def w1p(peer: Peer, sizes: Sizes) -> dict[str, float]:
    await peer.publish("bench.w1p", payload(-1))
    meter = Meter(peer)
    await peer.publish_many("bench.w1p", sizes.w1p, sizes.w1p_inflight)
    rate, cpu = meter.stop(sizes.w1p)
    return {"w1p msg/s": rate, "w1p cpu us": cpu}


async def w2(peer: Peer, sizes: Sizes) -> dict[str, float]:
    await peer.publish_many("bench.w2", sizes.w2, sizes.w1p_inflight)
    meter = Meter(peer)
    await peer.drain("bench.w2", sizes.w2, sizes.w2_consumers)
    rate, cpu = meter.stop(sizes.w2)
    return {"w2 msg/s": rate, "w2 cpu us": cpu}


async def w3(peer: Peer, sizes: Sizes) -> dict[str, float]:
    latencies_ms: list[float] = []
    expected = W3_WARMUP
    all_in = asyncio.Event()

    def on_body(body: dict[str, Any]) -> None:
        latencies_ms.append((time.perf_counter_ns() - body["sent_ns"]) / 1e6)
        if len(latencies_ms) >= expected:
            all_in.set()

    await peer.publish("bench.w3", payload(-1, time.perf_counter_ns()))
    await peer.listen("bench.w3", on_body)
    # Warm-up, not measured: every writer, cursor and connection is in use.
    for index in range(W3_WARMUP):
        await peer.publish("bench.w3", payload(index, time.perf_counter_ns()))
    await asyncio.wait_for(all_in.wait(), 60)
    latencies_ms.clear()
    all_in.clear()
    total = sizes.w3_rate * sizes.w3_seconds
    expected = total
    publishes: list[asyncio.Task[None]] = []
    meter = Meter(peer)
    for index in range(total):
        delay = meter.started + index / sizes.w3_rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        body = payload(index, time.perf_counter_ns())
        publishes.append(asyncio.create_task(peer.publish("bench.w3", body)))
    await asyncio.gather(*publishes)  # a failed publish fails the workload
    rate = total / (time.perf_counter() - meter.started)
    await asyncio.wait_for(all_in.wait(), 60)
    _, cpu = meter.stop(total)
    latencies_ms.sort()
    return {
        "w3 p50 ms": percentile(latencies_ms, 0.50),
        "w3 p99 ms": percentile(latencies_ms, 0.99),
        "w3 msg/s": rate,
        "w3 cpu us": cpu,
    }


WORKLOAD_FUNCTIONS: Final[dict[str, Callable[[Peer, Sizes], Awaitable[dict[str, float]]]]] = {
    "w1": w1,
    "w1p": w1p,
    "w2": w2,
    "w3": w3,
}


# -- running -----------------------------------------------------------------


def running_peer(
    name: str, workdir: Path, baseline: tuple[str, Path] | None
) -> contextlib.AbstractAsyncContextManager[Any]:
    if name == "nats":
        return NatsPeer.running(workdir, name)
    if name.startswith("redis"):
        return RedisPeer.running(workdir, name)
    if baseline is not None and name == f"promethean@{baseline[0]}":
        return PrometheanPeer.running(workdir, "promethean", baseline[1])
    return PrometheanPeer.running(workdir, name)


@contextlib.asynccontextmanager
async def profiled(pid: int, output: Path | None, fmt: str = "flamegraph") -> AsyncIterator[None]:
    """py-spy samples every thread of ``pid`` while the body runs and writes
    ``output`` in format ``fmt``; nothing when ``output`` is None. Extra py-spy
    flags (``--gil``, ``--native``) come from ``PEERS_PYSPY_ARGS``."""
    if output is None:
        yield
        return
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    argv = [spy, "record", "--pid", str(pid), "--output", str(output), "--format", fmt,
            "--rate", "200", *PROFILE_EXTRA]  # fmt: skip
    process = await asyncio.create_subprocess_exec(
        *argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL
    )
    await asyncio.sleep(1.0)  # py-spy prints nothing when attached; give it a second
    try:
        yield
    finally:
        process.send_signal(signal.SIGINT)
        await asyncio.wait_for(process.wait(), 60)


def export_baseline(ref: str, into: Path) -> Path:
    """The library's and broker's source at git ``ref``, unpacked under ``into``."""
    archive = into / "baseline.tar"
    subprocess.run(
        ["git", "-C", str(REPO), "archive", "-o", str(archive), ref,
         "libs/promethean/src", "services/broker/src"],
        check=True,
    )  # fmt: skip
    target = into / "baseline"
    with tarfile.open(archive) as tar:
        tar.extractall(target, filter="data")
    return target


async def measure(args: argparse.Namespace) -> list[Figure]:
    figures: list[Figure] = []
    baseline = None
    if args.baseline:
        baseline = (args.baseline, export_baseline(args.baseline, args.workdir))
    for run in range(1, args.runs + 1):
        # Rotate the order each run so no peer always goes first.
        order = args.peers[run - 1 :] + args.peers[: run - 1]
        for workload in args.workloads:
            for name in order:
                workdir = args.workdir / f"{name}-{workload}-{run}"
                workdir.mkdir(parents=True)
                async with running_peer(name, workdir, baseline) as peer:
                    profile_to = None
                    if args.profile is not None and name.startswith("promethean"):
                        suffix = PROFILE_SUFFIXES[args.profile_format]
                        profile_to = args.profile / f"{name}-{workload}{suffix}"
                    async with profiled(peer.server.pid, profile_to, args.profile_format):
                        result = await WORKLOAD_FUNCTIONS[workload](peer, args.sizes)
                load = os.getloadavg()[0]
                for metric, value in result.items():
                    figures.append(Figure(name, metric, value, run, load))
                    print(f"run {run} {name:<20} {metric:<11} {value:>12,.2f}  load {load:.2f}",
                          flush=True)  # fmt: skip
                figures.append(Figure(name, "load", load, run, load))
                shutil.rmtree(workdir, ignore_errors=True)
    return figures


def report(figures: list[Figure], args: argparse.Namespace) -> str:
    table = medians(figures)
    subjects = [p for p in args.peers if p.startswith("promethean")]
    return "\n\n".join(
        [render_table(table, args.peers, args.runs), render_targets(table, subjects)]
    )


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=None, help="runs (default 3; 1 with --quick)")
    parser.add_argument("--quick", action="store_true", help="a small smoke run")
    parser.add_argument("--peers", default=",".join(PEERS), help="comma list of " + ",".join(PEERS))
    parser.add_argument("--workloads", default=",".join(WORKLOADS))
    parser.add_argument("--baseline", help="also run the broker from this git ref (SQLite)")
    parser.add_argument(
        "--profile", type=Path, default=None, help="py-spy flame graphs of the broker into DIR"
    )
    parser.add_argument(
        "--profile-format",
        choices=sorted(PROFILE_SUFFIXES),
        default="flamegraph",
        help="py-spy output: flamegraph (SVG), raw (collapsed stacks) or speedscope",
    )
    parser.add_argument("--w3-seconds", type=int, default=None, help="W3 duration")
    args = parser.parse_args(argv)
    args.runs = args.runs or (1 if args.quick else 3)
    args.peers = [p for p in args.peers.split(",") if p]
    if unknown := set(args.peers) - set(PEERS):
        parser.error(f"unknown peers: {', '.join(sorted(unknown))}")
    if args.baseline:
        args.peers.append(f"promethean@{args.baseline}")
    args.workloads = [w for w in args.workloads.split(",") if w]
    if unknown := set(args.workloads) - set(WORKLOADS):
        parser.error(f"unknown workloads: {', '.join(sorted(unknown))}")
    sizes = QUICK if args.quick else Sizes()
    if args.w3_seconds is not None:
        sizes = Sizes(**{**{f: getattr(sizes, f) for f in sizes.__slots__},
                         "w3_seconds": args.w3_seconds})  # fmt: skip
    args.sizes = sizes
    if args.profile is not None:
        args.profile.mkdir(parents=True, exist_ok=True)
    return args


def run_loop(main: Awaitable[Any]) -> Any:
    """Every client here runs under uvloop (asyncio's loop if it is missing)."""
    try:
        import uvloop
    except ImportError:
        print("note: uvloop is not installed; clients run on asyncio's loop", file=sys.stderr)
        return asyncio.run(main)  # type: ignore[arg-type]
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)  # type: ignore[arg-type]


def cli(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    for binary in ("nats-server", "redis-server"):
        needed = any(p.startswith(binary.split("-")[0]) for p in args.peers)
        if needed and shutil.which(binary) is None:
            print(f"{binary} not found: apt-get install {binary}", file=sys.stderr)
            return 2
    with tempfile.TemporaryDirectory(prefix="promethean-peers-") as tmp:
        args.workdir = Path(tmp)
        started = os.getloadavg()[0]
        figures = run_loop(measure(args))
    print(f"\nload average at start {started:.2f}; the machine is shared, figures are noisy")
    print(report(figures, args))
    return 0


if __name__ == "__main__":
    sys.exit(cli())
