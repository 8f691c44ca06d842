"""`promethean.outbox.add` on MongoDB, and the drainer's store side there.

Transactions need a replica set: against FerretDB (the local `mongo` runs)
the transactional tests skip, naming the missing capability; the GitHub
workflow's replica-set job runs them. What must hold everywhere (refusal
outside a transaction, non-atomic mode, polling fallback) runs on both.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import urlsplit

import pytest
from pymongo import AsyncMongoClient

from promethean import outbox
from promethean.clock import SystemClock
from promethean.errors import CapabilityError
from promethean.outbox.mongo import TransactionSupport
from promethean.store.mongo import MongoStore
from promethean.store.records import OutboxStatus
from promethean.testing import InMemoryBroker
from promethean_outbox_drainer.notify import ChangeStreamNotifier, choose_notifier
from promethean_outbox_drainer.passes import OutboxPass, PassConfig

pytestmark = pytest.mark.mongo

TOPIC = "orders.placed"
Client = AsyncMongoClient[dict[str, Any]]


@pytest.fixture
async def store(mongo_store_url: str) -> AsyncIterator[MongoStore]:
    mongo = MongoStore(mongo_store_url)
    await mongo.open()
    yield mongo
    await mongo.close()


@pytest.fixture
async def client(mongo_store_url: str, store: MongoStore) -> AsyncIterator[Client]:
    mongo: Client = AsyncMongoClient(mongo_store_url)
    yield mongo
    await mongo.close()


async def transactions_or_skip(client: Client) -> TransactionSupport:
    support = await outbox.probe_transactions(client)
    if not support.supported:
        pytest.skip(f"{support.server} lacks multi-document transactions: {support.reason}")
    return support


async def test_outside_a_transaction_add_refuses_and_writes_nothing(
    client: Client, store: MongoStore
) -> None:
    support = await outbox.probe_transactions(client)
    async with client.start_session() as session:
        with pytest.raises(CapabilityError) as raised:
            await outbox.add(session, TOPIC, {"n": 1}, id="refused")
    if support.supported:
        assert isinstance(raised.value, outbox.TransactionRequiredError)
        assert "start_transaction" in str(raised.value)
    else:
        assert not isinstance(raised.value, outbox.TransactionRequiredError)
        assert support.server in str(raised.value)
        assert "non_atomic=True" in str(raised.value)
    assert store.capabilities.transactions == support.supported
    assert await store.outbox_get("refused") is None


async def test_non_atomic_mode_writes_the_row_the_store_claims(
    mongo_url: str, mongo_store_url: str, store: MongoStore
) -> None:
    database = urlsplit(mongo_store_url).path.strip("/")
    bare: Client = AsyncMongoClient(mongo_url)  # names no database: `database=` does
    try:
        async with bare.start_session() as session:
            row_id = await outbox.add(
                session,
                TOPIC,
                {"$gt": 1, "a.b": [1, 2]},
                key="o-1",
                headers={"traceparent": "00-abc"},
                non_atomic=True,
                database=database,
            )
    finally:
        await bare.close()
    row = await store.outbox_get(row_id)
    assert row is not None
    assert row.payload == b'{"$gt":1,"a.b":[1,2]}'
    assert (row.key, row.headers, row.status, row.attempts) == (
        "o-1",
        {"traceparent": "00-abc"},
        OutboxStatus.PENDING,
        0,
    )
    claimed = await store.outbox_claim("d", 10, 1000, row.created_ms)
    assert [r.id for r in claimed] == [row_id]


async def test_a_committed_transaction_records_the_change_and_the_row(
    client: Client, store: MongoStore, mongo_store_url: str
) -> None:
    await transactions_or_skip(client)
    orders = client.get_default_database().get_collection("orders")
    await orders.insert_one({"_id": "warm-up"})  # collections cannot be created in a transaction
    async with client.start_session() as session, await session.start_transaction():
        await orders.insert_one({"_id": "o-1", "total": 5}, session=session)
        row_id = await outbox.add(session, TOPIC, {"order": "o-1"}, key="o-1")
    assert await orders.find_one({"_id": "o-1"}) is not None
    row = await store.outbox_get(row_id)
    assert row is not None
    assert row.status is OutboxStatus.PENDING


async def test_an_aborted_transaction_leaves_neither_the_change_nor_the_row(
    client: Client, store: MongoStore
) -> None:
    await transactions_or_skip(client)
    orders = client.get_default_database().get_collection("orders")
    await orders.insert_one({"_id": "warm-up"})
    with pytest.raises(RuntimeError, match="declined"):
        await place_order_then_fail(client, orders)
    assert await orders.find_one({"_id": "o-2"}) is None
    assert await store.outbox_get("aborted") is None
    assert (await store.outbox_stats(SystemClock().now_ms())).pending == 0


async def place_order_then_fail(client: Client, orders: Any) -> None:
    async with client.start_session() as session, await session.start_transaction():
        await orders.insert_one({"_id": "o-2"}, session=session)
        await outbox.add(session, TOPIC, {"order": "o-2"}, id="aborted")
        raise RuntimeError("payment declined")


async def test_a_duplicate_id_aborts_the_transaction(client: Client, store: MongoStore) -> None:
    await transactions_or_skip(client)
    async with client.start_session() as session:
        async with await session.start_transaction():
            await outbox.add(session, TOPIC, {"n": 1}, id="same")
        with pytest.raises(outbox.DuplicateOutboxIdError, match="aborted"):
            async with await session.start_transaction():
                await outbox.add(session, TOPIC, {"n": 2}, id="same")
    row = await store.outbox_get("same")
    assert row is not None
    assert row.payload == b'{"n":1}'


async def test_rows_drain_from_mongodb_to_the_bus(
    client: Client, store: MongoStore, bus: InMemoryBroker
) -> None:
    async with client.start_session() as session:
        ids = [await outbox.add(session, TOPIC, {"n": n}, non_atomic=True) for n in range(12)]
    config = PassConfig("mongo-drainer", 5, 5_000, 3, 10, 10)
    drainer = OutboxPass(store, bus, config, SystemClock())
    published = 0
    while (result := await drainer.run()).claimed:
        published += result.published
    assert published == 12
    assert set(await bus.store.find_ids(TOPIC, ids)) == set(ids)
    stats = await store.outbox_stats(SystemClock().now_ms())
    assert (stats.published, stats.pending, stats.claimed) == (12, 0, 0)


async def test_new_rows_are_noticed_by_change_stream_or_polling(
    client: Client, store: MongoStore
) -> None:
    notifier = choose_notifier(store)
    if not store.capabilities.change_streams:
        assert notifier.mode == "polling"
        assert "no change streams" in notifier.describe(100)
        return
    assert isinstance(notifier, ChangeStreamNotifier)
    await notifier.start()
    try:
        await asyncio.wait_for(notifier.wake.wait(), 10)  # set once the stream is open
        await asyncio.sleep(0.5)
        notifier.wake.clear()
        async with client.start_session() as session:
            await outbox.add(session, TOPIC, {"n": 1}, non_atomic=True)
        await asyncio.wait_for(notifier.wake.wait(), 10)
    finally:
        await notifier.close()
