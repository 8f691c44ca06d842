"""Invariant 8 at the wire: every bad frame gets ``ERR {code}`` echoing its
``corr``, the connection stays usable, and nothing reaches the store."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.fixtures.broker import BrokerProcess
from tests.fixtures.wire import WireClient
from tests.integration.broker.conftest import Connect, Names
from tests.integration.broker.helpers import stats

MAX_FRAME_BYTES = 1024 * 1024
MAX_PAYLOAD_BYTES = 512 * 1024

BAD_NAMES = [
    '{"$gt":""}',
    "$where",
    "a$b",
    "orders\x00admin",
    "a..b",
    ".hidden",
    "-dash",
    "",
    "x" * 201,
    "spaces are bad",
    "slash/too",
]


def _frames(topic: str) -> list[tuple[str, dict[str, Any]]]:
    """(expected code, frame) for every frame-level refusal."""
    publish = {"type": "PUBLISH", "topic": topic, "payload": {"ok": 1}}
    return [
        ("missing_type", {"topic": topic, "payload": 1}),
        ("unknown_type", {"type": "DROP_DATABASE"}),
        (
            "unknown_type",
            {"type": "PUBLISHED", "topic": topic, "partition": 0, "offset": 0, "id": "x"},
        ),
        ("missing_field", {"type": "PUBLISH", "payload": 1}),
        ("missing_field", {"type": "SUBSCRIBE", "topic": topic}),
        ("missing_field", {"type": "AUTH"}),
        (
            "missing_field",
            {"type": "SUBSCRIBE", "topic": topic, "group": "g", "from": {"kind": "offset"}},
        ),
        ("missing_field", {"type": "FLOW", "credits": 1, "topic": topic}),
        ("bad_field", {**publish, "topic": 7}),
        ("bad_field", {**publish, "topic": {"$gt": ""}}),
        ("bad_field", {**publish, "headers": {"a": 1}}),
        ("bad_field", {**publish, "key": ["k"]}),
        ("bad_field", {**publish, "id": ""}),
        ("bad_field", {**publish, "id": "i" * 257}),
        ("bad_field", {"type": "ACK", "topic": topic, "group": "g", "partition": -1, "offset": 0}),
        (
            "bad_field",
            {
                "type": "MODACK",
                "topic": topic,
                "group": "g",
                "partition": 0,
                "offset": 0,
                "extend_ms": -5,
            },
        ),
        ("bad_field", {"type": "SUBSCRIBE", "topic": topic, "group": "g", "max_inflight": 0}),
        ("bad_field", {"type": "SUBSCRIBE", "topic": topic, "group": "g", "ack_timeout_ms": 1}),
        (
            "bad_field",
            {"type": "SUBSCRIBE", "topic": topic, "group": "g", "from": {"kind": "sideways"}},
        ),
        ("bad_field", {"type": "FLOW", "credits": -1}),
        ("bad_field", {"type": "PUBLISH_BATCH", "items": []}),
        ("bad_name", {**publish, "topic": "$cmd"}),
        ("bad_name", {"type": "SUBSCRIBE", "topic": topic, "group": "a..b"}),
        (
            "bad_name",
            {
                "type": "PUBLISH_BATCH",
                "items": [{"topic": "ok", "payload": 1}, {"topic": "n\x00", "payload": 1}],
            },
        ),
        ("payload_too_large", {**publish, "payload": "x" * (MAX_PAYLOAD_BYTES + 10)}),
        ("headers_too_large", {**publish, "headers": {f"h{i}": "v" for i in range(65)}}),
        ("headers_too_large", {**publish, "headers": {"h": "v" * (8 * 1024 + 1)}}),
        ("headers_too_large", {**publish, "headers": {"h" * 257: "v"}}),
    ]


def _store_rows(broker: BrokerProcess) -> tuple[int, int]:
    counts = stats(broker)
    return counts["events"], counts["topic_configs"]


async def _still_usable(client: WireClient) -> None:
    await client.ping()


@pytest.mark.parametrize("index", range(len(_frames("t"))))
async def test_bad_frame_gets_err_with_its_corr(
    shared_broker: BrokerProcess, connect: Connect, names: Names, index: int
) -> None:
    topic = names.topic()
    code, frame = _frames(topic)[index]
    client = await connect(shared_broker.url)
    before = _store_rows(shared_broker)
    reply = await client.request({**frame, "corr": f"bad-{index}"})
    assert reply["type"] == "ERR", reply
    assert reply["code"] == code, reply
    assert reply["corr"] == f"bad-{index}"
    assert reply["msg"]
    await _still_usable(client)
    assert _store_rows(shared_broker) == before


@pytest.mark.parametrize("name", BAD_NAMES, ids=repr)
async def test_bad_names_are_refused_and_nothing_is_stored(
    shared_broker: BrokerProcess, connect: Connect, names: Names, name: str
) -> None:
    client = await connect(shared_broker.url)
    before = _store_rows(shared_broker)
    frames: list[dict[str, Any]] = [
        {"type": "PUBLISH", "topic": name, "payload": {"x": 1}},
        {"type": "PUBLISH_BATCH", "items": [{"topic": name, "payload": 1}]},
        {"type": "SUBSCRIBE", "topic": name, "group": "g"},
        {"type": "SUBSCRIBE", "topic": names.topic(), "group": name},
        {"type": "ACK", "topic": name, "group": "g", "partition": 0, "offset": 0},
        {"type": "NACK", "topic": "t", "group": name, "partition": 0, "offset": 0},
        {"type": "UNSUBSCRIBE", "topic": name, "group": "g"},
    ]
    for n, frame in enumerate(frames):
        reply = await client.request({**frame, "corr": n})
        assert (reply["type"], reply["code"], reply["corr"]) == ("ERR", "bad_name", n), reply
    await _still_usable(client)
    assert _store_rows(shared_broker) == before


async def test_unparseable_text_gets_err_without_corr(
    shared_broker: BrokerProcess, connect: Connect
) -> None:
    client = await connect(shared_broker.url)
    cases = [
        ("bad_json", '{"type": "PUBLISH", "corr": "lost"'),
        ("bad_json", "not json at all"),
        ("bad_frame", "[1, 2, 3]"),
        ("bad_frame", '"a string"'),
        ("bad_frame", "42"),
    ]
    for code, text in cases:
        await client.send(text)
        await client.ping()
        errors = [f for f in client.unrouted if f["type"] == "ERR"]
        assert errors, f"no ERR for {text!r}"
        assert errors[-1]["code"] == code
        assert "corr" not in errors[-1]
        client.unrouted.clear()
    # Invalid UTF-8 in a binary frame is refused the same way.
    await client.send(b'{"type":"PING","corr":"\xff"}')
    await client.ping()
    assert [f["code"] for f in client.unrouted] == ["bad_json"]


async def test_frame_over_the_size_limit(shared_broker: BrokerProcess, connect: Connect) -> None:
    client = await connect(shared_broker.url)
    before = _store_rows(shared_broker)
    oversized = json.dumps(
        {"corr": "big", "type": "PUBLISH", "topic": "big.one", "payload": "y" * MAX_FRAME_BYTES}
    )
    reply = await client.request(oversized, corr="big")
    assert (reply["type"], reply["code"]) == ("ERR", "frame_too_large")
    await _still_usable(client)
    assert _store_rows(shared_broker) == before


async def test_refusals_of_well_formed_frames(
    shared_broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    topic, group = names.topic(), names.group()
    client = await connect(shared_broker.url)
    ref = {"topic": topic, "group": group, "partition": 0, "offset": 0}

    reply = await client.request({"type": "ACK", **ref})
    assert reply["code"] == "not_subscribed"
    reply = await client.request({"type": "UNSUBSCRIBE", "topic": topic, "group": group})
    assert reply["code"] == "not_subscribed"

    await client.subscribe(topic, group)
    for kind in ("ACK", "NACK"):
        reply = await client.request({"type": kind, **ref, "offset": 99})
        assert reply["code"] == "unknown_delivery", reply
    reply = await client.request({"type": "MODACK", **ref, "offset": 99, "extend_ms": 10})
    assert reply["code"] == "unknown_delivery", reply
    reply = await client.request({"type": "ACK", **ref, "partition": 999})
    assert reply["code"] == "unknown_delivery", reply

    reply = await client.request({"type": "SUBSCRIBE", "topic": topic, "group": group})
    assert (reply["type"], reply["code"]) == ("ERR", "bad_frame"), "subscribing twice"
    other = await connect(shared_broker.url)
    reply = await other.request(
        {"type": "SUBSCRIBE", "topic": topic, "group": group, "filter": {"key": "k"}}
    )
    assert reply["code"] == "bad_field", "one group, one filter"

    ok = await client.request({"type": "UNSUBSCRIBE", "topic": topic, "group": group})
    assert ok["type"] == "OK"
    await _still_usable(client)
    await _still_usable(other)


async def test_a_frame_beyond_the_transport_limit_closes_only_that_connection(
    shared_broker: BrokerProcess, connect: Connect
) -> None:
    victim = await connect(shared_broker.url)
    bystander = await connect(shared_broker.url)
    # The broker refuses the frame as soon as its header announces the size
    # and closes with 1009 (message too big). When that happens while the
    # client is still writing the 3 MiB, TCP resets the socket under the
    # writer and the client may see the loss (1006) before the close frame.
    write_failed = False
    try:
        await victim.send("x" * (3 * MAX_FRAME_BYTES))
    except ConnectionError:
        write_failed = True
    code = await victim.wait_closed()
    assert code == 1009 or (write_failed and code == 1006), code
    await _still_usable(bystander)
