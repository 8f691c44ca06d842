"""The MongoDB-wire store killed under a running broker (issue 17, item 2).

FerretDB is killed for a few seconds and started again on the same port and
data. Readiness turns 503 within 2 s of the kill, nothing is acknowledged
while it is down, the broker neither exits nor logs a traceback, and it is
ready again by itself once the store answers; what was acknowledged before
is still there and publishing works again.
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

import aiohttp
import pytest

from tests.faults.test_disk_full import assert_quiet_log, ready_status, wait_status
from tests.fixtures.broker import BrokerFactory
from tests.fixtures.ferretdb import FerretDBServer, with_database
from tests.fixtures.wire import WireClient, WireError

pytestmark = pytest.mark.mongo

TOPIC: Final = "store.outage"
FLIP_WITHIN_S: Final = 2.0
DOWN_FOR_S: Final = 5.0
RECOVER_WITHIN_S: Final = 10.0


async def outage(
    broker_process: BrokerFactory, ferretdb_server: FerretDBServer, down_for_s: float
) -> None:
    broker = broker_process(
        {"PROMETHEAN_LEASE_TTL_MS": "3000"},
        store_url=with_database(ferretdb_server.url, "outage"),
    )
    async with (
        aiohttp.ClientSession() as session,
        await WireClient.connect(broker.url) as client,
        await WireClient.connect(broker.url) as holder,
    ):
        before = [await client.publish(TOPIC, {"i": i}, id=f"b{i}") for i in range(10)]
        # Deliveries held unacked: their 300 ms deadlines expire during the
        # outage, so redelivery meets the dead store too.
        await holder.subscribe(TOPIC, "held", from_={"kind": "earliest"})
        await holder.take(10)
        ferretdb_server.kill()
        flip_s = await wait_status(session, broker, 503, FLIP_WITHIN_S)
        print(f"not ready {flip_s:.2f}s after the store was killed")
        with pytest.raises(WireError):
            await client.publish(TOPIC, {"during": True}, id="during", within=1.0)
        deadline = time.monotonic() + down_for_s - flip_s
        while time.monotonic() < deadline:
            assert await ready_status(session, broker) == 503
            assert broker.running, broker.log_tail()
            await asyncio.sleep(0.1)
        await asyncio.to_thread(ferretdb_server.start)
        back_s = await wait_status(session, broker, 200, RECOVER_WITHIN_S)
        print(f"ready again {back_s:.2f}s after the store came back")
    async with await WireClient.connect(broker.url) as client:
        again = await client.publish(TOPIC, {"i": 0}, id="b0")
        after = await client.publish(TOPIC, {"after": True}, id="after")
    assert again["duplicate"] is True
    assert (again["partition"], again["offset"]) == (before[0]["partition"], before[0]["offset"])
    assert after["type"] == "PUBLISHED"
    assert broker.running
    assert_quiet_log(broker)


async def test_store_outage_turns_readiness_off_and_recovers(
    broker_process: BrokerFactory, ferretdb_server: FerretDBServer
) -> None:
    await outage(broker_process, ferretdb_server, DOWN_FOR_S)


@pytest.mark.slow
async def test_a_40_s_store_outage_neither_stalls_nor_ends_the_broker(
    broker_process: BrokerFactory, ferretdb_server: FerretDBServer
) -> None:
    await outage(broker_process, ferretdb_server, 40.0)


async def test_a_broker_started_without_its_store_waits_then_leads(
    broker_process: BrokerFactory, ferretdb_server: FerretDBServer
) -> None:
    ferretdb_server.kill()
    broker = broker_process(
        {"PROMETHEAN_LEASE_TTL_MS": "3000"},
        store_url=with_database(ferretdb_server.url, "late"),
        standby=True,
    )
    async with aiohttp.ClientSession() as session:
        deadline = time.monotonic() + DOWN_FOR_S
        while time.monotonic() < deadline:
            assert await ready_status(session, broker) == 503
            assert broker.running, broker.log_tail()
            await asyncio.sleep(0.1)
        await asyncio.to_thread(ferretdb_server.start)
        back_s = await wait_status(session, broker, 200, RECOVER_WITHIN_S + 30)
        print(f"started without its store: ready {back_s:.2f}s after the store came up")
    async with await WireClient.connect(broker.url) as client:
        assert (await client.publish(TOPIC, {"late": True}))["type"] == "PUBLISHED"
    assert_quiet_log(broker)
