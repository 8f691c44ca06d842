"""A SQLite store on a full disk (issue 17, item 1).

The broker runs on a 16 MiB tmpfs the test mounts (as root; skipped with
the reason otherwise), which a filler file then fills to the last byte.
While it is full: publishes are refused (``store_unavailable``), nothing
refused is stored, readiness turns 503 within 2 s and stays there, the
process does not exit and logs no traceback. Once the filler is deleted the
broker is ready again by itself and publishes succeed. A broker started on
the full disk waits, not ready, and becomes ready once space is back.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest

from promethean.runtime.health import STORE_LOG_EVERY_S
from tests.crash.support import opened
from tests.faults.disk import fill, mounted_tmpfs
from tests.fixtures.broker import BrokerFactory, BrokerProcess
from tests.fixtures.wire import WireClient

TOPIC: Final = "disk.full"
FLIP_WITHIN_S: Final = 2.0
RECOVER_WITHIN_S: Final = 5.0
FULL_FOR_S: Final = 4.0
PAYLOAD: Final = "x" * 4096


@pytest.fixture
def disk(tmp_path: Path) -> Iterator[Path]:
    with mounted_tmpfs(tmp_path / "disk", "16m") as mounted:
        yield mounted


async def ready_status(session: aiohttp.ClientSession, broker: BrokerProcess) -> int:
    async with session.get(f"{broker.http_url}/healthz/ready") as response:
        return response.status


async def wait_status(
    session: aiohttp.ClientSession, broker: BrokerProcess, status: int, within: float
) -> float:
    started = time.monotonic()
    while time.monotonic() - started < within:
        if await ready_status(session, broker) == status:
            return time.monotonic() - started
        await asyncio.sleep(0.05)
    pytest.fail(f"/healthz/ready did not answer {status} within {within}s:\n{broker.log_tail()}")


class Publisher:
    """Publishes 4 KiB events one after another while `publishing` is set;
    records what was acked and what was refused. The test pauses it while the
    filler takes the disk: on a loaded machine the fill is slow, and events
    published meanwhile would leave the filler (the space given back later)
    too small for the test's own final read of the store."""

    def __init__(self, client: WireClient) -> None:
        self.client = client
        self.acked: list[str] = []
        self.refused: list[str] = []
        self.n = 0
        self._acked = asyncio.Event()
        self.publishing = asyncio.Event()
        self.publishing.set()

    async def wait_acked(self, count: int, within: float = 30) -> None:
        async with asyncio.timeout(within):
            while len(self.acked) < count:
                self._acked.clear()
                await self._acked.wait()

    async def run(self) -> None:
        while True:
            await self.publishing.wait()
            self.n += 1
            event_id = f"e{self.n}"
            reply = await self.client.request(
                {"type": "PUBLISH", "topic": TOPIC, "payload": PAYLOAD, "id": event_id},
                within=30,
            )
            if reply["type"] == "PUBLISHED":
                self.acked.append(event_id)
                self._acked.set()
            else:
                assert reply["code"] == "store_unavailable", reply
                self.refused.append(event_id)
                await asyncio.sleep(0.01)


def store_health_lines(broker: BrokerProcess) -> list[dict[str, Any]]:
    """The broker's ``store unavailable`` / ``store available again`` log records."""
    text = broker.log_path.read_text(errors="replace")
    assert "Traceback" not in text, text[-4000:]
    records = [json.loads(line) for line in text.splitlines() if line.startswith("{")]
    return [r for r in records if r.get("logger") == "promethean.store.health"]


def assert_quiet_log(broker: BrokerProcess, refused: int) -> None:
    """While the store fails, one line per `STORE_LOG_EVERY_S` of one outage
    (plus its first), not one per failure. While the filler takes the last
    bytes a write may still fit now and then, which ends an outage (logged
    once) and the next failure starts another: how many outages there are
    depends on timing, so each is judged on its own."""
    records = store_health_lines(broker)
    unavailable = [r for r in records if r["msg"].startswith("store unavailable")]
    assert unavailable, records
    assert len(unavailable) < refused, "one line per refused publish"
    previous_down_ms: int | None = None
    for record in records:
        if record["msg"].startswith("store available again"):
            previous_down_ms = None
            continue
        down_ms = int(record["down_ms"])
        if previous_down_ms is None:
            assert down_ms == 0, f"an outage's first line comes at its start: {record}"
        else:
            gap_ms = down_ms - previous_down_ms
            assert gap_ms >= STORE_LOG_EVERY_S * 1000 - 1, f"logged again after {gap_ms} ms"
        previous_down_ms = down_ms


async def test_full_disk_turns_readiness_off_and_recovers(
    broker_process: BrokerFactory, disk: Path
) -> None:
    broker = broker_process(store_url=f"sqlite:///{disk}/bus.db")
    async with aiohttp.ClientSession() as session:
        client = await WireClient.connect(broker.url)
        publisher = Publisher(client)
        task = asyncio.create_task(publisher.run())
        try:
            await publisher.wait_acked(20)
            publisher.publishing.clear()
            filler = await asyncio.to_thread(fill, disk)
            publisher.publishing.set()
            flip_s = await wait_status(session, broker, 503, FLIP_WITHIN_S)
            print(f"not ready {flip_s:.2f}s after the disk filled")
            deadline = time.monotonic() + FULL_FOR_S
            while time.monotonic() < deadline:
                assert await ready_status(session, broker) == 503
                assert broker.running
                await asyncio.sleep(0.1)
            assert publisher.refused, "no publish was refused on the full disk"
            acked_while_full = len(publisher.acked)
            filler.unlink()
            back_s = await wait_status(session, broker, 200, RECOVER_WITHIN_S)
            print(f"ready again {back_s:.2f}s after space came back")
            await publisher.wait_acked(acked_while_full + 20)
            publisher.publishing.clear()
        finally:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
            await client.close()
    assert_quiet_log(broker, len(publisher.refused))
    async with opened(broker.store_url) as store:
        stored = {e.id for p in range(4) for e in await store.read(TOPIC, p, 0, 100_000)}
    assert set(publisher.acked) <= stored
    assert not stored & set(publisher.refused)


async def test_broker_started_on_a_full_disk_waits_then_recovers(
    broker_process: BrokerFactory, disk: Path
) -> None:
    broker = broker_process(store_url=f"sqlite:///{disk}/bus.db")
    async with await WireClient.connect(broker.url) as client:
        for i in range(5):
            await client.publish(TOPIC, {"i": i})
    broker.kill()
    filler = await asyncio.to_thread(fill, disk)
    broker.start(standby=True)
    async with aiohttp.ClientSession() as session:
        deadline = time.monotonic() + FULL_FOR_S
        while time.monotonic() < deadline:
            assert await ready_status(session, broker) == 503
            assert broker.running, broker.log_tail()
            await asyncio.sleep(0.1)
        filler.unlink()
        back_s = await wait_status(session, broker, 200, RECOVER_WITHIN_S + 3)
        print(f"started on a full disk: ready {back_s:.2f}s after space came back")
    async with await WireClient.connect(broker.url) as client:
        await client.publish(TOPIC, {"after": True})
    assert "Traceback" not in broker.log_path.read_text(errors="replace")
