"""Rewinding and deleting groups, deleting topics: the admin API and the
``promethean groups`` / ``topics delete`` commands against a real broker.
Every change is refused while the group is live, and audited."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from promethean.cli import main
from tests.fixtures.broker import BrokerFactory, BrokerProcess, http_request
from tests.fixtures.wire import WireClient
from tests.integration.broker.conftest import Connect, Names
from tests.integration.broker.helpers import drain, eventually

TOKEN = "admin-token"
AUTH = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/json"}


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Any:
    factory = BrokerFactory(tmp_path_factory.mktemp("admin"))
    try:
        yield factory({"PROMETHEAN_BROKER_TOKEN": TOKEN})
    finally:
        factory.kill_all()


def call(broker: BrokerProcess, method: str, path: str, body: Any = None) -> tuple[int, Any]:
    raw = None if body is None else json.dumps(body).encode()
    return http_request(broker.port, method, path, body=raw, headers=AUTH)


async def consumed(connect: Connect, broker: BrokerProcess, topic: str, group: str, n: int) -> None:
    """Publish ``n`` events to a 2-partition topic and let ``group`` consume them."""
    assert call(broker, "POST", "/topics", {"name": topic, "partitions": 2})[0] == 201
    client = await connect(broker.url, token=TOKEN)
    for i in range(n):
        await client.publish(topic, {"n": i}, key=f"k{i}")
    await client.subscribe(topic, group, from_={"kind": "earliest"})
    await drain(client, n)
    await eventually(
        lambda: call(broker, "GET", f"/lag?topic={topic}&group={group}")[1]["lag"],
        lambda lag: lag == 0,
    )
    await client.close()
    await eventually(lambda: _live(broker, group), lambda live: live == 0)


def _live(broker: BrokerProcess, group: str) -> int:
    return int(call(broker, "GET", f"/groups/{group}")[1]["subscribers"])


async def test_reset_to_earliest_redelivers_everything_and_is_audited(
    broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    topic, group = names.topic(), names.group()
    audit = await connect(broker.url, token=TOKEN)
    await audit.subscribe("system.bus.audit", names.group("audit"), from_={"kind": "latest"})
    await consumed(connect, broker, topic, group, 10)

    status, body = call(
        broker, "POST", f"/groups/{group}/reset-offsets", {"topic": topic, "to": "earliest"}
    )
    assert status == 200, body
    assert body == {"group": group, "topic": topic, "offsets": {"0": -1, "1": -1}}
    again = await connect(broker.url, token=TOKEN)
    await again.subscribe(topic, group)
    redelivered = await drain(again, 10)
    assert sorted(m["envelope"]["payload"]["n"] for m in redelivered) == list(range(10))

    records = [m["envelope"]["payload"] for m in await drain(audit, 1, within=10)]
    assert records[0]["action"] == "reset_offsets"
    assert (records[0]["group"], records[0]["topic"]) == (group, topic)


async def test_reset_is_refused_while_the_group_has_a_live_member(
    broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    topic, group = names.topic(), names.group()
    await consumed(connect, broker, topic, group, 2)
    member = await connect(broker.url, token=TOKEN)
    await member.subscribe(topic, group)
    status, body = call(
        broker, "POST", f"/groups/{group}/reset-offsets", {"topic": topic, "to": "earliest"}
    )
    assert status == 409
    assert body["error"]["code"] == "group_active"
    status, body = call(broker, "DELETE", f"/groups/{group}?topic={topic}")
    assert (status, body["error"]["code"]) == (409, "group_active")
    status, body = call(broker, "DELETE", f"/topics/{topic}")
    assert (status, body["error"]["code"]) == (409, "group_active")
    assert group in body["error"]["msg"]


async def test_reset_to_an_offset_a_timestamp_or_latest_per_partition(
    broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    topic, group = names.topic(), names.group()
    await consumed(connect, broker, topic, group, 20)
    status, offsets = call(broker, "GET", f"/topics/{topic}/offsets")
    latest = {p["partition"]: p["latest"] for p in offsets["partitions"]}
    path = f"/groups/{group}/reset-offsets"

    status, body = call(
        broker, "POST", path, {"topic": topic, "to": "offset", "value": 1, "partitions": [0]}
    )
    assert (status, body["offsets"]) == (200, {"0": 0})
    status, lag = call(broker, "GET", f"/lag?topic={topic}&group={group}")
    by_partition = {row["partition"]: row["committed"] for row in lag["partitions"]}
    assert by_partition == {0: 0, 1: latest[1]}, "partition 1 was left alone"

    status, body = call(broker, "POST", path, {"topic": topic, "to": "timestamp", "value": 0})
    assert (status, body["offsets"]) == (200, {"0": -1, "1": -1})
    far_future = 10**13
    status, body = call(
        broker, "POST", path, {"topic": topic, "to": "timestamp", "value": far_future}
    )
    assert body["offsets"] == {str(p): latest[p] for p in (0, 1)}
    call(broker, "POST", path, {"topic": topic, "to": "earliest"})
    status, body = call(broker, "POST", path, {"topic": topic, "to": "latest"})
    assert body["offsets"] == {str(p): latest[p] for p in (0, 1)}


def test_bad_reset_requests_get_typed_errors(broker: BrokerProcess, names: Names) -> None:
    topic, group = names.topic(), names.group()
    assert call(broker, "POST", "/topics", {"name": topic, "partitions": 2})[0] == 201
    path = f"/groups/{group}/reset-offsets"
    cases: list[tuple[Any, int, str]] = [
        ({"topic": names.topic(), "to": "earliest"}, 404, "not_found"),
        ({"topic": topic, "to": "yesterday"}, 400, "bad_field"),
        ({"topic": topic, "to": "offset"}, 400, "bad_field"),
        ({"topic": topic, "to": "earliest", "partitions": [2]}, 400, "bad_field"),
        ({"topic": topic, "to": "earliest", "extra": 1}, 400, "bad_field"),
        ({"topic": "bad name!", "to": "earliest"}, 400, "bad_name"),
    ]
    for body, status, code in cases:
        got_status, got = call(broker, "POST", path, body)
        assert (got_status, got["error"]["code"]) == (status, code), body
    status, _ = http_request(broker.port, "POST", path, body=b"{}")
    assert status == 401


async def test_delete_group_and_topic_with_its_dlq(
    broker: BrokerProcess, connect: Connect, names: Names
) -> None:
    topic, group = names.topic(), names.group()
    await consumed(connect, broker, topic, group, 4)
    status, body = call(broker, "DELETE", f"/groups/{group}?topic={topic}")
    assert (status, body) == (200, {"group": group, "topic": topic, "deleted": True})
    assert call(broker, "GET", f"/cursors?topic={topic}")[1]["groups"] == []
    status, body = call(broker, "DELETE", f"/groups/{group}?topic={topic}")
    assert (status, body["error"]["code"]) == (404, "not_found")

    client = await connect(broker.url, token=TOKEN)
    await client.publish(f"{topic}.DLQ", {"n": 1})
    status, body = call(broker, "DELETE", f"/topics/{topic}?dlq=true")
    assert (status, body) == (200, {"topic": topic, "deleted": True, "dlq_deleted": True})
    names_left = {t["name"] for t in call(broker, "GET", "/topics")[1]["topics"]}
    assert topic not in names_left
    assert f"{topic}.DLQ" not in names_left
    # Publishing again creates a fresh topic that starts at offset 0.
    published = await client.publish(topic, {"n": 1}, key="k0")
    assert published["offset"] == 0
    assert call(broker, "DELETE", f"/topics/{names.topic()}")[0] == 404
    assert call(broker, "DELETE", f"/topics/{topic}?dlq=maybe")[0] == 400


async def test_cli_resets_deletes_and_reports_refusals(
    broker: BrokerProcess,
    connect: Connect,
    names: Names,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PROMETHEAN_BROKER_TOKEN", TOKEN)
    monkeypatch.setenv("BUS_URL", broker.url)
    topic, group = names.topic(), names.group()
    await consumed(connect, broker, topic, group, 6)

    def cli(*argv: str) -> Any:
        return asyncio.to_thread(main, list(argv))

    argv = ["groups", "reset-offsets", group, "--topic", topic, "--to", "offset", "--value", "1"]
    assert await cli(*argv, "--partition", "1") == 0
    out = capsys.readouterr().out
    assert f"group {group} on {topic}" in out
    assert out.split()[-2:] == ["1", "0"]
    assert await cli("groups", "reset-offsets", group, "--topic", topic, "--to", "offset") == 1
    assert "--value" in capsys.readouterr().err

    member: WireClient = await connect(broker.url, token=TOKEN)
    await member.subscribe(topic, group)
    await drain(member, 1)
    assert await cli("groups", "delete", group, "--topic", topic) == 1
    err = capsys.readouterr().err
    assert "409" in err
    assert "group_active" in err
    assert err.count("\n") == 1
    await member.close()
    await eventually(lambda: _live(broker, group), lambda live: live == 0)
    assert await cli("groups", "delete", group, "--topic", topic) == 0
    assert await cli("topics", "delete", topic, "--dlq") == 0
    assert f"deleted topic {topic}" in capsys.readouterr().out
    assert topic not in {t["name"] for t in call(broker, "GET", "/topics")[1]["topics"]}
