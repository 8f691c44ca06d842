"""System topics and DLQs get a default retention when they are created, and
``promethean topics list`` shows it (PROMETHEAN_SYSTEM_RETENTION_MS,
PROMETHEAN_DLQ_RETENTION_MS)."""

from __future__ import annotations

import asyncio

import pytest

from promethean.cli import main
from tests.fixtures.broker import BrokerFactory
from tests.integration.broker.conftest import Connect, Names
from tests.integration.broker.helpers import eventually

DAY_MS = 24 * 3_600_000


async def test_system_topics_and_dlqs_are_created_with_default_retention(
    broker_process: BrokerFactory,
    connect: Connect,
    names: Names,
    capsys: pytest.CaptureFixture[str],
) -> None:
    broker = broker_process({})
    client = await connect(broker.url)
    orders = names.topic("orders")
    assert broker.post("/topics", {"name": orders, "max_attempts": 1})[0] == 201
    await client.publish("heartbeat.received", {"name": "test"})
    await client.publish("system.test.audit", {"n": 1})
    await client.subscribe(orders, "billing", from_={"kind": "earliest"})
    await client.publish(orders, {"n": 1})
    await client.nack(await client.next_message(), "no")
    await eventually(
        lambda: broker.get("/topics")[1]["topics"],
        lambda topics: any(t["name"] == f"{orders}.DLQ" for t in topics),
    )

    assert await asyncio.to_thread(main, ["topics", "list", "--broker", broker.http_url]) == 0
    rows = {
        line.split()[0]: line.split()
        for line in capsys.readouterr().out.splitlines()[1:]
        if line.strip()
    }
    assert rows["heartbeat.received"][3] == str(DAY_MS)
    assert rows["system.test.audit"][3] == str(DAY_MS)
    assert rows[f"{orders}.DLQ"][3] == str(7 * DAY_MS)
    assert rows[orders][3] == "-", "user topics keep everything unless told otherwise"


async def test_the_defaults_follow_the_settings_and_zero_turns_them_off(
    broker_process: BrokerFactory, connect: Connect
) -> None:
    broker = broker_process(
        {"PROMETHEAN_SYSTEM_RETENTION_MS": "60000", "PROMETHEAN_DLQ_RETENTION_MS": "0"}
    )
    client = await connect(broker.url)
    await client.publish("heartbeat.received", {"name": "test"})
    await client.publish("orders.DLQ", {"n": 1})
    _, body = broker.get("/topics")
    stored = {t["name"]: t.get("retention_ms") for t in body["topics"]}
    assert stored["heartbeat.received"] == 60000
    assert stored["orders.DLQ"] is None
