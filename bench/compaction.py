"""Compaction throughput on SQLite: 1,000,000 events over 10,000 keys.

    uv run python bench/compaction.py [--events 1000000] [--keys 10000]
                                      [--partitions 1] [--runs 3] [--batch 50000]

Each run appends ``--events`` keyed events (keys drawn uniformly at random,
~70-byte payloads) to a fresh SQLite store in a temporary directory, then
runs one compactor pass over the topic in-process (the same `TopicPasses`
the service runs, ``--batch`` offsets per store call) and prints: events
scanned per second, the pass time, and the store's size on disk (database
plus WAL) before compaction, after it, and after ``VACUUM`` (SQLite reuses
freed pages but does not give them back to the file system by itself).
The last line is the median of ``--runs`` runs. Figures only; nothing is
asserted beyond the log holding one event per key afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import sqlite3
import statistics
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from promethean.partitioning import partition_for
from promethean.store import NewEvent, open_store
from promethean.store.records import Cleanup, TopicConfig
from promethean_compactor.passes import PassOptions, TopicPasses

TOPIC = "bench.state"
APPEND_BATCH = 5_000
MIB = 1024 * 1024


@dataclass(frozen=True)
class RunResult:
    events: int
    seconds: float
    before_bytes: int
    after_bytes: int
    vacuumed_bytes: int
    removed: int

    @property
    def scanned_per_s(self) -> float:
        return self.events / self.seconds


def on_disk(db: Path) -> int:
    return sum(p.stat().st_size for p in db.parent.glob(db.name + "*"))


async def fill(url: str, events: int, keys: int, partitions: int, seed: int) -> None:
    store = open_store(url)
    await store.open()
    try:
        await store.put_topic_config(
            TopicConfig(name=TOPIC, partitions=partitions, cleanup=Cleanup.COMPACT)
        )
        rng = random.Random(seed)
        batches: dict[int, list[NewEvent]] = {p: [] for p in range(partitions)}
        for i in range(events):
            key = f"key-{rng.randrange(keys):05d}"
            payload = b'{"seq":%d,"value":%d,"status":"active","region":"eu-west"}' % (
                i,
                rng.randrange(1 << 30),
            )
            partition = partition_for(key, f"e{i}", partitions)
            batch = batches[partition]
            batch.append(NewEvent(id=f"e{i}", ts=1_700_000_000_000 + i, payload=payload, key=key))
            if len(batch) == APPEND_BATCH:
                await store.append(TOPIC, partition, batch)
                batches[partition] = []
        for partition, batch in batches.items():
            if batch:
                await store.append(TOPIC, partition, batch)
    finally:
        await store.close()


async def compact(url: str, partitions: int, batch: int) -> tuple[float, int, int]:
    store = open_store(url)
    await store.open()
    try:
        config = TopicConfig(name=TOPIC, partitions=partitions, cleanup=Cleanup.COMPACT)
        passes = TopicPasses(store, PassOptions(batch_events=batch), lambda: 1_700_000_000_000)
        started = time.perf_counter()
        report = await passes.run(config)
        seconds = time.perf_counter() - started
        left = await store.count_events(TOPIC)
    finally:
        await store.close()
    return seconds, report.compacted, left


def vacuum(db: Path) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("VACUUM")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()


async def one_run(args: argparse.Namespace, seed: int) -> RunResult:
    with tempfile.TemporaryDirectory(prefix="promethean-bench-") as tmp:
        db = Path(tmp) / "bus.db"
        url = f"sqlite:///{db}"
        await fill(url, args.events, args.keys, args.partitions, seed)
        before = on_disk(db)
        seconds, removed, left = await compact(url, args.partitions, args.batch)
        after = on_disk(db)
        vacuum(db)
        vacuumed = on_disk(db)
    if left > args.keys:
        raise SystemExit(f"compaction left {left} events for {args.keys} keys")
    return RunResult(args.events, seconds, before, after, vacuumed, removed)


def line(label: str, r: RunResult) -> str:
    return (
        f"{label:<8} scanned {r.scanned_per_s:>10,.0f} events/s  time {r.seconds:6.2f} s  "
        f"removed {r.removed:>9,}  size {r.before_bytes / MIB:7.1f} MiB -> "
        f"{r.after_bytes / MIB:7.1f} MiB (after VACUUM {r.vacuumed_bytes / MIB:6.1f} MiB)"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keys", type=int, default=10_000)
    parser.add_argument("--partitions", type=int, default=1)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--batch", type=int, default=50_000)
    args = parser.parse_args()
    print(
        f"compaction on SQLite: {args.events:,} events, {args.keys:,} keys, "
        f"{args.partitions} partition(s), {args.batch:,} offsets per step",
        flush=True,
    )
    results = []
    for run in range(args.runs):
        result = await one_run(args, seed=run)
        results.append(result)
        print(line(f"run {run + 1}", result), flush=True)
    median = sorted(results, key=lambda r: r.seconds)[len(results) // 2]
    print(line("median", median))
    print(f"median pass time {statistics.median(r.seconds for r in results):.2f} s")


if __name__ == "__main__":
    asyncio.run(main())
