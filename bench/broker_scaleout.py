"""Broker scale-out on SQLite: throughput with 1, 2 and 3 active brokers,
and how long 12 partitions take to move.

    uv run python bench/broker_scaleout.py [--runs 3] [--brokers 1,2,3]
        [--count 20000] [--partitions 12] [--lease-ttl-ms 10000]

For each broker count, each run starts that many brokers (b0, b1, …) on one
fresh SQLite file, creates the topics with ``--partitions`` partitions and
waits until their ownership is spread evenly, then measures with the SDK
(which routes every publish and subscription to the partition's owner):

- W1P: ``--count`` publishes of 200 B, 256 in flight, from one client; msg/s.
- W2: ``--count`` pre-published events drained by 10 consumers of one
  group, each acked; msg/s until the last is received.

Then, once per run (unless ``--no-moves``): *handoff* is the time from
starting a third broker next to two until the partitions are spread over
the three (graceful moves; from the process start, and from its Ready,
which it reports once it holds its share), and the time from SIGTERM of one of three
until the other two own everything; *takeover* is the time from SIGKILL of
one of three until the other two own everything (the lease TTL, then one
ownership pass). Medians of the runs, and each W1P/W2 figure's ratio to one
broker. Figures only; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import statistics
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Final

from broker_workloads import CLIENT_CONFIG, BrokerProcess, drain, padded_payload, publish_all
from promethean.client import WebSocketBusClient
from promethean.store import open_store

W1P_INFLIGHT: Final = 256
W2_CONSUMERS: Final = 10
SETTLE_TIMEOUT_S: Final = 120.0
POLL_S: Final = 0.02


# -- a cluster on one SQLite file ---------------------------------------------


class Cluster:
    def __init__(self, workdir: Path, lease_ttl_ms: int) -> None:
        self.workdir = workdir
        self.store_url = f"sqlite:///{workdir / 'bus.db'}"
        self.lease_ttl_ms = lease_ttl_ms
        self.brokers: dict[str, BrokerProcess] = {}

    async def add(self, name: str, *, wait_ready: bool = True) -> BrokerProcess:
        here = self.workdir / name
        here.mkdir(exist_ok=True)
        env = {"PROMETHEAN_BROKER_ID": name, "PROMETHEAN_LEASE_TTL_MS": str(self.lease_ttl_ms)}
        broker = BrokerProcess(self.store_url, here, env=env)
        self.brokers[name] = broker
        if wait_ready:
            await broker.start()
        return broker

    @property
    def first(self) -> BrokerProcess:
        return next(iter(self.brokers.values()))

    async def owners(self) -> dict[tuple[str, int], str]:
        """(topic, partition) → live owner, from the store."""
        store = open_store(self.store_url)
        await store.open()
        try:
            now = int(time.time() * 1000)
            return {
                (o.topic, o.partition): o.broker_id
                for o in await store.list_partition_owners()
                if o.live(now)
            }
        finally:
            await store.close()

    async def settled(self, topics: list[str], partitions: int, names: list[str]) -> float:
        """Seconds until every partition of ``topics`` has a live owner among
        ``names`` and the counts per broker differ by at most one."""
        started = time.perf_counter()
        deadline = started + SETTLE_TIMEOUT_S
        while time.perf_counter() < deadline:
            owners = await self.owners()
            mine = [b for (t, _), b in owners.items() if t in topics and b in names]
            counts = Counter(b for b in owners.values() if b in names)
            per_broker = [counts.get(n, 0) for n in names]
            if (
                len(mine) == partitions * len(topics)
                and set(owners.values()) <= set(names)
                and max(per_broker) - min(per_broker) <= 1
            ):
                return time.perf_counter() - started
            await asyncio.sleep(POLL_S)
        raise RuntimeError(f"ownership did not settle over {names} in {SETTLE_TIMEOUT_S}s")

    async def stop(self) -> None:
        for broker in self.brokers.values():
            await broker.stop()


@contextlib.asynccontextmanager
async def cluster_of(
    count: int, root: Path, label: str, args: argparse.Namespace, topics: list[str]
) -> AsyncIterator[Cluster]:
    """``count`` Ready brokers with ``topics`` created and spread."""
    workdir = root / label
    workdir.mkdir()
    cluster = Cluster(workdir, args.lease_ttl_ms)
    try:
        for i in range(count):
            await cluster.add(f"b{i}")
        for topic in topics:
            await cluster.first.create_topic(topic, args.partitions)
        await cluster.settled(topics, args.partitions, list(cluster.brokers))
        yield cluster
    finally:
        await cluster.stop()


# -- workloads ---------------------------------------------------------------


async def w1p(cluster: Cluster, args: argparse.Namespace) -> float:
    async with WebSocketBusClient(cluster.first.url, CLIENT_CONFIG) as bus:
        await bus.publish("bench.w1p", padded_payload(-1))  # routes fetched, links open
        started = time.perf_counter()
        await publish_all(bus, "bench.w1p", args.count, W1P_INFLIGHT, padded_payload)
        return args.count / (time.perf_counter() - started)


async def w2(cluster: Cluster, args: argparse.Namespace) -> float:
    topic, group = "bench.w2", "drainers"
    async with WebSocketBusClient(cluster.first.url, CLIENT_CONFIG) as bus:
        await publish_all(bus, topic, args.count, 1024, padded_payload)
    handled, _ = await drain(cluster.first.url, topic, group, args.count, W2_CONSUMERS)
    return args.count / handled


Workload = Callable[[Cluster, argparse.Namespace], Awaitable[float]]
WORKLOADS: Final[dict[str, tuple[str, Workload]]] = {
    "W1P msg/s": ("bench.w1p", w1p),
    "W2 msg/s": ("bench.w2", w2),
}


async def moves(root: Path, label: str, args: argparse.Namespace) -> dict[str, float]:
    """Handoff (a third broker joins; one of three leaves on SIGTERM) and
    takeover (one of three is SIGKILLed) of ``--partitions`` partitions."""
    topic = "bench.moves"
    figures: dict[str, float] = {}
    async with cluster_of(2, root, label, args, [topic]) as cluster:
        started = time.perf_counter()
        await cluster.add("b2")
        ready = time.perf_counter() - started
        figures["handoff 2->3 after Ready s"] = await cluster.settled(
            [topic], args.partitions, ["b0", "b1", "b2"]
        )
        figures["handoff 2->3 from start s"] = ready + figures["handoff 2->3 after Ready s"]
        await cluster.add("b3")
        await cluster.settled([topic], args.partitions, ["b0", "b1", "b2", "b3"])
        leaving = cluster.brokers.pop("b3")
        assert leaving.process is not None
        leaving.process.send_signal(signal.SIGTERM)
        figures["handoff 4->3 (SIGTERM) s"] = await cluster.settled(
            [topic], args.partitions, ["b0", "b1", "b2"]
        )
        await leaving.process.wait()
        killed = cluster.brokers.pop("b2")
        assert killed.process is not None
        killed.process.kill()
        figures["takeover 3->2 (SIGKILL) s"] = await cluster.settled(
            [topic], args.partitions, ["b0", "b1"]
        )
        await killed.process.wait()
    return figures


# -- runs --------------------------------------------------------------------


async def main(args: argparse.Namespace, root: Path) -> None:
    results: dict[str, list[float]] = {}

    def record(metric: str, run: int, value: float) -> None:
        results.setdefault(metric, []).append(value)
        print(f"run {run} {metric:<30} {value:>12,.2f}", flush=True)

    for run in range(1, args.runs + 1):
        for count in args.brokers:
            for metric, (topic, workload) in WORKLOADS.items():
                async with cluster_of(count, root, f"r{run}-{count}-{topic}", args, [topic]) as c:
                    record(f"{metric}, {count} broker(s)", run, await workload(c, args))
        if args.moves:
            for metric, value in (await moves(root, f"r{run}-moves", args)).items():
                record(metric, run, value)
    medians = {metric: statistics.median(values) for metric, values in results.items()}
    print(f"\nmedians of {args.runs} run(s), SQLite, {args.partitions} partitions:")
    for metric, median in medians.items():
        runs = ", ".join(f"{v:,.2f}" for v in results[metric])
        base = medians.get(metric.rsplit(",", 1)[0] + ", 1 broker(s)")
        ratio = f"  x{median / base:.2f} of 1 broker" if base and "broker(s)" in metric else ""
        print(f"  {metric:<30} {median:>12,.2f}   [{runs}]{ratio}")


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--brokers", default="1,2,3", help="comma list of broker counts")
    parser.add_argument("--count", type=int, default=20_000, help="events in W1P and W2")
    parser.add_argument("--partitions", type=int, default=12)
    parser.add_argument("--lease-ttl-ms", type=int, default=10_000, help="the brokers' lease TTL")
    parser.add_argument("--no-moves", dest="moves", action="store_false")
    args = parser.parse_args()
    args.brokers = [int(n) for n in args.brokers.split(",")]
    return args


def cli() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="promethean-scaleout-") as tmp:
        asyncio.run(main(args, Path(tmp)))


if __name__ == "__main__":
    cli()
