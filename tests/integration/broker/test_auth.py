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


@pytest.fixture(scope="module")
def guarded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    factory = BrokerFactory(tmp_path_factory.mktemp("guarded"))
    try:
        yield factory({"PROMETHEAN_BROKER_TOKEN": TOKEN})
    finally:
        factory.kill_all()


def _events(broker: BrokerProcess) -> int:
    status, body = broker.get("/stats", headers=BEARER)
    assert status == 200, body
    return int(body["store"]["events"])


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "PUBLISH", "topic": "t.auth", "payload": 1},
        {"type": "SUBSCRIBE", "topic": "t.auth", "group": "g"},
        {"type": "PING"},
        {"type": "AUTH", "token": "guess"},
        {"type": "AUTH", "token": TOKEN.upper()},
    ],
    ids=["publish", "subscribe", "ping", "wrong-token", "case-changed-token"],
)
async def test_anything_but_a_valid_auth_is_refused_and_closes(
    guarded: BrokerProcess, connect: Connect, frame: dict[str, object]
) -> None:
    client = await connect(guarded.url)
    before = _events(guarded)
    reply = await client.request(dict(frame))
    assert (reply["type"], reply["code"]) == ("ERR", "unauthorized"), reply
    assert await client.wait_closed() == 1008  # policy violation
    assert _events(guarded) == before


async def test_auth_first_then_everything_works(
    guarded: BrokerProcess, connect: Connect, names: Names
) -> None:
    client = await connect(guarded.url)
    before = _events(guarded)
    ok = await client.request({"type": "AUTH", "token": TOKEN})
    assert ok["type"] == "OK"
    published = await client.publish(names.topic(), {"after": "auth"})
    assert published["offset"] == 0
    assert _events(guarded) == before + 1


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
    [
        "/stats",
        "/topics",
        "/topics/x/offsets",
        "/groups/g",
        "/lag?topic=x&group=g",
        "/cursors?topic=x",
    ],
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
