"""`BoundedSender` reports a peer that takes nothing: a frame waiting on
the socket for the stall limit calls ``on_stall`` once; a peer that keeps
taking frames, however slowly, never does."""

from __future__ import annotations

import asyncio
from typing import Any

from promethean.runtime.ws_sender import BoundedSender


class Socket:
    """Stands in for the WebSocket: ``send_frame`` waits for ``gate``."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.sent: list[bytes] = []
        self.closed = False

    async def send_frame(self, frame: bytes, _kind: Any) -> None:
        await self.gate.wait()
        self.sent.append(frame)


async def test_a_blocked_send_calls_on_stall_once() -> None:
    socket, stalls = Socket(), []
    sender = BoundedSender(socket, 1024, stall_s=0.2, on_stall=lambda: stalls.append(1))  # type: ignore[arg-type]
    assert sender.offer(b"a")
    await asyncio.sleep(0.5)
    assert stalls == [1]
    assert sender.stalled
    await sender.close()


async def test_a_slow_but_reading_peer_is_not_stalled() -> None:
    socket, stalls = Socket(), []
    sender = BoundedSender(socket, 1024, stall_s=0.2, on_stall=lambda: stalls.append(1))  # type: ignore[arg-type]
    for i in range(6):
        assert sender.offer(b"f%d" % i)
        await asyncio.sleep(0.1)
        socket.gate.set()
        await asyncio.sleep(0)
        socket.gate.clear()
    socket.gate.set()
    await asyncio.wait_for(sender.flush(), 1)
    await asyncio.sleep(0.3)
    assert stalls == []
    assert len(socket.sent) == 6
    await sender.close()
