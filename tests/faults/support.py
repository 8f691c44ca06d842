"""Helpers for the fault tests: resident memory of a process, many short
WebSocket connections, and polling an HTTP status with a deadline."""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import time
from collections.abc import Callable

import aiohttp

from tests.fixtures.broker import http_get

MIB = 1024 * 1024


def rss_bytes(pid: int) -> int:
    """Resident memory of ``pid`` from /proc (Linux)."""
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for pid {pid}")


async def refused_connections(
    url: str, count: int, frame: str, *, concurrency: int = 50, within: float = 10.0
) -> list[int | None]:
    """Open ``count`` connections that each send ``frame`` and read until the
    server closes; returns the close codes seen (None: no close frame)."""
    gate = asyncio.Semaphore(concurrency)
    codes: list[int | None] = []
    async with aiohttp.ClientSession() as session:

        async def one() -> None:
            async with gate:
                ws = await session.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=within))
                try:
                    await ws.send_str(frame)
                    async with asyncio.timeout(within):
                        async for msg in ws:
                            if msg.type is not aiohttp.WSMsgType.TEXT:
                                break
                    codes.append(ws.close_code)
                finally:
                    await ws.close()

        await asyncio.gather(*(one() for _ in range(count)))
    return codes


def status_of(port: int, path: str) -> int | None:
    """The HTTP status of ``GET path``, None when nothing answers."""
    with contextlib.suppress(OSError, http.client.HTTPException):
        status, _ = http_get(port, path, timeout=1.0)
        return status
    return None


def wait_until(check: Callable[[], bool], timeout: float, poll: float = 0.05) -> float | None:
    """Seconds until ``check()`` held, or None when ``timeout`` passed first."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if check():
            return time.monotonic() - started
        time.sleep(poll)
    return None
