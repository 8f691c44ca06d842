"""With ``PROMETHEAN_BROKER_TOKEN`` set, nothing but AUTH passes before a
valid token, on the WebSocket and on the admin API (bearer)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fixtures.broker import BrokerFactory, BrokerProcess
from tests.fixtures.wire import WireClient, WireError
from tests.integration.broker.conftest import Connect, Names
from tests.integration.broker.helpers import stats

TOKEN = "broker-secret-7f3a"
BEARER = {"Authorization": f"Bearer {TOKEN}"}


@pytest.fixture
def guarded(broker_process: BrokerFactory) -> Iterator[BrokerProcess]:
    yield broker_process({"PROMETHEAN_BROKER_TOKEN": TOKEN})


def _events(broker: BrokerProcess) -> int:
    status, body = broker.get("/stats", headers=BEARER)
    assert status == 200, body
    return int(body["store"]["events"])


async def test_frames_before_auth_are_refused(
    guarded: BrokerProcess, connect: Connect, names: Names
) -> None:
    client = await connect(guarded.url)
    before = _events(guarded)
    topic = names.topic()
    for frame in (
        {"type": "PUBLISH", "topic": topic, "payload": 1},
        {"type": "SUBSCRIBE", "topic": topic, "group": "g"},
        {"type": "PING"},
    ):
        reply = await client.request(frame)
        assert (reply["type"], reply["code"]) == ("ERR", "unauthorized"), reply
        assert reply["corr"] == frame["corr"]
    assert _events(guarded) == before

    ok = await client.request({"type": "AUTH", "token": TOKEN})
    assert ok["type"] == "OK"
    published = await client.publish(topic, {"after": "auth"})
    assert published["offset"] == 0
    assert _events(guarded) == before + 1


async def test_wrong_tokens_close_the_connection(guarded: BrokerProcess, connect: Connect) -> None:
    client = await connect(guarded.url)
    for attempt in range(3):
        reply = await client.request({"type": "AUTH", "token": f"guess-{attempt}"})
        assert (reply["type"], reply["code"]) == ("ERR", "unauthorized")
    assert await client.wait_closed() == 1008  # policy violation


async def test_client_with_the_token_works(
    guarded: BrokerProcess, connect: Connect, names: Names
) -> None:
    client = await connect(guarded.url, token=TOKEN)
    topic = names.topic()
    await client.subscribe(topic, names.group())
    await client.publish(topic, {"n": 1})
    assert (await client.next_message())["envelope"]["payload"] == {"n": 1}
    with pytest.raises(WireError, match="AUTH refused"):
        await WireClient.connect(guarded.url, token="nope")


@pytest.mark.parametrize(
    "path",
    ["/stats", "/topics", "/topics/x/offsets", "/groups/g", "/lag?topic=x&group=g", "/cursors?topic=x"],
)
def test_admin_api_requires_the_bearer_token(guarded: BrokerProcess, path: str) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": TOKEN}):
        status, body = guarded.get(path, headers=headers)
        assert status == 401, (headers, body)
        assert body["error"]["code"] == "unauthorized"
    status, body = guarded.post("/topics", {"name": "sneaky"})
    assert status == 401
    status, body = guarded.get(path, headers=BEARER)
    assert status in (200, 404), body


def test_health_and_metrics_need_no_token(guarded: BrokerProcess) -> None:
    for path in ("/healthz/live", "/healthz/ready", "/metrics"):
        status, _ = guarded.get(path)
        assert status == 200, path


def test_admin_without_a_token_configured_is_open(shared_broker: BrokerProcess) -> None:
    assert stats(shared_broker)["events"] >= 0
