"""Server-sent events for the console's live views: a bounded number of
open streams, each a `text/event-stream` response that ends when the client
goes away or the broker shuts down."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final

import msgspec
from aiohttp import web

from promethean.runtime.http import error_response

MAX_STREAMS: Final = 64
KEEPALIVE_S: Final = 15.0
_json = msgspec.json.Encoder()


class Shared:
    """One snapshot shared by every viewer: recomputed at most every
    ``max_age_s``, however many streams and requests ask for it."""

    def __init__(self, produce: Callable[[], Awaitable[Any]], max_age_s: float = 0.9) -> None:
        self._produce = produce
        self._max_age_s = max_age_s
        self._lock = asyncio.Lock()
        self._value: Any = None
        self._at = -1.0

    async def get(self) -> Any:
        async with self._lock:
            now = asyncio.get_running_loop().time()
            if self._at < 0 or now - self._at >= self._max_age_s:
                self._value = await self._produce()
                self._at = now
            return self._value


class Streams:
    """Counts open streams and wakes them all when the broker shuts down."""

    def __init__(self, max_streams: int = MAX_STREAMS) -> None:
        self.max_streams = max_streams
        self.open = 0
        self.closing = asyncio.Event()

    async def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``; True when the broker is shutting down."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.closing.wait(), seconds)
        return self.closing.is_set()

    @contextlib.asynccontextmanager
    async def stream(self, request: web.Request) -> AsyncIterator[EventStream | web.Response]:
        """An `EventStream`, or a 503 response when too many are open."""
        if self.open >= self.max_streams:
            yield error_response(503, "too_many_streams", "too many live views are open")
            return
        self.open += 1
        try:
            response = web.StreamResponse(
                headers={
                    "Content-Type": "text/event-stream",
                    "Cache-Control": "no-cache",
                    "X-Accel-Buffering": "no",
                }
            )
            await response.prepare(request)
            yield EventStream(response)
        finally:
            self.open -= 1


class EventStream:
    def __init__(self, response: web.StreamResponse) -> None:
        self.response = response

    async def send(self, event: str, data: Any) -> None:
        frame = b"event: " + event.encode() + b"\ndata: " + _json.encode(data) + b"\n\n"
        await self.response.write(frame)

    async def comment(self) -> None:
        await self.response.write(b": keepalive\n\n")


async def snapshots(
    request: web.Request,
    streams: Streams,
    event: str,
    produce: Callable[[], Awaitable[Any]],
    interval_s: float = 1.0,
) -> web.StreamResponse:
    """Send ``produce()`` now and again every ``interval_s`` whenever it changed."""
    async with streams.stream(request) as opened:
        if isinstance(opened, web.Response):
            return opened
        last: bytes | None = None
        quiet_s = 0.0
        with contextlib.suppress(ConnectionResetError):
            while True:
                try:
                    body = await produce()
                except web.HTTPException as exc:
                    await opened.send("error", {"status": exc.status, "msg": exc.reason})
                    break
                encoded = _json.encode(body)
                if encoded != last:
                    await opened.send(event, body)
                    last = encoded
                    quiet_s = 0.0
                elif quiet_s >= KEEPALIVE_S:
                    await opened.comment()
                    quiet_s = 0.0
                if await streams.wait(interval_s):
                    break
                quiet_s += interval_s
        return opened.response
