"""The admin API the console calls, against a real broker process: sign-in
with the broker token or a JWT (admin:* / read:*), the audit of changes, the
DLQ endpoints, the live tail stream and the typed admin client's errors."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import aiohttp
import jwt
import msgspec
import pytest

from promethean.client import ClientConfig, Message, SubscribeOptions, WebSocketBusClient
from promethean.client.admin import (
    AdminBadRequestError,
    AdminClient,
    AdminForbiddenError,
    AdminNotFoundError,
    AdminUnauthorizedError,
    AdminUnavailableError,
)
from tests.fixtures.broker import BrokerFactory, BrokerProcess
from tests.fixtures.ferretdb import free_port
from tests.unit.settings.test_load_settings import run_broker_settings

TOKEN = "console-api-token"
SECRET = "console-api-secret-0123456789abcdef"
EARLIEST = SubscribeOptions(start="earliest")


def mint(scopes: list[str], *, exp_in_s: int = 600, secret: str = SECRET) -> str:
    claims = {"sub": "tester", "scopes": scopes, "exp": int(time.time()) + exp_in_s}
    return jwt.encode(claims, secret, algorithm="HS256")


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    factory = BrokerFactory(tmp_path_factory.mktemp("console-api"))
    try:
        yield factory(
            {
                "PROMETHEAN_BROKER_TOKEN": TOKEN,
                "JWT_SECRET": SECRET,
                "PROMETHEAN_MAX_ATTEMPTS": "1",
            }
        )
    finally:
        factory.kill_all()


async def status_of(broker: BrokerProcess, method: str, path: str, token: str | None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    async with (
        aiohttp.ClientSession() as session,
        session.request(method, broker.http_url + path, headers=headers, json={}) as reply,
    ):
        return reply.status


async def test_who_may_read_and_change(broker: BrokerProcess) -> None:
    reader, admin_jwt = mint(["read:*"]), mint(["admin:*"])
    assert await status_of(broker, "GET", "/topics", None) == 401
    assert await status_of(broker, "GET", "/topics", "wrong") == 401
    assert await status_of(broker, "GET", "/topics", reader) == 200
    assert await status_of(broker, "GET", "/topics", mint(["publish:*"])) == 403
    assert await status_of(broker, "GET", "/topics", mint(["read:*"], exp_in_s=-60)) == 401
    forged = mint(["admin:*"], secret="another-secret-0123456789abcdef-xyz")
    assert await status_of(broker, "GET", "/topics", forged) == 401
    assert await status_of(broker, "POST", "/dlq/nothing/replay", reader) == 403
    assert await status_of(broker, "DELETE", "/dlq/nothing", reader) == 403
    assert await status_of(broker, "DELETE", "/dlq/nothing", admin_jwt) == 404
    assert await status_of(broker, "GET", "/healthz/ready", None) == 200
    assert await status_of(broker, "GET", "/console/", None) == 200
    assert (await AdminClient(broker.url, reader).whoami()).role == "read"
    signed = await AdminClient(broker.url, admin_jwt).whoami()
    assert (signed.role, signed.subject) == ("admin", "tester")
    assert (await AdminClient(broker.url, TOKEN).whoami()).subject == "broker-token"


async def test_dlq_changes_are_audited_with_the_subject(broker: BrokerProcess) -> None:
    await dead_letter(broker, "audited", 1)
    admin = AdminClient(broker.url, mint(["admin:*"]))
    assert (await admin.replay_dlq("audited", start={})).replayed == 1
    assert await admin.purge_dlq("audited") == 1
    records: dict[str, dict[str, Any]] = {}
    async with WebSocketBusClient(broker.url, ClientConfig(token=TOKEN)) as bus:
        sub = await bus.subscribe("system.bus.audit", "audit-reader", options=EARLIEST)
        async with asyncio.timeout(10):
            async for message in sub:
                record = message.payload
                if record.get("topic") == "audited" and record["action"].startswith("dlq_"):
                    records[record["action"]] = record
                if len(records) == 2:
                    break
        await sub.stop()
    assert records["dlq_replay"]["replayed"] == 1
    assert records["dlq_purge"]["purged"] == 1
    assert {(r["subject"], r["role"]) for r in records.values()} == {("tester", "admin")}


async def dead_letter(broker: BrokerProcess, topic: str, n: int) -> list[str]:
    ids = []
    async with WebSocketBusClient(broker.url, ClientConfig(token=TOKEN)) as bus:
        for i in range(n):
            published = await bus.publish(topic, {"n": i}, key=f"k{i}", headers={"h": "v"})
            ids.append(published.id)
        failed = 0
        done = asyncio.Event()

        async def fail(message: Message) -> None:
            nonlocal failed
            failed += 1
            if failed >= n:
                done.set()
            raise RuntimeError("poison pill")

        sub = await bus.subscribe(topic, "workers", fail, options=EARLIEST)
        await asyncio.wait_for(done.wait(), 10)
        admin = AdminClient(broker.url, TOKEN)
        for _ in range(200):
            if {d.topic: d.depth for d in await admin.dlqs()}.get(topic) == n:
                break
            await asyncio.sleep(0.05)
        else:
            pytest.fail(f"{topic}'s DLQ never held {n} records")
        await sub.stop()
    return ids


async def test_dlq_records_replay_once_and_purge(broker: BrokerProcess) -> None:
    admin = AdminClient(broker.url, TOKEN)
    ids = await dead_letter(broker, "jobs", 5)
    page = await admin.dlq_records("jobs")
    assert page.depth == 5
    assert all(r.reason and "poison pill" in r.reason for r in page.records)
    assert {r.group for r in page.records} == {"workers"}
    assert {r.headers["x-dlq-original-id"] for r in page.records if r.headers} == set(ids)
    first = page.records[0]
    one = await admin.replay_dlq("jobs", events=[(first.partition, first.offset)])
    assert (one.replayed, one.skipped, one.done) == (1, 0, True)
    again = await admin.replay_dlq("jobs", events=[(first.partition, first.offset)])
    assert (again.replayed, again.skipped) == (0, 1)
    paged = await admin.replay_dlq("jobs", max_records=2)
    assert paged.scanned == 2
    assert not paged.done
    assert await admin.replay_dlq_all("jobs", page=2) == 5 - 1 - paged.replayed
    replayed = await admin.latest_by_key("jobs", first.key or "")
    assert replayed is not None
    assert replayed.id == f"replay/{first.id}"
    assert replayed.headers == {
        "h": "v",
        "x-replayed-from": f"jobs.DLQ/{first.partition}/{first.offset}",
    }
    offsets = await admin.offsets("jobs")
    assert sum(p.latest + 1 for p in offsets.partitions) == 10
    assert all(r.replayed for r in (await admin.dlq_records("jobs")).records)
    assert await admin.purge_dlq("jobs") == 5
    assert (await admin.dlq_records("jobs")).records == []


async def test_replay_refuses_a_bad_request(broker: BrokerProcess) -> None:
    admin = AdminClient(broker.url, TOKEN)
    await dead_letter(broker, "bad-replay", 1)
    with pytest.raises(AdminBadRequestError):
        await admin._call("POST", "/dlq/bad-replay/replay", dict[str, Any], body={"all": False})
    with pytest.raises(AdminBadRequestError):
        await admin.replay_dlq("bad-replay", max_records=10_000)
    with pytest.raises(AdminBadRequestError):
        await admin.dlq_records("bad-replay", limit=0)
    with pytest.raises(AdminNotFoundError):
        await admin.dlq_records("never-dead-lettered")


async def read_tail(broker: BrokerProcess, query: str, want: int) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{broker.http_url}/console/api/tail/{query}", headers=headers) as reply,
    ):
        assert reply.status == 200
        assert reply.headers["Content-Type"] == "text/event-stream"
        event = ""
        async with asyncio.timeout(10):
            async for raw in reply.content:
                line = raw.decode().rstrip("\n")
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: ") and event == "message":
                    events.append(msgspec.json.decode(line[6:]))
                    if len(events) >= want:
                        return events
    return events


async def test_tail_stream_filters_and_follows(broker: BrokerProcess) -> None:
    admin = AdminClient(broker.url, TOKEN)
    await admin.put_topic("tailed", partitions=2)
    async with WebSocketBusClient(broker.url, ClientConfig(token=TOKEN)) as bus:
        for i in range(6):
            await bus.publish("tailed", {"i": i}, key="a" if i % 2 else "b", headers={"n": str(i)})
        keyed = await read_tail(broker, "tailed?from=earliest&key=a", 3)
        assert [e["payload"]["i"] for e in keyed] == [1, 3, 5]
        header = await read_tail(broker, "tailed?from=earliest&header=n:4", 1)
        assert header[0]["payload"] == {"i": 4}
        following = asyncio.create_task(read_tail(broker, "tailed?from=latest", 1))
        await asyncio.sleep(0.3)
        await bus.publish("tailed", {"i": "new"}, key="c")
        assert (await following)[0]["payload"] == {"i": "new"}
    async with aiohttp.ClientSession() as session:
        url = f"{broker.http_url}/console/api/tail/tailed?from=somewhere"
        async with session.get(url, headers={"Authorization": f"Bearer {TOKEN}"}) as reply:
            assert reply.status == 400


async def test_admin_client_raises_typed_errors(broker: BrokerProcess) -> None:
    with pytest.raises(AdminUnauthorizedError) as unauthorized:
        await AdminClient(broker.url, "nope").topics()
    assert unauthorized.value.code == "unauthorized"
    with pytest.raises(AdminForbiddenError):
        await AdminClient(broker.url, mint(["read:*"])).put_topic("x")
    async with AdminClient(broker.url, TOKEN) as admin:
        with pytest.raises(AdminNotFoundError):
            await admin.offsets("no-such-topic")
        with pytest.raises(AdminBadRequestError):
            await admin.put_topic("bad name!")
        assert await admin.latest_by_key("no-such-topic", "k") is None
        created = await admin.put_topic("typed", partitions=3, retention_ms=60_000)
        assert (created.partitions, created.retention_ms) == (3, 60_000)
    with pytest.raises(AdminUnavailableError):
        await AdminClient(f"http://127.0.0.1:{free_port()}", TOKEN).topics()
    with pytest.raises(ValueError, match="not a broker URL"):
        AdminClient("ftp://x", TOKEN)


async def test_console_views_agree_with_the_admin_api(broker: BrokerProcess) -> None:
    admin = AdminClient(broker.url, TOKEN)
    await dead_letter(broker, "viewed", 2)
    overview = await admin.overview()
    dlqs = await admin.dlqs()
    assert overview.dlq_depth == sum(d.depth for d in dlqs)
    rows = await admin.group_rows()
    lags = [await admin.lag(r.topic, r.group) for r in rows]
    assert overview.total_lag == sum(lag.lag for lag in lags)
    record = (await admin.dlq_records("viewed")).records[0]
    message = await admin.message("viewed.DLQ", record.partition, record.offset)
    assert message.id == record.id
    assert record.original is not None
    original = await admin.message("viewed", record.original.partition, record.original.offset)
    assert record.headers is not None
    assert original.id == record.headers["x-dlq-original-id"]
    assert original.attempts == {}, "a dead-lettered event is done: its attempts are cleared"


async def test_message_view_counts_attempts_of_an_unacked_delivery(broker: BrokerProcess) -> None:
    admin = AdminClient(broker.url, TOKEN)
    async with WebSocketBusClient(broker.url, ClientConfig(token=TOKEN)) as bus:
        published = await bus.publish("held", {"hold": True})
        sub = await bus.subscribe("held", "holders", options=EARLIEST, manual_ack=True)
        held = await asyncio.wait_for(anext(aiter(sub)), 10)
        for _ in range(200):
            message = await admin.message("held", published.partition, published.offset)
            if message.attempts:
                break
            await asyncio.sleep(0.05)
        assert message.attempts == {"holders": 1}
        assert message.payload == {"hold": True}
        await held.ack()
        await sub.stop()
    with pytest.raises(AdminNotFoundError):
        await admin.message("held", published.partition, published.offset + 100)


def test_broker_refuses_a_short_jwt_secret() -> None:
    result = run_broker_settings(JWT_SECRET="short")
    assert result.returncode != 0
    assert "JWT_SECRET" in result.stderr
