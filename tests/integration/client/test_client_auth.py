"""``PROMETHEAN_BROKER_TOKEN``: the SDK sends ``AUTH`` first and reports a
refusal as a typed error."""

from __future__ import annotations

from typing import Any

import pytest

from promethean.client import ClientConfig, WebSocketBusClient
from promethean.errors import ConnectionLostError, PrometheanError

TOKEN = "s3cret-broker-token"


@pytest.fixture
def secured(start_broker: Any) -> Any:
    return start_broker(PROMETHEAN_BROKER_TOKEN=TOKEN)


async def test_the_right_token_is_accepted(secured: Any, names: Any) -> None:
    async with WebSocketBusClient(secured.url, ClientConfig(token=TOKEN)) as bus:
        published = await bus.publish(names.topic(), {"n": 1})
        assert published.offset == 0
        assert bus.connected


async def test_a_wrong_token_fails_connect(secured: Any) -> None:
    bus = WebSocketBusClient(secured.url, ClientConfig(token="not-the-token"))
    with pytest.raises(PrometheanError) as refused:
        await bus.connect()
    assert refused.value.code == "unauthorized"
    assert bus.closed
    with pytest.raises(PrometheanError):
        await bus.publish("some.topic", {})
    await bus.close()


async def test_no_token_gets_each_frame_refused(secured: Any, names: Any) -> None:
    async with WebSocketBusClient(secured.url) as bus:
        with pytest.raises(PrometheanError) as refused:
            await bus.publish(names.topic(), {"n": 1})
        assert refused.value.code == "unauthorized"
        assert not isinstance(refused.value, ConnectionLostError)


async def test_nothing_was_stored_by_the_refused_client(secured: Any, names: Any) -> None:
    topic = names.topic()
    async with WebSocketBusClient(secured.url) as anonymous:
        with pytest.raises(PrometheanError):
            await anonymous.publish(topic, {"n": 1})
    async with WebSocketBusClient(secured.url, ClientConfig(token=TOKEN)) as bus:
        assert (await bus.publish(topic, {"n": 2})).offset == 0
