"""``promethean dlq replay``: dead-lettered events go back to their topic
once, without their DLQ headers."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from promethean.bus.dlq import DLQ_HEADERS
from promethean.cli.dlq import replay
from promethean.client import Message, SubscribeOptions, WebSocketBusClient
from tests.fixtures.broker import BrokerFactory

EARLIEST = SubscribeOptions(start="earliest")


async def dead_letter_one(bus: WebSocketBusClient, topic: str, group: str) -> str:
    published = await bus.publish(topic, {"job": 1}, key="k", headers={"origin": "test"})
    failed = asyncio.Event()

    async def always_fail(message: Message) -> None:
        failed.set()
        raise RuntimeError("poison")

    sub = await bus.subscribe(topic, group, always_fail, options=EARLIEST)
    await asyncio.wait_for(failed.wait(), 10)
    async with asyncio.timeout(10):
        while True:
            status_ok = await _dlq_has_records(bus, topic)
            if status_ok:
                break
            await asyncio.sleep(0.05)
    await sub.stop()
    return published.id


async def _dlq_has_records(bus: WebSocketBusClient, topic: str) -> bool:
    probe = await bus.subscribe(f"{topic}.DLQ", "probe", options=EARLIEST)
    try:
        message = await asyncio.wait_for(anext(aiter(probe)), 0.2)
    except TimeoutError:
        return False
    finally:
        await probe.stop()
    return message is not None


async def test_replay_puts_dlq_records_back_once(broker_process: BrokerFactory) -> None:
    broker = broker_process({"PROMETHEAN_MAX_ATTEMPTS": "1"})
    async with WebSocketBusClient(broker.url) as bus:
        original_id = await dead_letter_one(bus, "jobs", "workers")
        first = await replay(
            broker.url, "jobs", group="workers", idle_ms=500, limit=None, token=None
        )
        again = await replay(
            broker.url, "jobs", group="workers", idle_ms=500, limit=None, token=None
        )
        assert (first, again) == (1, 0)
        sub = await bus.subscribe("jobs", "auditors", options=EARLIEST)
        seen: list[Message] = []
        async with asyncio.timeout(10):
            async for message in sub:
                seen.append(message)
                await message.ack()
                if len(seen) == 2:
                    break
    replayed = seen[1]
    assert replayed.id == f"replay/workers/{seen[0].partition}/{seen[0].offset}/{original_id}"
    assert replayed.payload == {"job": 1}
    assert replayed.key == "k"
    assert replayed.headers is not None
    assert replayed.headers["origin"] == "test"
    assert not DLQ_HEADERS & set(replayed.headers)
    assert replayed.headers["x-replayed-from"].startswith("jobs.DLQ/")


async def test_replay_for_another_group_finds_nothing(broker_process: BrokerFactory) -> None:
    broker = broker_process({"PROMETHEAN_MAX_ATTEMPTS": "1"})
    async with WebSocketBusClient(broker.url) as bus:
        await dead_letter_one(bus, "jobs", "workers")
    count = await replay(broker.url, "jobs", group="others", idle_ms=500, limit=None, token=None)
    assert count == 0


def test_cli_refuses_a_bad_topic_name() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "promethean.cli", "dlq", "replay", "bad..name"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "invalid name" in done.stderr
