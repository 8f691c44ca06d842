"""What an operator changes from the console, in a real Chromium against a
real broker: reset a group's offsets, replay and purge a DLQ; a read-only
sign-in (a JWT with ``read:*``) can do neither, in the page or the API."""

from __future__ import annotations

import time

import pytest

from promethean.client.admin import AdminClient, AdminForbiddenError
from tests.console.browser import Browser
from tests.console.conftest import (
    ARTIFACTS,
    TOKEN,
    Console,
    connect,
    consume,
    dead_letter,
    mint,
    run,
    sign_in,
)

INVOICES = 8
REFUNDS = 5


async def _seed(console: Console) -> None:
    admin = console.admin()
    await admin.put_topic("invoices", partitions=2)
    await admin.put_topic("refunds", partitions=2, max_attempts=2)
    async with connect(console.broker) as bus:
        for i in range(INVOICES):
            await bus.publish("invoices", {"invoice": i}, key=f"k{i}")
        for i in range(REFUNDS):
            await bus.publish("refunds", {"refund": i, "amount_cents": 500 + i}, key=f"r{i}")
        await consume(bus, admin, "invoices", "archiver", INVOICES)
        await dead_letter(bus, admin, "refunds", "refunder", REFUNDS)


@pytest.fixture(scope="module")
def actions(console: Console) -> Console:
    run(_seed(console))
    return console


def test_read_only_sign_in_cannot_reset_or_replay(actions: Console, browser: Browser) -> None:
    reader = mint(["read:*"], subject="viewer")
    sign_in(browser, actions, reader, "groups/archiver")
    assert browser.text("[data-testid=role]") == "read-only"
    browser.wait("[data-testid=offsets-invoices]")
    assert browser.count("button:text('Reset offsets')") == 0
    assert browser.count("button:text('Delete group')") == 0
    browser.goto(actions.url("dlq/refunds"))
    browser.wait("[data-testid=dlq-records] tr[data-id]")
    assert browser.count("button:text('Replay')") == 0
    assert browser.count("button:text('Purge')") == 0
    assert browser.count("[data-testid=dlq-records] input[type=checkbox]") == 0
    status = browser.evaluate(
        f"""fetch('/dlq/refunds/replay', {{method: 'POST',
            headers: {{Authorization: 'Bearer {reader}', 'Content-Type': 'application/json'}},
            body: JSON.stringify({{all: true}})}}).then(r => r.status)"""
    )
    assert status == 403
    admin = AdminClient(actions.broker.http_url, reader)
    with pytest.raises(AdminForbiddenError):
        run(admin.reset_offsets("archiver", "invoices", to="earliest"))
    with pytest.raises(AdminForbiddenError):
        run(admin.replay_dlq("refunds", events=[(0, 0)]))
    with pytest.raises(AdminForbiddenError):
        run(admin.purge_dlq("refunds"))
    assert run(admin.whoami()).role == "read"
    page = run(actions.admin().dlq_records("refunds"))
    assert not any(r.replayed for r in page.records)


def test_admin_jwt_signs_in_with_its_subject(actions: Console, browser: Browser) -> None:
    sign_in(browser, actions, mint(["admin:*"], subject="ops@example.com"), "groups")
    assert browser.text("[data-testid=role]") == "admin"
    browser.wait(".who .subject", "ops@example.com")


def test_create_and_edit_a_topic_from_the_console(actions: Console, browser: Browser) -> None:
    sign_in(browser, actions, TOKEN, "topics")
    browser.click("button:text('New topic')")
    browser.fill("form[aria-label='New topic'] input[name=name]", "made-in-console")
    browser.fill("form[aria-label='New topic'] input[name=partitions]", "3")
    browser.select("form[aria-label='New topic'] select[name=cleanup]", "compact")
    browser.click("form[aria-label='New topic'] input[name=validate]")
    # The live snapshot re-renders the page under the open form: what was
    # typed must survive it.
    run(actions.admin().put_topic("appears-while-typing"))
    browser.wait("tr[data-topic='appears-while-typing']")
    browser.screenshot(ARTIFACTS / "topic-new.png")
    browser.click("form[aria-label='New topic'] button[type=submit]")
    browser.wait("tr[data-topic='made-in-console'] [data-testid=validate]", "on", exact=True)
    made = {t.name: t for t in run(actions.admin().topics())}["made-in-console"]
    assert (made.partitions, made.cleanup, made.validate) == (3, "compact", True)
    browser.click("tr[data-topic='made-in-console'] a")
    browser.click("button:text('Edit settings')")
    form = "form[aria-label='Settings of made-in-console']"
    browser.fill(f"{form} input[name=retention_ms]", "86400000")
    run(
        actions.admin().put_topic(
            "made-in-console", partitions=3, cleanup="compact", max_attempts=7
        )
    )
    browser.wait("[data-testid=topic-settings]", "7")
    browser.click(f"{form} button[type=submit]")
    browser.wait("[data-testid=topic-settings] dd", "1d")
    edited = {t.name: t for t in run(actions.admin().topics())}["made-in-console"]
    assert (edited.partitions, edited.cleanup, edited.retention_ms) == (3, "compact", 86_400_000)
    assert edited.validate
    browser.click("button:text('Edit settings')")
    browser.click(f"{form} input[name=validate]")
    browser.click(f"{form} button[type=submit]")
    browser.wait("[data-testid=topic-settings] [data-testid=validate]", "off", exact=True)
    assert not {t.name: t for t in run(actions.admin().topics())}["made-in-console"].validate


def test_reset_offsets_from_the_console(actions: Console, browser: Browser) -> None:
    admin = actions.admin()
    assert run(admin.lag("invoices", "archiver")).lag == 0
    sign_in(browser, actions, TOKEN, "groups/archiver")
    browser.wait("[data-testid=offsets-invoices]")
    browser.select("[data-testid=actions-invoices] select[name=to]", "earliest")
    browser.click("[data-testid=actions-invoices] button:text('Reset offsets')")
    browser.wait("dialog[open]", "Reset archiver?")
    browser.screenshot(ARTIFACTS / "group-reset-confirm.png")
    browser.click("dialog[open] button:text('Reset offsets')")
    browser.wait("[data-testid=group-notice]", "Offsets of archiver on invoices reset")
    lag = run(admin.lag("invoices", "archiver"))
    assert lag.lag == INVOICES
    assert all(p.committed == -1 for p in lag.partitions)
    browser.wait("[data-testid=offsets-invoices] [data-testid=committed]", "-1")


def test_delete_group_from_the_console(actions: Console, browser: Browser) -> None:
    sign_in(browser, actions, TOKEN, "groups/archiver")
    browser.wait("[data-testid=offsets-invoices]")
    browser.click("[data-testid=actions-invoices] button:text('Delete group')")
    browser.wait("dialog[open]", "Delete archiver?")
    browser.click("dialog[open] button:text('Delete group')")
    browser.wait("[data-testid=group-notice]", "Group archiver deleted from invoices")
    # The console's group list is a snapshot shared by all viewers (at most
    # ~1 s old): the deleted group leaves it at its next refresh.
    deadline = time.monotonic() + 10
    while ("archiver", "invoices") in {
        (r.group, r.topic) for r in run(actions.admin().group_rows())
    }:
        assert time.monotonic() < deadline, "the deleted group is still listed"
        time.sleep(0.2)


def test_replay_selected_then_all_from_the_console(actions: Console, browser: Browser) -> None:
    admin = actions.admin()
    sign_in(browser, actions, TOKEN, "dlq/refunds")
    page = run(admin.dlq_records("refunds"))
    assert len(page.records) == REFUNDS
    first = page.records[0]
    browser.click(f"tr[data-id='{first.id}'] input[type=checkbox]")
    browser.click("button:text('Replay selected (1)')")
    browser.wait("[data-testid=dlq-note]", "Replayed 1 of 1 selected")
    browser.wait(f"tr[data-id='{first.id}'] [data-testid=replayed]", "yes", exact=True)
    after = {r.id: r.replayed for r in run(admin.dlq_records("refunds")).records}
    assert after[first.id] is True
    assert sum(after.values()) == 1
    replayed = run(admin.latest_by_key("refunds", first.key or ""))
    assert replayed is not None
    assert replayed.id == f"replay/{first.id}"
    assert replayed.headers is not None
    assert "x-dlq-reason" not in replayed.headers
    browser.click("button:text('Replay all')")
    browser.wait("dialog[open]", "Replay every record")
    browser.click("dialog[open] button:text('Replay all')")
    browser.wait("[data-testid=dlq-note]", f"Replayed {REFUNDS - 1} of {REFUNDS} records")
    assert (
        browser.evaluate("document.querySelector('[data-testid=replay-progress]').value") == REFUNDS
    )
    browser.screenshot(ARTIFACTS / "dlq-replayed.png")
    assert all(r.replayed for r in run(admin.dlq_records("refunds")).records)
    offsets = run(admin.offsets("refunds"))
    assert sum(p.latest + 1 for p in offsets.partitions) == 2 * REFUNDS


def test_purge_from_the_console(actions: Console, browser: Browser) -> None:
    sign_in(browser, actions, TOKEN, "dlq/refunds")
    browser.wait("[data-testid=dlq-records] tr[data-id]")
    browser.click("button:text('Purge')")
    browser.wait("dialog[open]", "Purge the DLQ of refunds?")
    browser.click("dialog[open] button:text('Purge')")
    browser.wait("[data-testid=dlq-note]", f"Purged {REFUNDS} records")
    dlqs = {d.topic: d.depth for d in run(actions.admin().dlqs())}
    assert dlqs["refunds"] == 0
