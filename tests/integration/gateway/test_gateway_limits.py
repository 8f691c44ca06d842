"""Admission control: publish rate, connection limit, slow readers."""

from __future__ import annotations

import asyncio

import aiohttp

from tests.integration.gateway.support import GatewayClient, authed_client, make_token

GATEWAY_ENV = {
    "PROMETHEAN_GATEWAY_PUBLISH_RATE": "2",
    "PROMETHEAN_GATEWAY_PUBLISH_BURST": "3",
    "PROMETHEAN_GATEWAY_MAX_CONNECTIONS": "4",
    "PROMETHEAN_GATEWAY_MAX_INFLIGHT": "1000",
    "PROMETHEAN_GATEWAY_SEND_BUFFER_BYTES": "1048576",
}


async def test_publish_rate_is_limited_per_connection(gateway):
    client = await authed_client(gateway)
    other = await authed_client(gateway)
    try:
        codes = []
        for n in range(6):
            reply = await client.request(
                {"op": "PUBLISH", "topic": "lim.rate", "payload": n, "corr": n}
            )
            codes.append(reply.get("code", "ok"))
            if reply.get("code") == "rate_limited":
                assert 0 < reply["retry_after_ms"] <= 1000
        assert codes[:3] == ["ok", "ok", "ok"]
        assert "rate_limited" in codes[3:]
        # Another connection has its own bucket.
        ok = await other.request({"op": "PUBLISH", "topic": "lim.rate", "payload": 1, "corr": 1})
        assert ok["op"] == "OK"
    finally:
        await client.close()
        await other.close()


async def test_connection_limit_refuses_with_too_many_connections(gateway):
    clients = [await authed_client(gateway) for _ in range(4)]
    try:
        extra = await GatewayClient.open(gateway.url)
        reply = await extra.recv()
        assert reply["code"] == "too_many_connections"
        assert reply["retry_after_ms"] > 0
        assert await extra.closed_with() == 1013
        await extra.session.close()
    finally:
        for client in clients:
            await client.close()
    await asyncio.sleep(0.3)
    again = await authed_client(gateway)
    await again.close()


async def test_slow_reader_is_disconnected_with_a_close_code(gateway):
    slow = await authed_client(gateway)
    publisher_session = aiohttp.ClientSession()
    try:
        reply = await slow.request(
            {
                "op": "SUBSCRIBE",
                "topic": "lim.slow",
                "group": "g",
                "corr": 1,
                "opts": {"max_inflight": 1000},
            }
        )
        assert reply["op"] == "OK"
        big = "x" * 100_000
        token = make_token(scopes=["publish:**"])
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        # The slow client never reads; HTTP publishes are not rate limited per connection.
        for _ in range(250):
            async with publisher_session.post(
                f"http://127.0.0.1:{gateway.port}/publish/lim.slow",
                data=f'"{big}"',
                headers=headers,
            ) as response:
                assert response.status == 200
        deadline = asyncio.get_running_loop().time() + 20
        while gateway.metric("promethean_gateway_slow_consumer_disconnects_total") < 1:
            assert asyncio.get_running_loop().time() < deadline, "slow client never dropped"
            await asyncio.sleep(0.2)
        code = await slow.closed_with(wait_s=20)
        # 4008, or no close frame at all when the gateway had to abort the socket.
        assert code in (4008, 1006, None)
        assert slow.ws.closed
    finally:
        await publisher_session.close()
        await slow.session.close()
