"""The admin HTTP API: the shape of every answer, and JSON 4xx refusals
that never let a bad name reach the store."""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest

from promethean.client import Message, WebSocketBusClient
from tests.fixtures.broker import BrokerProcess, http_request
from tests.integration.broker.conftest import Connect, Names
from tests.integration.broker.helpers import create_topic, eventually, publish_many, stats


def _error(response: tuple[int, Any], status: int, code: str) -> None:
    got_status, body = response
    assert got_status == status, body
    assert body["error"]["code"] == code, body
    assert body["error"]["msg"]


def test_create_update_and_list_topics(shared_broker: BrokerProcess, names: Names) -> None:
    topic = names.topic()
    status, created = shared_broker.post(
        "/topics", {"name": topic, "partitions": 3, "max_attempts": 7, "retention_ms": 60_000}
    )
    assert status == 201, created
    assert created["name"] == topic
    assert (created["partitions"], created["max_attempts"], created["retention_ms"]) == (
        3,
        7,
        60_000,
    )
    assert created["cleanup"] == "delete"
    assert created["created_ms"] > 0

    status, updated = shared_broker.post("/topics", {"name": topic, "partitions": 5})
    assert status == 200, updated
    assert (updated["partitions"], updated["max_attempts"]) == (5, 7), "unnamed fields are kept"

    _error(shared_broker.post("/topics", {"name": topic, "partitions": 2}), 409, "conflict")

    status, listing = shared_broker.get("/topics")
    assert status == 200
    mine = [t for t in listing["topics"] if t["name"] == topic]
    assert mine
    assert mine[0]["partitions"] == 5


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"{not json", "bad_json"),
        ({"partitions": 2}, "bad_field"),
        ({"name": "ok", "partitions": "two"}, "bad_field"),
        ({"name": "ok", "surprise": 1}, "bad_field"),
        ({"name": {"$gt": ""}}, "bad_field"),
        ({"name": "ok", "partitions": 0}, "bad_field"),
        ({"name": "ok", "partitions": 5000}, "bad_field"),
        ({"name": "ok", "max_attempts": 0}, "bad_field"),
        ({"name": "ok", "cleanup": "shred"}, "bad_field"),
        ({"name": "$gt"}, "bad_name"),
        ({"name": "a..b"}, "bad_name"),
        ({"name": "nul\u0000byte"}, "bad_name"),
    ],
)
def test_create_topic_refusals(shared_broker: BrokerProcess, body: Any, code: str) -> None:
    before = stats(shared_broker)["topic_configs"]
    _error(shared_broker.post("/topics", body), 400, code)
    assert stats(shared_broker)["topic_configs"] == before


async def test_offsets_lag_cursors_and_group(
    shared_broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    topic, group = names.topic(), names.group()
    create_topic(shared_broker, topic, partitions=2)
    client = await connect(shared_broker.url)
    replies = await publish_many(client, topic, [f"a{i}" for i in range(10)], key_of=str)
    per_partition = {p: sum(1 for r in replies if r["partition"] == p) for p in (0, 1)}

    status, offsets = shared_broker.get(f"/topics/{topic}/offsets")
    assert status == 200
    assert offsets == {
        "topic": topic,
        "partitions": [
            {"partition": p, "earliest": 0, "latest": per_partition[p] - 1} for p in (0, 1)
        ],
    }

    await client.subscribe(topic, group, from_={"kind": "earliest"}, ack_timeout_ms=60_000)
    messages = await client.take(10)
    for message in messages:
        await client.ack(message)

    def lag_body() -> dict[str, Any]:
        status, body = shared_broker.get(f"/lag?topic={topic}&group={group}")
        assert status == 200, body
        return dict(body)

    await eventually(lag_body, lambda b: b["lag"] == 0)
    lag = lag_body()
    assert lag["topic"] == topic
    assert lag["group"] == group
    assert [
        (r["partition"], r["committed"], r["latest"], r["lag"], r["inflight"])
        for r in lag["partitions"]
    ] == [(p, per_partition[p] - 1, per_partition[p] - 1, 0, 0) for p in (0, 1)]

    assert shared_broker.get(f"/cursors?topic={topic}")[0] == 200
    await eventually(
        lambda: shared_broker.get(f"/cursors?topic={topic}")[1],
        lambda body: (
            body
            == {
                "topic": topic,
                "groups": [
                    {"group": group, "partitions": {str(p): per_partition[p] - 1 for p in (0, 1)}}
                ],
            }
        ),
    )

    status, detail = shared_broker.get(f"/groups/{group}")
    assert status == 200
    assert detail["group"] == group
    assert detail["subscribers"] == 1
    assert detail["generation"] == 0
    assert isinstance(detail["members"], list)
    assert isinstance(detail["assignment"], dict)
    assert [row["topic"] for row in detail["topics"]] == [topic]


async def test_latest_by_key(shared_broker: BrokerProcess, connect: Connect, names: Names) -> None:
    topic = names.topic()
    client = await connect(shared_broker.url)
    await client.publish(topic, {"v": 1}, key="user-1")
    last = await client.publish(topic, {"v": 2}, key="user-1", headers={"h": "1"})
    await client.publish(topic, {"v": 3}, key="user-2")

    status, event = shared_broker.get(f"/latest-by-key?topic={topic}&key=user-1")
    assert status == 200, event
    assert event == {
        "topic": topic,
        "partition": last["partition"],
        "offset": last["offset"],
        "id": last["id"],
        "ts": event["ts"],
        "key": "user-1",
        "headers": {"h": "1"},
        "payload": {"v": 2},
    }
    _error(shared_broker.get(f"/latest-by-key?topic={topic}&key=nobody"), 404, "not_found")
    _error(shared_broker.get(f"/latest-by-key?topic={topic}"), 400, "missing_field")


def test_stats_shape(shared_broker: BrokerProcess) -> None:
    status, body = shared_broker.get("/stats")
    assert status == 200
    assert set(body) >= {"store", "groups", "inflight", "publish_queue"}
    assert {"events", "group_offsets", "topic_configs", "leases"} <= set(body["store"])
    assert all(isinstance(v, int) for v in body["store"].values())


@pytest.mark.parametrize(
    ("path", "status", "code"),
    [
        ("/topics/%24gt/offsets", 400, "bad_name"),
        ("/topics/a..b/offsets", 400, "bad_name"),
        # Braces never match the route: refused before any handler runs.
        ("/topics/%7B%22%24gt%22%3A%22%22%7D/offsets", 404, "not_found"),
        ("/no/such/route", 404, "not_found"),
        ("/topics/no.such.topic.anywhere/offsets", 404, "not_found"),
        ("/groups/%24where", 400, "bad_name"),
        ("/lag?topic=x", 400, "missing_field"),
        ("/lag?group=g", 400, "missing_field"),
        ("/lag?topic=%24gt&group=g", 400, "bad_name"),
        ("/lag?topic=ok&group=bad%00name", 400, "bad_name"),
        ("/lag?topic=no.such.topic.anywhere&group=g", 404, "not_found"),
        ("/cursors", 400, "missing_field"),
        ("/cursors?topic=%24ne", 400, "bad_name"),
        ("/latest-by-key?topic=%24gt&key=k", 400, "bad_name"),
        ("/latest-by-key?key=k", 400, "missing_field"),
    ],
)
def test_read_refusals_are_json(
    shared_broker: BrokerProcess, path: str, status: int, code: str
) -> None:
    before = stats(shared_broker)
    _error(shared_broker.get(path), status, code)
    assert stats(shared_broker) == before


def test_refusals_by_the_http_layer_are_json_too(shared_broker: BrokerProcess) -> None:
    port = shared_broker.port
    _error(http_request(port, "DELETE", "/topics"), 405, "method_not_allowed")
    too_big = b'{"name": "' + b"x" * (1024 * 1024 + 1) + b'"}'
    _error(shared_broker.post("/topics", too_big), 413, "payload_too_large")


def test_health_and_metrics(shared_broker: BrokerProcess) -> None:
    status, live = shared_broker.get("/healthz/live")
    assert status == 200
    assert live["live"] is True
    status, ready = shared_broker.get("/healthz/ready")
    assert (status, ready) == (200, {"ready": True, "reasons": {}})
    status, text = shared_broker.get("/metrics")
    assert status == 200
    for name in ("promethean_published_total", "promethean_publish_latency_seconds_bucket"):
        assert name in text, name


async def test_a_live_subscriber_reads_partitions_added_by_the_admin_api(
    shared_broker: BrokerProcess,
) -> None:
    topic = f"grow.{uuid.uuid4().hex[:8]}"
    assert shared_broker.post("/topics", {"name": topic, "partitions": 1})[0] == 201
    received: list[tuple[int, int]] = []
    async with WebSocketBusClient(shared_broker.url) as client:

        async def handle(message: Message) -> None:
            received.append((message.partition, message.offset))

        await client.subscribe(topic, "live", handle)
        status, grown = shared_broker.post("/topics", {"name": topic, "partitions": 5})
        assert (status, grown["partitions"]) == (200, 5)
        published = await asyncio.gather(
            *(client.publish(topic, {"n": n}, key=f"key-{n}") for n in range(50))
        )
        assert len({p.partition for p in published}) > 1
        expected = sorted((p.partition, p.offset) for p in published)
        await eventually(lambda: sorted(received), lambda seen: seen == expected, within=10)
