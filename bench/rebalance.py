"""Rebalance figures for partitioned workers on a real broker (loopback).

    uv run python bench/rebalance.py [--rounds 3] [--events 20000]

Prints, as medians over ``--rounds``:

- time from a scale event to every partition owned again, for a graceful
  leave (SIGTERM) and for a kill (SIGKILL, waits for the session timeout);
- events handled twice per rebalance while a producer keeps publishing;
- throughput of 1 worker and of 3 workers on a 12-partition topic (a
  prefilled backlog, drained by a handler doing ``--work-us`` of CPU work
  per event).

This file is also the handler module the worker processes load
(``rebalance:handle``, with ``bench/`` on ``PYTHONPATH``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

TOPIC = "bench.rebalance"
PARTITIONS = 12
HEARTBEAT_MS = 500
SESSION_TIMEOUT_MS = 3_000
KEYS = 500
HERE = Path(__file__).resolve().parent


# -- the handler the workers run ---------------------------------------------


async def handle(message: Any) -> None:
    """Burn ``BENCH_WORK_US`` of CPU, then append ``partition offset``."""
    deadline = time.perf_counter() + _WORK_S
    while time.perf_counter() < deadline:
        pass
    _out().write(f"{message.partition} {message.offset}\n")


_WORK_S = int(os.environ.get("BENCH_WORK_US", "0")) / 1_000_000
_record: Any = None


def _out() -> Any:
    global _record
    if _record is None:
        _record = open(os.environ["BENCH_RECORD"], "a", buffering=1)  # noqa: SIM115
    return _record


# -- processes ----------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def base_env() -> dict[str, str]:
    prefixes = ("PROMETHEAN_", "BUS_", "MONGO_")
    return {k: v for k, v in os.environ.items() if not k.startswith(prefixes)}


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=2) as response:
        return json.loads(response.read())


def wait_for(
    condition: Callable[[], bool], timeout_s: float, what: str, poll_s: float = 0.01
) -> float:
    started = time.monotonic()
    while True:
        try:
            if condition():
                return time.monotonic() - started
        except OSError:
            pass
        if time.monotonic() - started > timeout_s:
            raise SystemExit(f"timed out waiting for {what}")
        time.sleep(poll_s)


class Broker:
    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        env = base_env() | {
            "BUS_PORT": str(self.port),
            "PROMETHEAN_HOST": "127.0.0.1",
            "PROMETHEAN_STORE": f"sqlite:///{workdir}/bus.db",
            "PROMETHEAN_DEFAULT_PARTITIONS": str(PARTITIONS),
            "PROMETHEAN_HEARTBEAT_MS": str(HEARTBEAT_MS),
            "PROMETHEAN_SESSION_TIMEOUT_MS": str(SESSION_TIMEOUT_MS),
            "PROMETHEAN_LOG_LEVEL": "warning",
        }
        self.log = (workdir / "broker.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "promethean_broker"], env=env, stdout=self.log, stderr=self.log
        )
        wait_for(
            lambda: get_json(f"http://127.0.0.1:{self.port}/healthz/ready")["ready"],
            30,
            "the broker",
            0.05,
        )

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    def stop(self) -> None:
        self.process.kill()
        self.process.wait()
        self.log.close()


class Worker:
    def __init__(
        self, broker: Broker, workdir: Path, name: str, group: str, work_us: int, wait: bool = True
    ) -> None:
        self.name = name
        self.port = free_port()
        self.record = workdir / f"{group}-{name}.records"
        env = base_env() | {
            "BUS_URL": broker.url,
            "PROMETHEAN_HOST": "127.0.0.1",
            "PROMETHEAN_WORKER_PORT": str(self.port),
            "PROMETHEAN_WORKER_GROUP": group,
            "PROMETHEAN_WORKER_HANDLERS": f"rebalance:handle@{TOPIC}",
            "PROMETHEAN_INSTANCE_ID": f"{group}-{name}",
            "PROMETHEAN_WORKER_LAG_POLL_MS": "0",
            "PROMETHEAN_LOG_LEVEL": "warning",
            "PROMETHEAN_DRAIN_MS": "10000",
            "PYTHONPATH": os.pathsep.join(filter(None, [str(HERE), os.environ.get("PYTHONPATH")])),
            "BENCH_RECORD": str(self.record),
            "BENCH_WORK_US": str(work_us),
        }
        self.log = (workdir / f"{group}-{name}.log").open("wb")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "promethean_worker"], env=env, stdout=self.log, stderr=self.log
        )
        if wait:
            wait_for(self.ready, 30, f"worker {name}", 0.05)

    def ready(self) -> bool:
        return bool(get_json(f"http://127.0.0.1:{self.port}/healthz/ready")["ready"])

    def owned(self) -> set[int]:
        body = get_json(f"http://127.0.0.1:{self.port}/assignment")
        return set(body["topics"].get(TOPIC, {}).get("owned", []))

    def handled(self) -> list[tuple[int, int]]:
        if not self.record.exists():
            return []
        rows = []
        for line in self.record.read_text().split("\n")[:-1]:
            partition, offset = line.split()
            rows.append((int(partition), int(offset)))
        return rows

    def stop(self, sig: signal.Signals = signal.SIGKILL) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
        self.process.wait(timeout=30)
        self.log.close()


def settled(workers: list[Worker]) -> bool:
    owned = [w.owned() for w in workers]
    union = set().union(*owned)
    counts = [len(o) for o in owned]
    return (
        union == set(range(PARTITIONS))
        and sum(counts) == PARTITIONS
        and max(counts) - min(counts) <= 1
    )


# -- producing ----------------------------------------------------------------


async def publish(url: str, events: int, *, start: int = 0, pause_s: float = 0.0) -> None:
    from promethean.client import WebSocketBusClient

    async with WebSocketBusClient(url) as bus:
        chunk = 500
        for first in range(start, start + events, chunk):
            last = min(start + events, first + chunk)
            await asyncio.gather(
                *(bus.publish(TOPIC, {"n": n}, key=f"k{n % KEYS}") for n in range(first, last))
            )
            if pause_s:
                await asyncio.sleep(pause_s)


# -- measurements -------------------------------------------------------------


def scale_in_time(broker: Broker, workdir: Path, group: str, sig: signal.Signals) -> float:
    workers = [Worker(broker, workdir, f"w{n}", group, 0) for n in range(3)]
    try:
        wait_for(lambda: settled(workers), 60, "3 workers to settle")
        leaving = workers.pop()
        started = time.monotonic()
        leaving.process.send_signal(sig)
        wait_for(lambda: settled(workers), 60, "2 workers to settle")
        took = time.monotonic() - started
        leaving.stop()
        return took
    finally:
        for worker in workers:
            worker.stop()


def duplicates_per_rebalance(broker: Broker, workdir: Path, group: str, events: int) -> float:
    """Publish steadily while scaling 1 -> 3 -> 2; duplicates per scale event."""
    workers = [Worker(broker, workdir, "w0", group, 0)]
    everyone = list(workers)
    try:
        wait_for(lambda: settled(workers), 60, "1 worker to settle")
        producer = subprocess.Popen(
            [sys.executable, __file__, "--produce", broker.url, str(events)], env=base_env()
        )
        time.sleep(1.0)
        workers += [Worker(broker, workdir, f"w{n}", group, 0) for n in (1, 2)]
        everyone = list(workers)
        wait_for(lambda: settled(workers), 60, "3 workers to settle")
        workers.pop().stop(signal.SIGTERM)
        wait_for(lambda: settled(workers), 60, "2 workers to settle")
        producer.wait(timeout=300)
        total = sum(_next_offsets(broker).values())
        wait_for(
            lambda: len({h for w in everyone for h in w.handled()}) >= total,
            300,
            "every event handled",
            0.1,
        )
        handled = [h for w in everyone for h in w.handled()]
        return (len(handled) - len(set(handled))) / 2  # two scale events
    finally:
        for worker in everyone:
            worker.stop()


def _next_offsets(broker: Broker) -> dict[int, int]:
    try:
        body = get_json(f"http://127.0.0.1:{broker.port}/topics/{TOPIC}/offsets")
    except urllib.error.HTTPError:
        return {}
    return {p["partition"]: p["latest"] + 1 for p in body["partitions"]}


def throughput(broker: Broker, workdir: Path, group: str, count: int, work_us: int) -> float:
    """Events per second ``count`` workers drain a prefilled backlog at,
    measured from a quarter of the backlog to all of it (start-up and the
    first assignments excluded)."""
    backlog = sum(_next_offsets(broker).values())
    workers = [Worker(broker, workdir, f"w{n}", group, work_us, wait=False) for n in range(count)]
    try:

        def handled() -> int:
            return len({h for w in workers for h in w.handled()})

        wait_for(lambda: handled() >= backlog // 4, 600, "a quarter of the backlog", 0.02)
        started, first = time.monotonic(), handled()
        wait_for(lambda: handled() >= backlog, 600, f"{count} worker(s) to drain it", 0.02)
        return (backlog - first) / (time.monotonic() - started)
    finally:
        for worker in workers:
            worker.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--work-us", type=int, default=300)
    parser.add_argument("--produce", nargs=2, metavar=("URL", "EVENTS"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.produce:
        asyncio.run(publish(args.produce[0], int(args.produce[1]), pause_s=0.05))
        return

    with tempfile.TemporaryDirectory(prefix="bench-rebalance-") as tmp:
        workdir = Path(tmp)
        broker = Broker(workdir)
        try:
            asyncio.run(publish(broker.url, args.events))
            graceful, killed, dups, one, three = [], [], [], [], []
            for r in range(args.rounds):
                graceful.append(scale_in_time(broker, workdir, f"leave{r}", signal.SIGTERM))
                killed.append(scale_in_time(broker, workdir, f"kill{r}", signal.SIGKILL))
                dups.append(duplicates_per_rebalance(broker, workdir, f"dups{r}", args.events // 2))
                one.append(throughput(broker, workdir, f"one{r}", 1, args.work_us))
                three.append(throughput(broker, workdir, f"three{r}", 3, args.work_us))
                print(f"round {r + 1}/{args.rounds} done", file=sys.stderr, flush=True)
        finally:
            broker.stop()

    med = statistics.median
    print(
        f"partitioned workers, {PARTITIONS} partitions, heartbeat {HEARTBEAT_MS} ms, "
        f"session timeout {SESSION_TIMEOUT_MS} ms, medians of {args.rounds}"
    )
    print(f"  graceful leave (3 -> 2), all partitions owned again: {med(graceful) * 1000:8.0f} ms")
    print(f"  kill (3 -> 2), all partitions owned again:           {med(killed) * 1000:8.0f} ms")
    print(f"  events handled twice per rebalance:                  {med(dups):8.1f}")
    print(f"  throughput, 1 worker  ({args.work_us} us/event):     {med(one):8.0f} events/s")
    print(f"  throughput, 3 workers ({args.work_us} us/event):     {med(three):8.0f} events/s")
    print(f"  speed-up 3 vs 1:                                     {med(three) / med(one):8.2f}x")


if __name__ == "__main__":
    main()
