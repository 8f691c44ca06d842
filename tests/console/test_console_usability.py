"""The console is usable: no serious accessibility violation on any page
(axe-core), it fits a phone's width, and it works from the keyboard."""

from __future__ import annotations

import pytest

from tests.console.browser import Browser
from tests.console.conftest import ARTIFACTS, TOKEN, Console, sign_in

PAGES = {
    "overview": ("", "#stat-total-lag"),
    "topics": ("topics", "[data-testid=topics] tr[data-topic]"),
    "topic-detail": ("topics/orders", "[data-testid=partitions] td"),
    "groups": ("groups", "[data-testid=groups] tr[data-group]"),
    "group": ("groups/billing", "[data-testid=generation]"),
    "dlqs": ("dlq", "[data-testid=dlqs] tr[data-topic]"),
    "dlq": ("dlq/payments", "[data-testid=dlq-records] tr[data-id]"),
}
SERIOUS = {"serious", "critical"}
PHONE = (390, 844)


def serious(violations: list[dict[str, object]]) -> list[dict[str, object]]:
    return [v for v in violations if v.get("impact") in SERIOUS]


def test_sign_in_page_has_no_serious_accessibility_violation(
    console: Console, browser: Browser
) -> None:
    browser.open()
    browser.goto(console.url())
    browser.wait("input[name=token]")
    assert serious(browser.axe()) == []


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_has_no_serious_accessibility_violation(
    console: Console, browser: Browser, name: str
) -> None:
    route, ready = PAGES[name]
    sign_in(browser, console, TOKEN, route)
    browser.wait(ready)
    violations = browser.axe()
    assert serious(violations) == [], violations
    assert browser.page_errors() == []


@pytest.mark.parametrize("name", ["overview", "topic-detail", "group", "dlq"])
def test_page_fits_a_phone_width(console: Console, browser: Browser, name: str) -> None:
    route, ready = PAGES[name]
    browser.open(*PHONE)
    browser.goto(console.url(route))
    browser.fill("input[name=token]", TOKEN)
    browser.click("button[type=submit]")
    browser.wait(ready)
    overflow = browser.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, f"{name} is {overflow}px wider than a phone"
    browser.screenshot(ARTIFACTS / f"phone-{name}.png", full_page=True)


def test_keyboard_reaches_every_section(console: Console, browser: Browser) -> None:
    browser.open()
    browser.goto(console.url())
    browser.wait("input[name=token]")
    browser.call("press", key="Tab")
    assert browser.call("focused")["tag"] == "input"
    browser.call("fill", selector="input[name=token]", value=TOKEN)
    browser.call("press", key="Enter")
    browser.wait("[data-testid=role]")
    browser.evaluate("document.body.focus()")
    browser.call("press", key="Tab")
    assert browser.call("focused")["text"] == "Skip to content"
    seen = []
    for _ in range(5):
        browser.call("press", key="Tab")
        seen.append(browser.call("focused")["text"])
    assert seen == ["Promethean", "Overview", "Topics", "Groups", "DLQ"]
    browser.call("press", key="Shift+Tab")
    browser.call("press", key="Shift+Tab")
    assert browser.call("focused")["text"] == "Topics"
    browser.call("press", key="Enter")
    browser.wait("h1", "Topics")
    browser.wait("[data-testid=topics] tr[data-topic='orders']")
    for _ in range(40):
        browser.call("press", key="Tab")
        if browser.call("focused")["text"] == "orders":
            break
    else:
        pytest.fail("Tab never reached the orders link")
    browser.call("press", key="Enter")
    browser.wait("h1", "Topic orders")
