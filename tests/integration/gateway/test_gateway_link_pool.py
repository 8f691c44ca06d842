"""Subscribing clients share a bounded pool of broker links (issue 20):
many clients never open more than ``PROMETHEAN_GATEWAY_BROKER_LINKS``
broker connections, each client gets no more than its max_inflight, and a
client that leaves hands what it held to another client at once, long
before the ack deadline."""

from __future__ import annotations

import asyncio
from typing import Any, Final

import psutil
import pytest

from tests.fixtures.broker import BrokerProcess
from tests.integration.gateway.support import GatewayClient, GatewayProcess, authed_client

POOL: Final = 2
GATEWAY_ENV: Final = {"PROMETHEAN_GATEWAY_BROKER_LINKS": str(POOL)}
LONG_ACK_MS: Final = 60_000
HANDED_OVER_WITHIN_S: Final = 10.0
"""Far below the 60 s ack deadline: only the give-back brings them this fast."""


async def subscribe(client: GatewayClient, topic: str, group: str, **opts: Any) -> None:
    reply = await client.request(
        {
            "op": "SUBSCRIBE",
            "topic": topic,
            "group": group,
            "corr": "s",
            "opts": {"ackTimeoutMs": LONG_ACK_MS, **opts},
        }
    )
    assert reply == {"op": "OK", "corr": "s"}, reply


async def publish(client: GatewayClient, topic: str, count: int) -> set[str]:
    ids = set()
    for n in range(count):
        reply = await client.request({"op": "PUBLISH", "topic": topic, "payload": n, "corr": n})
        assert reply["op"] == "OK", reply
        ids.add(reply["id"])
    return ids


def connections_to(gateway: GatewayProcess, broker: BrokerProcess) -> int:
    assert gateway.process is not None
    return sum(
        1
        for conn in psutil.Process(gateway.process.pid).net_connections("tcp")
        if conn.status == psutil.CONN_ESTABLISHED and conn.raddr and conn.raddr.port == broker.port
    )


async def test_many_clients_use_at_most_the_pool_of_broker_links(
    gateway: GatewayProcess, broker: BrokerProcess
) -> None:
    clients = [await authed_client(gateway) for _ in range(24)]
    publisher = await authed_client(gateway)
    try:
        # 8 topic/group pairs of 3 clients each, some asking different options.
        for n, client in enumerate(clients):
            opts = {"max_inflight": 4} if n % 2 else {}
            await subscribe(client, f"pool.many.{n % 8}", f"g{n % 8}", **opts)
        assert gateway.metric("promethean_gateway_broker_links") <= POOL
        assert connections_to(gateway, broker) <= POOL + 1  # and the publishing link
        for topic in range(8):
            await publish(publisher, f"pool.many.{topic}", 3)
        received = 0
        deadline = asyncio.get_running_loop().time() + HANDED_OVER_WITHIN_S
        while received < 24:
            assert asyncio.get_running_loop().time() < deadline, f"{received} of 24 events"
            for client in clients:
                try:
                    event = await client.event(wait_s=0.05)
                except TimeoutError:
                    continue
                received += 1
                await client.send(
                    {
                        "op": "ACK",
                        "topic": event["topic"],
                        "group": event["group"],
                        "id": event["event"]["id"],
                    }
                )
    finally:
        for client in (*clients, publisher):
            await client.close()


async def test_a_client_gets_no_more_than_its_max_inflight(gateway: GatewayProcess) -> None:
    sub = await authed_client(gateway)
    try:
        await subscribe(sub, "pool.bounded", "g", max_inflight=2)
        await publish(sub, "pool.bounded", 4)
        first = [await sub.event(), await sub.event()]
        with pytest.raises(TimeoutError):
            await sub.event(wait_s=0.5)
        event_id = first[0]["event"]["id"]
        ack = {"op": "ACK", "topic": "pool.bounded", "group": "g", "id": event_id, "corr": "a"}
        assert await sub.request(ack) == {"op": "OK", "corr": "a"}
        third = await sub.event()
        assert third["event"]["id"] not in {e["event"]["id"] for e in first}
    finally:
        await sub.close()


@pytest.mark.parametrize("leaves_by", ["unsubscribe", "disconnect"])
async def test_a_leaving_client_hands_its_deliveries_to_another_at_once(
    gateway: GatewayProcess, leaves_by: str
) -> None:
    topic = f"pool.leave.{leaves_by}"
    first = await authed_client(gateway)
    second = await authed_client(gateway)
    try:
        await subscribe(first, topic, "shared", max_inflight=3)
        ids = await publish(second, topic, 3)
        held = {(await first.event())["event"]["id"] for _ in range(3)}
        assert held == ids
        await subscribe(second, topic, "shared")
        started = asyncio.get_running_loop().time()
        if leaves_by == "unsubscribe":
            request = {"op": "UNSUBSCRIBE", "topic": topic, "group": "shared", "corr": "u"}
            assert await first.request(request) == {"op": "OK", "corr": "u"}
        else:
            await first.close()
        seen = {(await second.event(HANDED_OVER_WITHIN_S))["event"]["id"] for _ in range(3)}
        assert seen == ids
        assert asyncio.get_running_loop().time() - started < HANDED_OVER_WITHIN_S
    finally:
        await first.close()
        await second.close()
