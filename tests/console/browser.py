"""A headless Chromium for the console tests, driven through ``driver.mjs``
(playwright-core from npm): each `Browser` method sends one JSON command and
waits, bounded, for its answer."""

from __future__ import annotations

import json
import selectors
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any, Final

import pytest

HERE: Final = Path(__file__).resolve().parent
CHROMIUM: Final = "/usr/bin/chromium"
REPLY_TIMEOUT_S: Final = 30.0
NPM_TIMEOUT_S: Final = 300


def npm_ci(folder: Path, marker: str) -> None:
    """``npm ci`` in ``folder`` unless ``node_modules/<marker>`` is there."""
    if (folder / "node_modules" / marker).exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        pytest.fail("npm is required (scripts/test.sh installs nodejs and npm)")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund"],
        cwd=folder,
        check=True,
        capture_output=True,
        timeout=NPM_TIMEOUT_S,
    )


class BrowserError(AssertionError):
    """The browser could not do what a test asked (the driver's message)."""


class Browser:
    def __init__(self, log_path: Path) -> None:
        node = shutil.which("node")
        if node is None:
            pytest.fail("node is required (scripts/test.sh installs nodejs)")
        if not Path(CHROMIUM).exists():
            pytest.fail(f"{CHROMIUM} is missing (scripts/test.sh installs Debian's chromium)")
        npm_ci(HERE, "playwright-core")
        self._log = log_path.open("wb")
        self._process = subprocess.Popen(
            [node, "driver.mjs"],
            cwd=HERE,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            env={"PATH": "/usr/bin:/bin", "CHROMIUM": CHROMIUM, "HOME": str(log_path.parent)},
        )
        self._selector = selectors.DefaultSelector()
        assert self._process.stdout is not None
        self._selector.register(self._process.stdout, selectors.EVENT_READ)
        self._buffer = b""
        self._reply(REPLY_TIMEOUT_S)

    def _reply(self, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        stdout = self._process.stdout
        assert stdout is not None
        while b"\n" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not self._selector.select(left):
                raise BrowserError(f"the browser driver did not answer within {timeout}s")
            chunk = stdout.read1(65536)
            if not chunk:
                raise BrowserError("the browser driver exited")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        reply = json.loads(line)
        if not reply["ok"]:
            raise BrowserError(reply["error"])
        return reply.get("value")

    def call(self, op: str, reply_s: float = REPLY_TIMEOUT_S, **args: Any) -> Any:
        stdin = self._process.stdin
        assert stdin is not None
        stdin.write(json.dumps({"op": op, **args}).encode() + b"\n")
        stdin.flush()
        return self._reply(reply_s)

    # -- conveniences ------------------------------------------------------

    def open(self, width: int = 1280, height: int = 800) -> None:
        self.call("open", width=width, height=height)

    def goto(self, url: str) -> None:
        self.call("goto", url=url)

    def wait(
        self,
        selector: str,
        text: str | None = None,
        *,
        exact: bool = False,
        timeout_ms: int = 10_000,
    ) -> int:
        """Wait until ``selector`` is visible and contains ``text`` (is exactly
        ``text``, give or take white space, with ``exact``); the ms it took."""
        args: dict[str, Any] = {"selector": selector, "timeout": timeout_ms, "exact": exact}
        if text is not None:
            args["text"] = text
        elapsed: int = self.call("wait", reply_s=timeout_ms / 1000 + 10, **args)
        return elapsed

    def text(self, selector: str) -> str:
        value: str = self.call("text", selector=selector)
        return value

    def texts(self, selector: str) -> list[str]:
        value: list[str] = self.call("texts", selector=selector)
        return value

    def count(self, selector: str) -> int:
        value: int = self.call("count", selector=selector)
        return value

    def click(self, selector: str) -> None:
        self.call("click", selector=selector)

    def fill(self, selector: str, value: str) -> None:
        self.call("fill", selector=selector, value=value)

    def select(self, selector: str, value: str) -> None:
        self.call("select", selector=selector, value=value)

    def evaluate(self, js: str) -> Any:
        return self.call("eval", js=js)

    def screenshot(self, path: Path, *, full_page: bool = False) -> Path:
        self.call("screenshot", path=str(path), fullPage=full_page)
        return path

    def axe(self) -> list[dict[str, Any]]:
        value: list[dict[str, Any]] = self.call("axe", reply_s=60)
        return value

    def page_errors(self) -> list[str]:
        value: list[str] = self.call("errors")
        return value

    def close(self) -> None:
        try:
            if self._process.poll() is None:
                self.call("close", reply_s=10)
        except BrowserError:
            pass
        finally:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait()
            self._selector.close()
            for pipe in (self._process.stdin, self._process.stdout):
                if pipe is not None:
                    pipe.close()
            self._log.close()
