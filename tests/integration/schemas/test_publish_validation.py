"""Validation on publish with a real broker, gateway and outbox drainer:
on every path an invalid payload gets ``schema_invalid`` (JSON pointer and
reason) and is not stored, a batch refuses only its bad items, and stored
events carry the schema id in ``promethean-schema-id``."""

from __future__ import annotations

import asyncio
import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from promethean import outbox
from promethean.client import ClientConfig, WebSocketBusClient
from promethean.errors import PrometheanError
from promethean.schemas import SCHEMA_ID_HEADER
from tests.fixtures.broker import BrokerFactory, BrokerProcess
from tests.fixtures.wire import WireClient
from tests.integration.gateway.support import GatewayProcess, authed_client, make_token
from tests.integration.outbox.drainer_process import DrainerFactory, read_db, wait_until
from tests.integration.schemas.conftest import Registry

ORDER: dict[str, Any] = {
    "type": "object",
    "properties": {"id": {"type": "string"}, "qty": {"type": "integer", "minimum": 1}},
    "required": ["id", "qty"],
}
GOOD = {"id": "o-1", "qty": 2}
BAD_QTY = {"id": "o-2", "qty": 0}


class Stack:
    def __init__(self, broker: BrokerProcess, gateway: GatewayProcess, db: Path) -> None:
        self.broker = broker
        self.gateway = gateway
        self.db = db
        self.registry = Registry(broker, token=None)

    def validated_topic(self, schema: dict[str, Any] | None = ORDER) -> str:
        topic = f"orders.{uuid.uuid4().hex[:10]}"
        status, body = self.broker.post(
            "/topics", {"name": topic, "partitions": 2, "validate": True}
        )
        assert status == 201, body
        assert body["validate"] is True
        if schema is not None:
            status, body = self.registry.register(f"{topic}-value", schema)
            assert status == 200, body
        return topic

    def stored(self, topic: str) -> list[tuple[bytes, dict[str, str]]]:
        conn = sqlite3.connect(self.db, timeout=10)
        try:
            rows = conn.execute(
                'SELECT payload, headers FROM events WHERE topic = ? ORDER BY "offset"', (topic,)
            ).fetchall()
        finally:
            conn.close()
        return [(bytes(p), json.loads(h) if h else {}) for p, h in rows]

    def stored_payloads(self, topic: str) -> list[Any]:
        return [json.loads(p) for p, _ in self.stored(topic)]


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    log_dir = tmp_path_factory.mktemp("validation")
    db = log_dir / "bus.db"
    brokers = BrokerFactory(log_dir)
    gateway: GatewayProcess | None = None
    try:
        broker = brokers(store_url=f"sqlite:///{db}")
        gateway = GatewayProcess(broker, {}, log_dir)
        gateway.start()
        yield Stack(broker, gateway, db)
    finally:
        if gateway is not None:
            gateway.kill()
        brokers.kill_all()


async def test_sdk_publish_is_checked_and_the_schema_id_is_stored(stack: Stack) -> None:
    topic = stack.validated_topic()
    schema_id = stack.registry.call("GET", f"/subjects/{topic}-value/versions/latest")[1]["id"]
    client = WebSocketBusClient(stack.broker.url, ClientConfig())
    await client.connect()
    try:
        await client.publish(topic, GOOD)
        with pytest.raises(PrometheanError) as refused:
            await client.publish(topic, BAD_QTY)
        with pytest.raises(PrometheanError) as missing:
            await client.publish(topic, {"id": "o-3"})
    finally:
        await client.close()

    assert refused.value.code == "schema_invalid"
    assert "/qty" in refused.value.msg
    assert "minimum" in refused.value.msg or "less than" in refused.value.msg
    assert missing.value.code == "schema_invalid"
    assert "qty" in missing.value.msg
    rows = stack.stored(topic)
    assert [json.loads(p) for p, _ in rows] == [GOOD]
    assert rows[0][1][SCHEMA_ID_HEADER] == str(schema_id)


async def test_a_batch_refuses_only_its_bad_items(stack: Stack) -> None:
    topic = stack.validated_topic()
    items = [
        {"topic": topic, "payload": {"id": "b-0", "qty": 1}},
        {"topic": topic, "payload": {"id": "b-1", "qty": "many"}},
        {"topic": topic, "payload": {"id": "b-2", "qty": 3}},
        {"topic": topic, "payload": ["not", "an", "object"]},
    ]
    async with await WireClient.connect(stack.broker.url) as wire:
        reply = await wire.request({"type": "PUBLISH_BATCH", "items": items})

    assert reply["type"] == "PUBLISHED_BATCH"
    results = reply["results"]
    assert [("offset" in r, r.get("code")) for r in results] == [
        (True, None),
        (False, "schema_invalid"),
        (True, None),
        (False, "schema_invalid"),
    ]
    assert "/qty" in results[1]["msg"]
    assert sorted(p["id"] for p in stack.stored_payloads(topic)) == ["b-0", "b-2"]


async def test_sdk_concurrent_publishes_fail_one_by_one(stack: Stack) -> None:
    topic = stack.validated_topic()
    client = WebSocketBusClient(stack.broker.url, ClientConfig())
    await client.connect()
    try:
        outcomes = await asyncio.gather(
            *(client.publish(topic, {"id": f"c-{n}", "qty": n % 3}) for n in range(30)),
            return_exceptions=True,
        )
    finally:
        await client.close()

    refused = [n for n, o in enumerate(outcomes) if isinstance(o, PrometheanError)]
    assert refused == [n for n in range(30) if n % 3 == 0]
    assert all(getattr(outcomes[n], "code", None) == "schema_invalid" for n in refused)
    assert len(stack.stored(topic)) == 20


async def test_gateway_websocket_publish_gets_err_schema_invalid(stack: Stack) -> None:
    topic = stack.validated_topic()
    client = await authed_client(stack.gateway)
    try:
        ok = await client.request({"op": "PUBLISH", "topic": topic, "payload": GOOD, "corr": "p1"})
        bad = await client.request(
            {"op": "PUBLISH", "topic": topic, "payload": BAD_QTY, "corr": "p2"}
        )
    finally:
        await client.close()

    assert ok["op"] == "OK"
    assert bad["op"] == "ERR"
    assert bad["code"] == "schema_invalid"
    assert bad["corr"] == "p2"
    assert "/qty" in bad["msg"]
    assert stack.stored_payloads(topic) == [GOOD]


def test_gateway_http_publish_is_refused_with_schema_invalid(stack: Stack) -> None:
    topic = stack.validated_topic()
    headers = {"Authorization": f"Bearer {make_token(scopes=['publish:**'])}"}

    ok = stack.gateway.post(f"/publish/{topic}", json.dumps(GOOD).encode(), headers)
    bad = stack.gateway.post(f"/publish/{topic}", json.dumps(BAD_QTY).encode(), headers)

    assert ok[0] == 200, ok
    assert bad[0] == 400
    assert bad[1]["error"]["code"] == "schema_invalid"
    assert stack.stored_payloads(topic) == [GOOD]


async def test_outbox_rows_are_checked_when_drained(
    stack: Stack, drainer_process: DrainerFactory
) -> None:
    topic = stack.validated_topic()
    url = f"sqlite:///{stack.db}"
    conn = outbox.connect_sqlite(url)
    try:
        with conn:
            conn.execute("BEGIN")
            bad = outbox.add_sync(conn, topic, BAD_QTY)
            good = outbox.add_sync(conn, topic, GOOD)
    finally:
        conn.close()
    drainer_process(
        "validating",
        store_url=url,
        bus_url=stack.broker.url,
        env={"PROMETHEAN_OUTBOX_MAX_ATTEMPTS": "2"},
    )

    def row(row_id: str) -> tuple[Any, ...]:
        return read_db(stack.db, "SELECT status, last_error FROM outbox WHERE id = ?", (row_id,))[0]

    wait_until(lambda: row(good)[0] == "published", 30, "the valid row to be published")
    wait_until(lambda: row(bad)[0] == "failed", 30, "the invalid row to fail")
    assert "schema_invalid" in str(row(bad)[1])
    assert stack.stored_payloads(topic) == [GOOD]


async def test_a_validated_topic_without_a_schema_refuses_everything(stack: Stack) -> None:
    topic = stack.validated_topic(schema=None)
    async with await WireClient.connect(stack.broker.url) as wire:
        reply = await wire.request({"type": "PUBLISH", "topic": topic, "payload": GOOD})

    assert reply["type"] == "ERR"
    assert reply["code"] == "schema_invalid"
    assert f"{topic}-value" in reply["msg"]
    assert stack.stored(topic) == []


async def test_without_validate_nothing_is_checked(stack: Stack) -> None:
    topic = f"orders.{uuid.uuid4().hex[:10]}"
    stack.registry.register(f"{topic}-value", ORDER)
    async with await WireClient.connect(stack.broker.url) as wire:
        reply = await wire.request({"type": "PUBLISH", "topic": topic, "payload": BAD_QTY})

    assert reply["type"] == "PUBLISHED"
    rows = stack.stored(topic)
    assert [json.loads(p) for p, _ in rows] == [BAD_QTY]
    assert SCHEMA_ID_HEADER not in rows[0][1]


async def test_a_new_version_applies_to_the_next_publish(stack: Stack) -> None:
    topic = stack.validated_topic()
    wider = {**ORDER, "properties": {**ORDER["properties"], "qty": {"type": "integer"}}}
    async with await WireClient.connect(stack.broker.url) as wire:
        before = await wire.request({"type": "PUBLISH", "topic": topic, "payload": BAD_QTY})
        status, registered = stack.registry.register(f"{topic}-value", wider)
        after = await wire.request({"type": "PUBLISH", "topic": topic, "payload": BAD_QTY})

    assert before["code"] == "schema_invalid"
    assert status == 200
    assert after["type"] == "PUBLISHED"
    assert stack.stored(topic)[0][1][SCHEMA_ID_HEADER] == str(registered["id"])


def test_topics_list_shows_the_validate_flag(stack: Stack) -> None:
    topic = stack.validated_topic()

    status, body = stack.broker.get("/topics")

    assert status == 200
    assert {t["name"]: t["validate"] for t in body["topics"]}[topic] is True
