"""Random frames at a live gateway: every frame gets an answer or is a
fire-and-forget ack, the connection never breaks, nothing is stored."""

from __future__ import annotations

import asyncio
import json

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.gateway.support import GatewayClient, broker_event_count
from tests.security.support import assert_still_serving, hs_token

OPS = ["AUTH", "PUBLISH", "SUBSCRIBE", "ACK", "NACK", "MODACK", "UNSUBSCRIBE", "EVENT", "OK", "X"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=12,
)
names = st.sampled_from(["sec.fuzz", "a..b", "$x", "", "x" * 300]) | st.text(max_size=12)
frames = st.fixed_dictionaries(
    {"op": st.sampled_from(OPS), "corr": st.integers(0, 10**6)},
    optional={
        "topic": names,
        "group": names,
        "payload": json_values,
        "id": st.text(max_size=10),
        "token": st.text(max_size=10),
        "opts": json_values,
        "extend_ms": st.integers(-5, 10**8),
        "reason": json_values,
    },
).map(json.dumps) | st.binary(max_size=64).map(lambda b: b.decode("latin-1"))


async def exercise(url: str, batch: list[str]) -> None:
    client = await GatewayClient.open(url)
    try:
        assert (await client.auth(hs_token(scopes=["subscribe:sec.**"])))["op"] == "OK"
        for text in batch:
            if '"AUTH"' in text:
                continue  # a bad AUTH closes the socket by design
            await client.send(text)
        # The connection still answers, in order, after whatever came before.
        reply = await client.request(
            {"op": "UNSUBSCRIBE", "topic": "sec.nothing", "group": "g", "corr": "end"}
        )
        while reply.get("corr") != "end":
            reply = await client.reply()
        assert reply["code"] == "not_subscribed"
    finally:
        await client.close()


def test_fuzzed_frames_never_store_or_break_the_gateway(gateway, broker):
    before = broker_event_count(broker)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(frames, min_size=1, max_size=15))
    def run(batch: list[str]) -> None:
        asyncio.run(exercise(gateway.url, batch))

    run()
    asyncio.run(assert_still_serving(gateway))
    assert broker_event_count(broker) == before
