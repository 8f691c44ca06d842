"""A connection's bounded send buffer and the task that drains it.

Shared by the broker and the gateway. Frames are queued as encoded bytes;
the buffer is capped in bytes. A peer that stops reading fills it, and the
next frame that does not fit makes ``offer`` return False — the caller then
drops the connection instead of letting its own memory grow.
"""

from __future__ import annotations

import asyncio
from collections import deque

from aiohttp import WSMsgType, web


class BoundedSender:
    def __init__(self, ws: web.WebSocketResponse, max_bytes: int) -> None:
        self._ws = ws
        self._max_bytes = max_bytes
        self._frames: deque[bytes] = deque()
        self._bytes = 0
        self._ready = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._closed = False
        self._task = asyncio.create_task(self._run(), name="ws-sender")

    @property
    def buffered_bytes(self) -> int:
        return self._bytes

    def offer(self, frame: bytes) -> bool:
        if self._closed:
            return False
        if self._bytes + len(frame) > self._max_bytes and self._frames:
            return False
        self._frames.append(frame)
        self._bytes += len(frame)
        self._drained.clear()
        self._ready.set()
        return True

    async def flush(self) -> None:
        """Wait until every queued frame went to the socket (or the sender
        stopped); callers bound the wait, a peer may not be reading."""
        while not self._closed and not self._drained.is_set():
            await self._drained.wait()

    async def _run(self) -> None:
        ws = self._ws
        while not self._closed:
            await self._ready.wait()
            self._ready.clear()
            while self._frames:
                frame = self._frames.popleft()
                self._bytes -= len(frame)
                if ws.closed:
                    self._stop()
                    return
                try:
                    await ws.send_frame(frame, WSMsgType.TEXT)
                except (ConnectionError, RuntimeError):
                    self._stop()
                    return
            self._drained.set()

    def _stop(self) -> None:
        self._closed = True
        self._drained.set()

    async def close(self) -> None:
        self._stop()
        self._frames.clear()
        self._bytes = 0
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
