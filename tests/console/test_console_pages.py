"""Each console page, in a real Chromium against a real broker, shows the
figures the admin API gives (the typed admin client reads them)."""

from __future__ import annotations

import asyncio
import json
import threading
import time

from promethean.cli.schemas import RegistryClient
from promethean.client import ClientConfig, Message, WebSocketBusClient
from tests.console.browser import Browser
from tests.console.conftest import (
    ARTIFACTS,
    BILLING_ACKED,
    ORDERS,
    PAYMENTS,
    REASON,
    TOKEN,
    Console,
    run,
    sign_in,
)

TAIL_WITHIN_MS = 1000


def shot(browser: Browser, name: str) -> None:
    browser.screenshot(ARTIFACTS / f"{name}.png")


def test_sign_in_refuses_a_wrong_token(console: Console, browser: Browser) -> None:
    browser.open()
    browser.goto(console.url())
    browser.wait("h1", "Promethean console")
    shot(browser, "sign-in")
    browser.fill("input[name=token]", "not-the-token")
    browser.click("button[type=submit]")
    browser.wait("[role=alert]", "sign in with the broker token")
    assert browser.count("[data-testid=role]") == 0


def test_overview_shows_services_lag_and_dlq_depth(console: Console, browser: Browser) -> None:
    sign_in(browser, console, TOKEN)
    overview = run(console.admin().overview())
    assert overview.total_lag >= ORDERS - BILLING_ACKED
    assert overview.dlq_depth >= PAYMENTS
    browser.wait("#stat-total-lag", f"{overview.total_lag:,}", exact=True)
    browser.wait("#stat-dlq-depth", f"{overview.dlq_depth:,}", exact=True)
    browser.wait("#stat-topics", str(overview.topics), exact=True)
    browser.wait("[data-testid=services] td", "broker")
    alive = [s for s in overview.services if s.alive]
    assert [s.name for s in alive] == ["broker"]
    browser.wait("#stat-services", f"{len(alive)} / {len(overview.services)}")
    browser.wait("[data-testid=services] td", "alive")
    assert float(browser.text("#stat-publish-rate")) >= 0
    shot(browser, "overview")
    assert browser.page_errors() == []


def test_topics_page_lists_partitions_offsets_and_settings(
    console: Console, browser: Browser
) -> None:
    sign_in(browser, console, TOKEN, "topics")
    topics = {t.name: t for t in run(console.admin().topics())}
    for name in ("orders", "payments", "payments.DLQ"):
        offsets = run(console.admin().offsets(name))
        stored = sum(p.latest - p.earliest + 1 for p in offsets.partitions)
        row = f"tr[data-topic='{name}']"
        browser.wait(f"{row} [data-testid=events]", f"{stored:,}", exact=True)
        cells = browser.texts(f"{row} td")
        assert cells[0] == name
        assert cells[1] == str(topics[name].partitions)
        assert cells[4] == topics[name].cleanup
    assert browser.texts("tr[data-topic='payments'] td")[6] == "2"
    shot(browser, "topics")


AUDITED_SCHEMA = {"type": "object", "required": ["order"]}


async def _audited_topic(console: Console) -> dict[str, object]:
    """A topic validated against a registered schema; the registry's latest version."""
    registry = RegistryClient(console.broker.http_url, TOKEN)
    body = {"schema": json.dumps(AUDITED_SCHEMA), "schemaType": "JSON"}
    await registry.call("POST", "/subjects/audited-value/versions", body)
    await console.admin().put_topic("audited", partitions=1, validate=True)
    latest: dict[str, object] = await registry.call(
        "GET", "/subjects/audited-value/versions/latest"
    )
    return latest


def test_topics_show_schema_subject_version_and_validate_flag(
    console: Console, browser: Browser
) -> None:
    latest = run(_audited_topic(console))
    topics = {t.name: t for t in run(console.admin().topics())}
    assert (topics["audited"].validate, topics["orders"].validate) == (True, False)
    sign_in(browser, console, TOKEN, "topics")
    audited = f"audited-value v{latest['version']} (id {latest['id']})"
    browser.wait("tr[data-topic='audited'] [data-testid=schema]", audited, exact=True)
    assert browser.text("tr[data-topic='audited'] [data-testid=validate]") == "on"
    assert browser.text("tr[data-topic='orders'] [data-testid=schema]") == "orders-value (none)"
    assert browser.text("tr[data-topic='orders'] [data-testid=validate]") == "off"
    shot(browser, "topics")
    browser.click("tr[data-topic='audited'] a")
    settings = "[data-testid=topic-settings]"
    browser.wait(f"{settings} [data-testid=schema]", audited, exact=True)
    assert browser.text(f"{settings} [data-testid=validate]") == "on"
    assert browser.page_errors() == []


def test_topic_detail_tail_shows_a_new_event_within_a_second(
    console: Console, browser: Browser
) -> None:
    sign_in(browser, console, TOKEN, "topics/orders")
    offsets = run(console.admin().offsets("orders"))
    for p in offsets.partitions:
        row = f"[data-testid=partitions] tr:nth-child({p.partition + 1})"
        browser.wait(f"{row} td:nth-child(3)", f"{p.latest:,}", exact=True)
    browser.wait(".tail .badge[data-state=live]")
    event_id = f"tail-{time.time_ns()}"

    async def publish() -> float:
        async with WebSocketBusClient(console.broker.url, ClientConfig(token=TOKEN)) as bus:
            await bus.publish(
                "orders", {"order": "live", "note": "published during the test"}, id=event_id
            )
            return time.monotonic()

    published_at = run(publish())
    browser.wait(f"[data-testid=tail] tr[data-id='{event_id}']", timeout_ms=5000)
    seen_ms = (time.monotonic() - published_at) * 1000
    print(f"tail: the event showed {seen_ms:.0f} ms after its publish was acknowledged")
    assert seen_ms < TAIL_WITHIN_MS, f"the tail showed the event after {seen_ms:.0f} ms"
    browser.click(f"[data-testid=tail] tr[data-id='{event_id}'] button")
    browser.wait("[data-testid=message-view] .payload", '"note": "published during the test"')
    shot(browser, "topic-detail")


def test_tail_filters_by_key_and_from_an_offset(console: Console, browser: Browser) -> None:
    sign_in(browser, console, TOKEN, "topics/orders")
    browser.wait(".tail .badge[data-state=live]")
    browser.select("select[name=from]", "earliest")
    browser.fill("input[name=key]", "customer-1")
    browser.click(".tail form button[type=submit]")
    browser.wait("[data-testid=tail] tr[data-id]")
    browser.wait("[data-testid=tail-count]", f"{ORDERS // 4} shown")
    keys = {row.split("\t")[2] for row in browser.texts("[data-testid=tail] tbody tr")}
    assert keys == {"customer-1"}
    browser.fill("input[name=key]", "")
    browser.fill("input[name=header]", "source:web")
    browser.click(".tail form button[type=submit]")
    browser.wait("[data-testid=tail-count]", f"{ORDERS // 2} shown")
    browser.click(".tail form button:text('Pause')")
    browser.wait(".tail .badge[data-state=closed]")


def test_latest_by_key_browser(console: Console, browser: Browser) -> None:
    sign_in(browser, console, TOKEN, "topics/orders")
    latest = run(console.admin().latest_by_key("orders", "customer-3"))
    assert latest is not None
    browser.fill("input[name=lookup-key]", "customer-3")
    browser.click("form[aria-label='Latest event by key'] button")
    browser.wait("[data-testid=message-view] dd", f"{latest.partition} / {latest.offset}")


def test_groups_page_and_group_detail_match_the_lag(console: Console, browser: Browser) -> None:
    sign_in(browser, console, TOKEN, "groups")
    lag = run(console.admin().lag("orders", "billing"))
    row = "tr[data-group='billing'][data-topic='orders']"
    browser.wait(f"{row} [data-testid=lag]", str(lag.lag), exact=True)
    ledger = run(console.admin().lag("payments", "ledger"))
    browser.wait("tr[data-group='ledger'] [data-testid=lag]", str(ledger.lag), exact=True)
    shot(browser, "groups")

    async def publish() -> None:
        async with WebSocketBusClient(console.broker.url, ClientConfig(token=TOKEN)) as bus:
            await bus.publish("orders", {"order": "one more"})

    run(publish())
    # The page follows the live stream: the new event shows as lag, no reload.
    browser.wait(f"{row} [data-testid=lag]", str(lag.lag + 1), exact=True)
    browser.click("tr[data-group='billing'] a")
    browser.wait("h1", "Group billing")
    group = run(console.admin().group("billing"))
    browser.wait("[data-testid=generation]", str(group.generation), exact=True)
    for part in group.topics[0].partitions:
        row = f"[data-testid=offsets-orders] tr[data-partition='{part.partition}']"
        browser.wait(f"{row} [data-testid=committed]", f"{part.committed:,}", exact=True)
    shot(browser, "group")


def test_dlq_page_lists_records_with_reasons(console: Console, browser: Browser) -> None:
    sign_in(browser, console, TOKEN, "dlq")
    depth = {d.topic: d.depth for d in run(console.admin().dlqs())}["payments"]
    browser.wait("tr[data-topic='payments'] [data-testid=depth]", str(depth), exact=True)
    browser.click("tr[data-topic='payments'] a")
    browser.wait("[data-testid=dlq-records] tr[data-id]")
    page = run(console.admin().dlq_records("payments"))
    assert browser.count("[data-testid=dlq-records] tr[data-id]") == len(page.records)
    assert {r.reason for r in page.records} == {REASON}
    browser.wait("[data-testid=dlq-records] td", REASON)
    browser.click(f"tr[data-id='{page.records[0].id}'] button.link")
    browser.wait("[data-testid=message-view] .payload", "amount_cents")
    shot(browser, "dlq")


class Workers:
    """Two partitioned members of ``workers`` on ``orders``, kept alive on
    their own event loop (the browser calls block this thread)."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._run()), daemon=True)

    async def _run(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()

        async def handle(message: Message) -> None:
            return None

        async with (
            WebSocketBusClient(self._console.broker.url, ClientConfig(token=TOKEN)) as one,
            WebSocketBusClient(self._console.broker.url, ClientConfig(token=TOKEN)) as two,
        ):
            first = await one.subscribe_partitioned("orders", "workers", handle, instance_id="w-1")
            second = await two.subscribe_partitioned("orders", "workers", handle, instance_id="w-2")
            self._ready.set()
            await self._stop.wait()
            await first.stop()
            await second.stop()

    def __enter__(self) -> Workers:
        self._thread.start()
        assert self._ready.wait(20), "the partitioned members did not join"
        return self

    def __exit__(self, *exc: object) -> None:
        if self._loop is not None and self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)


def test_group_page_shows_members_assignment_and_rebalance_log(
    console: Console, browser: Browser
) -> None:
    with Workers(console):
        admin = console.admin()
        deadline = time.monotonic() + 30
        group = run(admin.group("workers"))
        while len(group.members) < 2 or len(group.assignment) < 2:
            assert time.monotonic() < deadline, f"no balanced assignment: {group}"
            time.sleep(0.1)
            group = run(admin.group("workers"))
        sign_in(browser, console, TOKEN, "groups/workers")
        browser.wait("[data-testid=generation]", str(group.generation), exact=True)
        browser.wait("[data-testid=members] tbody tr:nth-child(2)")
        instances = {r.split("\t")[1] for r in browser.texts("[data-testid=members] tbody tr")}
        assert instances == {"w-1", "w-2"}
        owners = set(browser.texts("[data-testid=offsets-orders] tbody td:nth-child(6)"))
        instance = {m.member_id: m.instance_id for m in group.members}
        assert owners == {instance[m] for m in group.assignment}
        assert group.log, "the coordinator logged no rebalance"
        browser.wait("[data-testid=rebalance-log] li")
        # A late rebalance may still add an entry: the page must catch up with the log.
        while browser.count("[data-testid=rebalance-log] li") != len(group.log):
            assert time.monotonic() < deadline, "the page's rebalance log does not match the API's"
            time.sleep(0.1)
            group = run(admin.group("workers"))
        browser.wait("[data-testid=rebalance-log] li", f"generation {group.generation} at")
        shot(browser, "group-members")
