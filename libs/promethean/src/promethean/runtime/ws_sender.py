"""A connection's bounded send buffer and the task that drains it.

Shared by the broker and the gateway. Frames are queued as encoded bytes;
the buffer is capped in bytes. A peer that stops reading fills it, and the
next frame that does not fit makes ``offer`` return False — the caller then
drops the connection instead of letting its own memory grow.

A peer that stops reading may never fill the buffer (a subscriber at its
in-flight limit gets nothing more, and the kernel's socket buffers take
megabytes), yet holds its in-flight work. So the sender also watches
progress: when a frame has waited ``stall_s`` to reach the socket, or the
bytes the kernel still holds unacknowledged for the peer (``TIOCOUTQ``,
Linux) did not shrink for ``stall_s`` after the last frame went out, it
calls ``on_stall`` once and the caller drops the connection, which hands
its work back. One timer per stall period, armed only after sending.

Frames queued by the time the sender runs go to the socket in one write
(`send_together`), not one system call each: replies and deliveries made in
one turn of the loop leave together. The bytes on the wire are the same
WebSocket frames either way.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import struct
import termios
from collections import deque
from collections.abc import Callable
from typing import Final

from aiohttp import WSMsgType, web
from aiohttp.http_websocket import WebSocketWriter

DEFAULT_STALL_S: Final = 5.0
"""A peer whose socket took nothing for this long is dropped."""


class BoundedSender:
    def __init__(
        self,
        ws: web.WebSocketResponse,
        max_bytes: int,
        *,
        stall_s: float = DEFAULT_STALL_S,
        on_stall: Callable[[], None] | None = None,
    ) -> None:
        self._ws = ws
        self._stall_s = stall_s
        self._on_stall = on_stall
        self._loop = asyncio.get_running_loop()
        self._progress_at = self._loop.time()
        self._watch: asyncio.TimerHandle | None = None
        self._unsent = 0
        self.stalled = False
        self._max_bytes = max_bytes
        self._frames: deque[bytes] = deque()
        self._bytes = 0
        self._ready = asyncio.Event()
        self._drained = asyncio.Event()
        self._drained.set()
        self._closed = False
        self._task = asyncio.create_task(self._run(), name="ws-sender")

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
            self._progress_at = self._loop.time()
            self._arm()
            while self._frames:
                frames = list(self._frames)
                self._frames.clear()
                self._bytes = 0
                if ws.closed:
                    self._stop()
                    return
                try:
                    await send_together(ws, frames)
                except (ConnectionError, RuntimeError):
                    self._stop()
                    return
                self._progress_at = self._loop.time()
            self._unsent = self._kernel_unsent()
            self._drained.set()

    def _arm(self, delay: float | None = None) -> None:
        if self._watch is None and self._on_stall is not None and not self._closed:
            self._watch = self._loop.call_later(
                self._stall_s if delay is None else delay, self._check_stall
            )

    def _check_stall(self) -> None:
        self._watch = None
        if self._closed:
            return
        idle = self._loop.time() - self._progress_at
        if idle < self._stall_s:
            self._arm(self._stall_s - idle)
            return
        if self._drained.is_set():
            # Everything reached the socket; is the peer taking it?
            unsent = self._kernel_unsent()
            if unsent == 0 or unsent < self._unsent:
                self._unsent = unsent
                if unsent:
                    self._progress_at = self._loop.time()
                    self._arm()
                return
        self.stalled = True
        if self._on_stall is not None:
            self._on_stall()

    def _kernel_unsent(self) -> int:
        """Bytes written to the socket the peer has not acknowledged; 0 where
        the platform cannot tell."""
        transport = getattr(getattr(self._ws, "_writer", None), "transport", None)
        sock = transport.get_extra_info("socket") if transport is not None else None
        if sock is None:
            return 0
        with contextlib.suppress(OSError, ValueError, AttributeError):
            raw = fcntl.ioctl(sock.fileno(), termios.TIOCOUTQ, struct.pack("i", 0))
            return int(struct.unpack("i", raw)[0])
        return 0

    def _stop(self) -> None:
        self._closed = True
        self._drained.set()
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None

    async def close(self) -> None:
        self._stop()
        self._frames.clear()
        self._bytes = 0
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)


async def send_together(ws: web.WebSocketResponse, frames: list[bytes]) -> None:
    """Send ``frames`` as text frames, several in one write to the transport
    when the connection sends plain frames (no compression, no mask)."""
    writer = _plain_writer(ws) if len(frames) > 1 else None
    if writer is None:
        for frame in frames:
            await ws.send_frame(frame, WSMsgType.TEXT)
        return
    writer.transport.write(b"".join([text_frame(frame) for frame in frames]))
    protocol = writer.protocol
    if protocol.writing_paused:
        # The transport's buffer passed its high-water mark: wait, as
        # aiohttp's own send does, until the peer takes some of it.
        await protocol._drain_helper()


def _plain_writer(ws: web.WebSocketResponse) -> WebSocketWriter | None:
    """aiohttp's writer of ``ws`` when frames go out unmasked and
    uncompressed; None when they do not (or ``ws`` is not aiohttp's)."""
    writer = getattr(ws, "_writer", None)
    if not isinstance(writer, WebSocketWriter):
        return None
    if writer.compress or writer.use_mask or writer.transport.is_closing():
        return None
    return writer


_LEN7: Final = struct.Struct("!BB")
_LEN16: Final = struct.Struct("!BBH")
_LEN64: Final = struct.Struct("!BBQ")
_FIN_TEXT: Final = 0x81


def text_frame(payload: bytes) -> bytes:
    """One final, unmasked WebSocket text frame (RFC 6455 section 5.2)."""
    size = len(payload)
    if size < 126:
        return _LEN7.pack(_FIN_TEXT, size) + payload
    if size < 65536:
        return _LEN16.pack(_FIN_TEXT, 126, size) + payload
    return _LEN64.pack(_FIN_TEXT, 127, size) + payload
