"""One active broker per store: a standby waits (not ready), takes over
within the lease TTL when the leader dies, and the dead leader's fencing
token is refused by the store."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess

import pytest

from promethean.errors import FencedError
from promethean.store.records import Fence, NewEvent
from tests.crash.support import opened
from tests.fixtures.broker import BrokerFactory
from tests.fixtures.wire import WireClient

LEASE_TTL_MS = 1_500
TAKEOVER_MARGIN_S = 10.0
"""Start-up of the standby's engine after the lease expires; generous, since a
loaded 2-core machine can take seconds (bench/rebalance.py measures the real figure)."""
LEASE = "broker"


async def test_standby_takes_over_after_sigkill(broker_process: BrokerFactory) -> None:
    leader = broker_process({"PROMETHEAN_LEASE_TTL_MS": str(LEASE_TTL_MS)})
    standby = broker_process(
        {"PROMETHEAN_LEASE_TTL_MS": str(LEASE_TTL_MS)}, store_url=leader.store_url, standby=True
    )

    status, body = standby.get("/healthz/ready")
    assert status == 503
    assert body["ready"] is False
    assert "standby" in body["reasons"]["lease"]
    status, body = standby.get("/stats")
    assert (status, body["error"]["code"]) == (503, "not_leader")
    status, body = standby.get("/ws")
    assert (status, body["error"]["code"]) == (503, "not_leader")

    async with await WireClient.connect(leader.url) as client:
        before = [await client.publish("handover", {"i": i}, key="k") for i in range(5)]
    async with opened(leader.store_url) as store:
        old_lease = await store.get_lease(LEASE)
    assert old_lease is not None

    leader.kill()
    waited = standby.wait_for("/healthz/ready", timeout=LEASE_TTL_MS / 1000 + TAKEOVER_MARGIN_S)
    assert waited < LEASE_TTL_MS / 1000 + TAKEOVER_MARGIN_S

    async with await WireClient.connect(standby.url) as client:
        after = await client.publish("handover", {"i": 5}, key="k")
        await client.subscribe("handover", "readers", from_={"kind": "earliest"})
        seen = [(await client.next_message())["envelope"]["payload"]["i"] for _ in range(6)]
    assert after["partition"] == before[-1]["partition"]
    assert after["offset"] == before[-1]["offset"] + 1, "the new leader continues the log densely"
    assert seen == [0, 1, 2, 3, 4, 5]

    async with opened(leader.store_url) as store:
        new_lease = await store.get_lease(LEASE)
        assert new_lease is not None
        assert new_lease.token > old_lease.token
        assert new_lease.holder != old_lease.holder
        latest = await store.latest_offset("handover", after["partition"])
        with pytest.raises(FencedError):
            await store.append(
                "handover",
                after["partition"],
                [NewEvent(id="zombie-write", ts=1, payload=b"{}")],
                fence=Fence(LEASE, old_lease.token),
            )
        assert await store.latest_offset("handover", after["partition"]) == latest
        assert await store.find_ids("handover", ["zombie-write"]) == {}


async def test_a_paused_leader_is_fenced_and_steps_down(broker_process: BrokerFactory) -> None:
    """SIGSTOP stands in for a long GC pause or a partition: the standby
    takes over, and the old leader, once resumed, finds its lease gone and
    exits (code 70) instead of writing on."""
    env = {"PROMETHEAN_LEASE_TTL_MS": str(LEASE_TTL_MS)}
    leader = broker_process(env)
    standby = broker_process(env, store_url=leader.store_url, standby=True)

    zombie_client = await WireClient.connect(leader.url)
    os.kill(leader.pid, signal.SIGSTOP)
    try:
        standby.wait_for("/healthz/ready", timeout=LEASE_TTL_MS / 1000 + TAKEOVER_MARGIN_S)
        # Sent while the old leader is frozen: it reads this only on waking.
        reply = zombie_client.expect("zombie")
        await zombie_client.send(
            {
                "type": "PUBLISH",
                "topic": "after.pause",
                "payload": 1,
                "id": "zombie",
                "corr": "zombie",
            }
        )
    finally:
        os.kill(leader.pid, signal.SIGCONT)

    try:
        answer = await asyncio.wait_for(reply, 10)
    except ConnectionError:
        answer = None  # it stepped down before answering
    finally:
        await zombie_client.close()
    assert answer is None or answer["type"] == "ERR", f"a fenced leader acknowledged: {answer}"

    process = leader.process
    assert process is not None
    try:
        code = await asyncio.to_thread(process.wait, LEASE_TTL_MS / 1000 + TAKEOVER_MARGIN_S)
    except subprocess.TimeoutExpired:
        pytest.fail("the fenced leader kept running")
    assert code == 70
    async with opened(leader.store_url) as store:
        assert await store.find_ids("after.pause", ["zombie"]) == {}

    async with await WireClient.connect(standby.url) as client:
        published = await client.publish("after.pause", {"ok": True})
    assert published["offset"] == 0
