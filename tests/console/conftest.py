"""One real broker with real data, one headless Chromium, for every console
test: topics ``orders`` (24 events, group ``billing`` 10 acked so lag 14) and
``payments`` (6 events, all dead-lettered by group ``ledger``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Coroutine, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import jwt
import pytest

from promethean.client import ClientConfig, SubscribeOptions, WebSocketBusClient
from promethean.client.admin import AdminClient
from tests.console.browser import Browser
from tests.fixtures.broker import BrokerFactory, BrokerProcess

REPO: Final = Path(__file__).resolve().parents[2]
ARTIFACTS: Final = REPO / "build" / "console-artifacts"
"""Screenshots and the browser log stay here after a run (docs/console/ holds copies)."""
TOKEN: Final = "console-test-broker-token"
SECRET: Final = "console-test-jwt-secret-0123456789"
ORDERS: Final = 24
BILLING_ACKED: Final = 10
PAYMENTS: Final = 6
REASON: Final = "card declined: insufficient funds"
SETTLE_S: Final = 20.0
T = TypeVar("T")


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coro)


def mint(scopes: list[str], subject: str = "operator") -> str:
    claims = {"sub": subject, "scopes": scopes, "exp": int(time.time()) + 3600}
    return jwt.encode(claims, SECRET, algorithm="HS256")


@dataclass(frozen=True)
class Console:
    broker: BrokerProcess
    base: str

    def admin(self, token: str | None = TOKEN) -> AdminClient:
        return AdminClient(self.broker.http_url, token)

    def url(self, route: str = "") -> str:
        return f"{self.base}/console/#/{route}"


async def _until(check: Any, what: str) -> None:
    deadline = time.monotonic() + SETTLE_S
    while not await check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(0.05)


def connect(broker: BrokerProcess) -> WebSocketBusClient:
    return WebSocketBusClient(broker.url, ClientConfig(token=TOKEN))


async def consume(
    bus: WebSocketBusClient, admin: AdminClient, topic: str, group: str, n: int
) -> None:
    """``group`` acks the first ``n`` events of ``topic`` and leaves, its commit durable."""
    start = SubscribeOptions(start="earliest")
    subscription = await bus.subscribe(topic, group, options=start, manual_ack=True)
    messages = aiter(subscription)
    for _ in range(n):
        message = await asyncio.wait_for(anext(messages), SETTLE_S)
        await message.ack()

    async def committed() -> bool:
        lag = await admin.lag(topic, group)
        return sum(p.committed + 1 for p in lag.partitions) == n

    await _until(committed, f"{group}'s acks on {topic} to be committed")
    await subscription.stop()


async def dead_letter(
    bus: WebSocketBusClient, admin: AdminClient, topic: str, group: str, n: int
) -> None:
    """``group`` nacks every event of ``topic`` until all ``n`` are dead-lettered."""
    start = SubscribeOptions(start="earliest")
    subscription = await bus.subscribe(topic, group, options=start, manual_ack=True)

    async def nack_all() -> None:
        async for message in subscription:
            await message.nack(REASON)

    nacking = asyncio.create_task(nack_all())

    async def dead_lettered() -> bool:
        return {d.topic: d.depth for d in await admin.dlqs()}.get(topic) == n

    try:
        await _until(dead_lettered, f"every event of {topic} to be dead-lettered")
    finally:
        nacking.cancel()
        await subscription.stop()


async def seed(broker: BrokerProcess) -> None:
    """What the pages show: orders (billing lags) and payments (all dead-lettered)."""
    admin = AdminClient(broker.http_url, TOKEN)
    await admin.put_topic("orders", partitions=3)
    await admin.put_topic("payments", partitions=2, max_attempts=2)
    async with connect(broker) as bus:
        for i in range(ORDERS):
            payload = {"order": i, "total_cents": 1250 + 75 * i, "items": [{"sku": f"sku-{i % 5}"}]}
            headers = {"source": "web" if i % 2 else "app"}
            await bus.publish("orders", payload, key=f"customer-{i % 4}", headers=headers)
        for i in range(PAYMENTS):
            payment = {"payment": i, "amount_cents": 990 * (i + 1)}
            await bus.publish("payments", payment, key=f"p{i}")
        await consume(bus, admin, "orders", "billing", BILLING_ACKED)
        await dead_letter(bus, admin, "payments", "ledger", PAYMENTS)


@pytest.fixture(scope="session")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Console]:
    factory = BrokerFactory(tmp_path_factory.mktemp("console-broker"))
    try:
        broker = factory(
            {
                "PROMETHEAN_BROKER_TOKEN": TOKEN,
                "JWT_SECRET": SECRET,
                "PROMETHEAN_HEARTBEAT_MS": "500",
                "PROMETHEAN_DEFAULT_PARTITIONS": "2",
            }
        )
        run(seed(broker))
        yield Console(broker, broker.http_url)
    finally:
        factory.kill_all()


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    chromium = Browser(ARTIFACTS / "driver.log")
    try:
        chromium.open()
        yield chromium
    finally:
        chromium.close()


def sign_in(browser: Browser, console: Console, token: str, route: str = "") -> None:
    """A fresh page signed in through the sign-in form."""
    browser.open()
    browser.goto(console.url(route))
    browser.fill("input[name=token]", token)
    browser.click("button[type=submit]")
    browser.wait("[data-testid=role]")
