"""How many events per second a store adapter appends, by batch size.

    uv run python bench/store_append.py [--stores sqlite,mongo] [--mongo-url URL]
                                        [--runs 3] [--events 1000]

For each store and each batch size (1, 16, 256) it appends batches of small
events to a fresh topic, one batch after another (as the broker's single
partition writer does), and prints the median of ``--runs`` runs in events
per second. SQLite writes to a temporary directory; MongoDB uses
``--mongo-url`` (a fresh database, dropped afterwards) or, without it,
starts FerretDB on a free loopback port from ``PROMETHEAN_FERRETDB_BIN`` or
the cache ``scripts/build-ferretdb.sh`` fills. A store whose adapter does not
import is skipped with a note. Figures only; nothing is asserted.

FerretDB 1.24 with its SQLite handler pushes no filter but a lone ``_id``
down to SQLite, so every other query scans the whole collection: its
figures fall as a database grows and say little about MongoDB, whose
indexes serve the adapter's queries.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from promethean.store import NewEvent, Store, open_store

BATCH_SIZES = (1, 16, 256)
PAYLOAD = b'{"order_id":"A-1001","items":[{"sku":"X1","qty":2}],"total":42.5}'
DEFAULT_FERRETDB_BIN = Path.home() / ".cache/promethean/ferretdb-v1.24.2/ferretdb"
FERRETDB_READY_S = 30.0


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def with_database(url: str, database: str) -> str:
    return urlunsplit(urlsplit(url)._replace(path="/" + database))


@contextmanager
def ferretdb() -> Iterator[str]:
    """FerretDB with its SQLite handler in a temporary directory, stopped on exit."""
    from pymongo import MongoClient
    from pymongo.errors import PyMongoError

    binary = Path(os.environ.get("PROMETHEAN_FERRETDB_BIN") or DEFAULT_FERRETDB_BIN)
    if not binary.is_file():
        raise FileNotFoundError(
            f"FerretDB binary not found at {binary}: run scripts/build-ferretdb.sh "
            "or pass --mongo-url"
        )
    with tempfile.TemporaryDirectory(prefix="bench-ferretdb-") as workdir:
        port = free_port()
        url = f"mongodb://127.0.0.1:{port}/"
        with (Path(workdir) / "ferretdb.log").open("wb") as log:
            process = subprocess.Popen(
                [
                    str(binary),
                    "--handler=sqlite",
                    f"--sqlite-url=file:{workdir}/",
                    f"--listen-addr=127.0.0.1:{port}",
                    "--debug-addr=-",
                    "--telemetry=disable",
                    f"--state-dir={workdir}",
                    "--log-level=warn",
                ],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        try:
            deadline = time.monotonic() + FERRETDB_READY_S
            with MongoClient[dict[str, Any]](url, serverSelectionTimeoutMS=250) as client:
                while True:
                    if process.poll() is not None:
                        raise RuntimeError(f"FerretDB exited with code {process.returncode}")
                    try:
                        client.admin.command("ping")
                        break
                    except PyMongoError:
                        if time.monotonic() > deadline:
                            raise
                        time.sleep(0.05)
            yield url
        finally:
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()


@asynccontextmanager
async def opened(url: str) -> AsyncIterator[Store]:
    store = open_store(url)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


async def one_run(store: Store, batch_size: int, total: int) -> float:
    """Append ``total`` events (rounded up to whole batches); events per second."""
    topic = f"bench.{uuid.uuid4().hex[:12]}"
    batches = max(1, -(-total // batch_size))
    ts = int(time.time() * 1000)
    prepared = [
        [
            NewEvent(id=f"{b}-{i}", ts=ts, payload=PAYLOAD, key=f"k{i % 64}")
            for i in range(batch_size)
        ]
        for b in range(batches)
    ]
    started = time.perf_counter()
    for batch in prepared:
        await store.append(topic, 0, batch)
    elapsed = time.perf_counter() - started
    return batches * batch_size / elapsed


async def bench_batch_size(url: str, batch_size: int, runs: int, total: int) -> float:
    """Median events/s of ``runs`` runs against a store opened at ``url``."""
    async with opened(url) as store:
        await one_run(store, 16, 64)  # warm up connections and caches
        # Batch size 1 pays a round trip per event: keep its runs short.
        events = total if batch_size > 1 else max(50, total // 8)
        rates = [await one_run(store, batch_size, events) for _ in range(runs)]
    return statistics.median(rates)


def drop_database(url: str) -> None:
    from pymongo import MongoClient

    with MongoClient[dict[str, Any]](url, serverSelectionTimeoutMS=5000) as client:
        client.drop_database(urlsplit(url).path.lstrip("/"))


async def bench_sqlite(runs: int, total: int) -> dict[int, float]:
    medians: dict[int, float] = {}
    for batch_size in BATCH_SIZES:
        with tempfile.TemporaryDirectory(prefix="bench-sqlite-") as workdir:
            url = f"sqlite:///{workdir}/bus.db"
            medians[batch_size] = await bench_batch_size(url, batch_size, runs, total)
    return medians


async def bench_mongo(server_url: str, runs: int, total: int) -> dict[int, float]:
    """Each batch size gets a fresh database, so every one starts from the
    same (empty) collection size."""
    medians: dict[int, float] = {}
    for batch_size in BATCH_SIZES:
        url = with_database(server_url, f"bench_{uuid.uuid4().hex[:12]}")
        try:
            medians[batch_size] = await bench_batch_size(url, batch_size, runs, total)
        finally:
            drop_database(url)
        # The store logs what the server lacks on every open; once is enough.
        logging.getLogger("promethean.store.mongo").setLevel(logging.ERROR)
    return medians


def can_import(store: str) -> str | None:
    """None when the adapter imports, else why not."""
    module = {"sqlite": "promethean.store.sqlite", "mongo": "promethean.store.mongo"}[store]
    try:
        __import__(module)
    except ImportError as error:
        return f"{module} does not import ({error})"
    return None


async def run_store(store: str, args: argparse.Namespace) -> dict[int, float] | None:
    problem = can_import(store)
    if problem is not None:
        print(f"note: skipping {store}: {problem}")
        return None
    if store == "sqlite":
        return await bench_sqlite(args.runs, args.events)
    if args.mongo_url:
        return await bench_mongo(args.mongo_url, args.runs, args.events)
    try:
        with ferretdb() as server_url:
            return await bench_mongo(server_url, args.runs, args.events)
    except (FileNotFoundError, RuntimeError) as error:
        print(f"note: skipping mongo: {error}")
        return None


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stores", default="sqlite,mongo", help="comma-separated: sqlite,mongo")
    parser.add_argument("--mongo-url", default="", help="a running MongoDB instead of FerretDB")
    parser.add_argument("--runs", type=int, default=3, help="runs per batch size (median)")
    parser.add_argument("--events", type=int, default=1000, help="events per run")
    args = parser.parse_args(argv)
    stores = [s.strip() for s in args.stores.split(",") if s.strip()]
    unknown = sorted(set(stores) - {"sqlite", "mongo"})
    if unknown:
        parser.error(f"unknown store(s) {', '.join(unknown)}: use sqlite and/or mongo")
    args.stores = stores
    return args


async def main(argv: list[str]) -> int:
    args = parse_args(argv)
    print(f"appends/s, median of {args.runs} runs, single partition writer")
    print(f"{'store':<8}" + "".join(f"{f'batch {size}':>14}" for size in BATCH_SIZES))
    for store in args.stores:
        medians = await run_store(store, args)
        if medians is None:
            continue
        row = "".join(f"{medians[size]:>14,.0f}" for size in BATCH_SIZES)
        print(f"{store:<8}{row}", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
