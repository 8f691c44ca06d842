"""The receive side of a served WebSocket, the same for the broker and the gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator

from aiohttp import WSMsgType, web


async def received_frames(ws: web.WebSocketResponse) -> AsyncIterator[str | bytes]:
    """The data of each text or binary frame the peer sends, until it closes
    or the socket fails; control frames are aiohttp's business."""
    async for msg in ws:
        if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
            yield msg.data
        elif msg.type is WSMsgType.ERROR:
            return
