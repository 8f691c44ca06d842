"""Frames queued together leave in one transport write, as the same bytes
aiohttp would send one by one, and arrive as separate messages in order."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from aiohttp.http_websocket import WebSocketWriter, WSMsgType
from aiohttp.test_utils import TestServer

from promethean.runtime.ws_sender import BoundedSender, text_frame


class Transport:
    """Records writes, as an asyncio transport would take them."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.writes.append(bytes(data))

    def is_closing(self) -> bool:
        return False


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 70_000])
async def test_text_frame_matches_aiohttps_own_frame(size: int) -> None:
    transport = Transport()
    writer = WebSocketWriter(object(), transport)  # type: ignore[arg-type]
    payload = b"x" * size
    await writer.send_frame(payload, WSMsgType.TEXT)
    assert b"".join(transport.writes) == text_frame(payload)


class CountingTransport:
    """Wraps a real transport and counts its writes."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.writes = 0

    def write(self, data: bytes) -> None:
        self.writes += 1
        self.inner.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def test_queued_frames_arrive_in_order_as_separate_messages() -> None:
    done = asyncio.Event()
    writes_to_flush: list[int] = []

    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        writer: Any = ws._writer
        transport = writer.transport = CountingTransport(writer.transport)
        sender = BoundedSender(ws, 1 << 20)
        for n in range(50):
            assert sender.offer(f'{{"n":{n}}}'.encode())
        await sender.flush()
        writes_to_flush.append(transport.writes)
        await done.wait()
        await sender.close()
        return ws

    app = web.Application()
    app.router.add_get("/", handler)
    async with (
        TestServer(app) as server,
        aiohttp.ClientSession() as session,
        session.ws_connect(server.make_url("/")) as client,
    ):
        received = [await client.receive_str() for _ in range(50)]
        done.set()
    assert received == [f'{{"n":{n}}}' for n in range(50)]
    assert writes_to_flush == [1]
