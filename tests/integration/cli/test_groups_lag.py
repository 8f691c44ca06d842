"""``promethean groups list|describe``, ``promethean lag`` and ``topics``
output against a real broker: aligned tables for people, JSON for scripts,
colour only on a terminal."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from promethean.client.admin import AdminClient
from promethean.client.types import SubscribeOptions
from tests.integration.cli.conftest import TOKEN, Cli, bus, fresh

EARLIEST = SubscribeOptions(start="earliest")


async def behind(cli: Cli, topic: str, group: str, *, published: int, consumed: int) -> None:
    """``group`` on a 2-partition ``topic`` has consumed ``consumed`` of
    ``published`` events, stays subscribed (a live member), and the console's
    group view shows it."""
    async with AdminClient(cli.broker.url, TOKEN) as admin:
        await admin.put_topic(topic, partitions=2)
        async with bus(cli.broker) as client:
            for n in range(published):
                await client.publish(topic, {"n": n}, key="same")  # one partition
            sub = await client.subscribe(topic, group, options=EARLIEST)
            async with asyncio.timeout(20):
                for _ in range(consumed):
                    message = await anext(aiter(sub))
                    await message.ack()
                while True:
                    rows = [r for r in await admin.group_rows() if r.group == group]
                    lag = await admin.lag(topic, group)
                    if rows and lag.lag == published - consumed:
                        break
                    await asyncio.sleep(0.1)
            await sub.stop()


def table_rows(out: str) -> list[list[str]]:
    return [line.split() for line in out.splitlines() if line.strip()]


async def test_groups_list_describe_and_lag_as_tables_and_json(cli: Cli) -> None:
    topic, group = fresh("lagging"), fresh("readers")
    await behind(cli, topic, group, published=5, consumed=2)

    listed = await cli.in_thread("groups", "list", "--topic", topic)
    assert listed.code == 0
    header, *rows = table_rows(listed.out)
    assert header == ["group", "topic", "lag", "inflight", "subscribers"]
    assert [row[:2] for row in rows] == [[group, topic]]
    as_json = (await cli.in_thread("groups", "list", "--topic", topic, "-o", "json")).json()
    assert [(r["group"], r["topic"]) for r in as_json] == [(group, topic)]

    described = await cli.in_thread("groups", "describe", group)
    assert described.code == 0
    assert f"group {group}" in described.out
    lines = table_rows(described.out)
    offsets_header = lines.index(["topic", "partition", "committed", "latest", "lag", "inflight"])
    partition_rows = [r for r in lines[offsets_header + 1 :] if r[0] == topic]
    assert sum(int(r[4]) for r in partition_rows) == 3
    detail: dict[str, Any] = (await cli.in_thread("groups", "describe", group, "-o", "json")).json()
    assert detail["group"] == group
    assert [t["lag"] for t in detail["topics"] if t["topic"] == topic] == [3]

    lag = await cli.in_thread("lag", "--group", group)
    assert lag.code == 0
    assert f"total lag of {group}: 3" in lag.out
    assert (await cli.in_thread("lag", "--group", group, "-o", "json")).json()["lag"] == 3
    overall = (await cli.in_thread("lag", "--topic", topic, "-o", "json")).json()
    assert [(r["group"], r["lag"]) for r in overall] == [(group, 3)]


def test_unknown_group_is_an_error(cli: Cli) -> None:
    for argv in (("groups", "describe", "no-such-group"), ("lag", "--group", "no-such-group")):
        ran = cli(*argv)
        assert ran.code == 1, argv
        assert "unknown group 'no-such-group'" in ran.err
        assert ran.err.count("\n") == 1
        assert ran.out == ""


def test_topics_list_and_delete_as_json(cli: Cli) -> None:
    topic = fresh("cfg")
    assert cli("topics", "set", topic, "--partitions", "3").code == 0
    listed = cli("topics", "list", "-o", "json").json()
    assert [t["partitions"] for t in listed if t["name"] == topic] == [3]
    deleted = cli("topics", "delete", topic, "-o", "json")
    assert deleted.json() == {"topic": topic, "deleted": True, "dlq": False}
    assert topic not in {t["name"] for t in cli("topics", "list", "-o", "json").json()}


def test_colour_only_on_a_terminal(cli: Cli, monkeypatch: pytest.MonkeyPatch) -> None:
    plain = cli("topics", "list")
    assert plain.code == 0
    assert "\x1b[" not in plain.out
    monkeypatch.setenv("FORCE_COLOR", "1")  # what rich takes for a terminal
    coloured = cli("topics", "list")
    assert "\x1b[" in coloured.out
