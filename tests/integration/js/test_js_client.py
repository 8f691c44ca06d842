"""The JavaScript client's own tests (clients/js/test/*.test.mjs, run by
``node --test``) against a real broker started here; each test file starts
the gateway processes it needs (clients/js/test/support/stack.mjs). One
pytest test per file, so a failure shows in the pytest summary with the
Node.js test runner's report."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Final

import pytest

from tests.fixtures.broker import SCRUBBED_PREFIXES, BrokerFactory, BrokerProcess
from tests.integration.js.support import JS_DIR, built_js_client, node_tools

SECRET: Final = "js-client-test-secret-0123456789abcdef"
NODE_TEST_FILES: Final = sorted((JS_DIR / "test").glob("*.test.mjs"))
NODE_TIMEOUT_S: Final = 240
CHROMIUM: Final = "/usr/bin/chromium"


@pytest.fixture(scope="module")
def js_broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[BrokerProcess]:
    brokers = BrokerFactory(tmp_path_factory.mktemp("js-broker"))
    try:
        yield brokers()
    finally:
        brokers.kill_all()


def test_every_node_test_file_is_collected() -> None:
    names = {path.name for path in NODE_TEST_FILES}
    assert {"pubsub.test.mjs", "resilience.test.mjs", "browser.test.mjs", "types.test.mjs"} <= names


@pytest.mark.timeout(NODE_TIMEOUT_S + 60)
@pytest.mark.parametrize("test_file", NODE_TEST_FILES, ids=lambda path: path.name)
def test_node(test_file: Path, js_broker: BrokerProcess, tmp_path: Path) -> None:
    if test_file.name == "browser.test.mjs" and not Path(CHROMIUM).exists():
        pytest.skip(f"{CHROMIUM} is missing: the browser test needs Debian's chromium package")
    package = built_js_client()
    tools = node_tools()
    env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
    env.update(
        {
            "BUS_URL": js_broker.url,
            "PROMETHEAN_PYTHON": sys.executable,
            "JWT_SECRET": SECRET,
            "JS_TEST_LOG_DIR": str(tmp_path),
            "CHROMIUM_PATH": CHROMIUM,
        }
    )
    result = subprocess.run(
        [tools.node, "--test", "--test-reporter=spec", str(test_file.relative_to(package))],
        cwd=package,
        env=env,
        capture_output=True,
        text=True,
        timeout=NODE_TIMEOUT_S,
        check=False,
    )
    report = result.stdout + result.stderr
    assert result.returncode == 0, (
        f"{test_file.name} failed:\n{report}\nbroker log:\n{js_broker.log_tail()}"
    )
    assert re.search(r"\bfail 0\b", report), report
    assert not re.search(r"\bpass 0\b", report), f"no test passed:\n{report}"
    if test_file.name == "browser.test.mjs":
        screenshot = tmp_path / "browser.png"
        assert screenshot.stat().st_size > 1000
        kept = os.environ.get("PROMETHEAN_JS_SCREENSHOT")
        if kept:
            shutil.copyfile(screenshot, kept)
