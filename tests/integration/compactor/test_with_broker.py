"""The compactor beside a real broker: latest-by-key after compaction,
replay from earliest, and a snapshot a new projector starts from."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from promethean.client import ClientConfig, Message, SubscribeOptions, WebSocketBusClient
from promethean.store import open_store
from promethean.store.port import Store
from promethean_compactor import snapshot_format as fmt
from tests.fixtures.broker import BrokerFactory, BrokerProcess
from tests.integration.compactor.conftest import CompactorFactory

TOKEN = "compactor-test-token"
AUTH = {"Authorization": f"Bearer {TOKEN}"}
EARLIEST = SubscribeOptions(start="earliest")
TOPIC = "process.state"
KEYS = 300
EVENTS = 3_000

State = dict[str, Any]


async def eventually(check: Callable[[], Awaitable[bool]], timeout_s: float, what: str) -> None:
    deadline = time.monotonic() + timeout_s
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout_s}s")
        await asyncio.sleep(0.1)


def apply(state: State, message: Message) -> None:
    assert message.key is not None
    if message.payload is None:
        state.pop(message.key, None)
    else:
        state[message.key] = message.payload


async def read_group(
    bus: WebSocketBusClient, topic: str, group: str, until: Callable[[list[Message]], bool]
) -> list[Message]:
    """Messages of a fresh group from earliest until ``until`` holds, each
    offset once (a redelivery, e.g. after an ack deadline on a loaded
    machine, is at-least-once delivery, not a second event)."""
    received: list[Message] = []
    seen: set[tuple[int, int]] = set()
    done = asyncio.Event()

    async def handle(message: Message) -> None:
        if (message.partition, message.offset) in seen:
            return
        seen.add((message.partition, message.offset))
        received.append(message)
        if until(received):
            done.set()

    await bus.subscribe(topic, group, handle, options=EARLIEST)
    async with asyncio.timeout(30):
        await done.wait()
    await bus.unsubscribe(topic, group)
    return received


async def reached_end(store: Store, topic: str) -> Callable[[list[Message]], bool]:
    """A stop condition: the newest event of every partition was received
    (compaction never removes it). Counting is no use: the broker may still
    serve compacted events from its tail cache, which is legal, since readers
    of a compacted topic see at least the latest event of each key."""
    ends = {p: await store.latest_offset(topic, p) for p in range(2)}
    ends = {p: end for p, end in ends.items() if end >= 0}

    def done(got: list[Message]) -> bool:
        last = got[-1]
        if ends.get(last.partition) == last.offset:
            ends.pop(last.partition)
        return not ends

    return done


async def committed_all(store: Store, group: str) -> bool:
    commits = await store.get_commits(group, TOPIC)
    for partition in range(2):
        if commits.get(partition) is None:
            return False
        if commits[partition].offset < await store.latest_offset(TOPIC, partition):
            return False
    return True


async def test_compacted_topic_answers_like_the_live_log(
    broker_process: BrokerFactory, compactor_process: CompactorFactory, tmp_path: Path
) -> None:
    broker: BrokerProcess = broker_process({"PROMETHEAN_BROKER_TOKEN": TOKEN})
    status, _ = broker.post(
        "/topics",
        {
            "name": TOPIC,
            "partitions": 2,
            "cleanup": "compact",
            "tombstone_retention_ms": 0,
            "snapshot_every": 1_000,
        },
        headers=AUTH,
    )
    assert status == 201
    store = open_store(broker.store_url)
    await store.open()
    rng = random.Random(11)
    async with WebSocketBusClient(broker.url, ClientConfig(token=TOKEN)) as bus:
        live: State = {}
        live_seen = 0

        async def live_handler(message: Message) -> None:
            nonlocal live_seen
            apply(live, message)
            live_seen += 1

        await bus.subscribe(TOPIC, "live", live_handler, options=EARLIEST)
        model: State = {}
        for i in range(EVENTS):
            key = f"proc-{rng.randrange(KEYS)}"
            value = None if rng.random() < 0.05 else {"i": i, "cpu": rng.randrange(100)}
            await bus.publish(TOPIC, value, key=key)
            if value is None:
                model.pop(key, None)
            else:
                model[key] = value

        async def live_done() -> bool:
            return live_seen >= EVENTS and await committed_all(store, "live")

        await eventually(live_done, 30, "the live group consumed and committed everything")
        assert live == model

        compactor_process(
            broker.store_url,
            {"BUS_URL": broker.url, "PROMETHEAN_BROKER_TOKEN": TOKEN},
            name="with-broker",
        )

        async def compacted() -> bool:
            return await store.count_events(TOPIC) == len(model)

        await eventually(compacted, 30, "compaction down to one event per live key")

    # A restart empties the broker's tail cache, so the replay reads the compacted store.
    broker.restart(kill=False)
    async with WebSocketBusClient(broker.url, ClientConfig(token=TOKEN)) as bus:
        replay = await read_group(bus, TOPIC, "replay", await reached_end(store, TOPIC))
        assert len(replay) == len(model), "the replay read the compacted log"
        replayed: State = {}
        for message in replay:
            apply(replayed, message)
        assert replayed == live

        for key in rng.sample(sorted(set(model) | {f"proc-{k}" for k in range(KEYS)}), 60):
            status, body = broker.get(f"/latest-by-key?topic={TOPIC}&key={key}", headers=AUTH)
            if key in model:
                assert status == 200, key
                assert body["payload"] == model[key], key
            else:
                assert status == 404, key

        snapshot_topic = fmt.snapshot_topic(TOPIC)

        async def manifest_published() -> bool:
            status, _ = broker.get(
                f"/latest-by-key?topic={snapshot_topic}&key={fmt.MANIFEST_KEY}", headers=AUTH
            )
            return status == 200

        await eventually(manifest_published, 30, "a snapshot manifest")
        _, body = broker.get(
            f"/latest-by-key?topic={snapshot_topic}&key={fmt.MANIFEST_KEY}", headers=AUTH
        )
        manifest = fmt.decode(json.dumps(body["payload"]).encode())
        assert isinstance(manifest, fmt.Manifest)
        assert manifest.keys == len(model)

        # More events after the snapshot: a projector needs snapshot + log after it.
        for i in range(40):
            key = f"proc-{rng.randrange(KEYS)}"
            await bus.publish(TOPIC, {"after": i}, key=key)
            model[key] = {"after": i}

        reader = fmt.SnapshotReader(manifest)

        def snapshot_read(got: list[Message]) -> bool:
            reader.feed(got[-1].raw_payload)
            return reader.complete

        await read_group(bus, snapshot_topic, "projector-snapshot", snapshot_read)
        projected: State = {k: json.loads(v[2]) for k, v in reader.state.items()}
        tail = await read_group(bus, TOPIC, "projector-log", await reached_end(store, TOPIC))
        for message in sorted(tail, key=lambda m: (m.partition, m.offset)):
            if not reader.covers(message.partition, message.offset):
                apply(projected, message)
        assert projected == model
    await store.close()
