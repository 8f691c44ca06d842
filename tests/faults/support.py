"""Helpers for the fault tests: resident memory of a process, many short
refused WebSocket connections, and a client that never reads."""

from __future__ import annotations

import asyncio
import base64
import json
import os
import socket
import struct

import aiohttp

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


class StalledSocket:
    """A WebSocket client that sends and then never reads: a tiny receive
    buffer, the upgrade done by hand, masked text frames (RFC 6455)."""

    def __init__(self, port: int) -> None:
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        key = base64.b64encode(os.urandom(16))
        self.sock.sendall(
            b"GET /ws HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\n"
            b"Connection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Key: " + key + b"\r\n\r\n"
        )
        head = b""
        while b"\r\n\r\n" not in head:
            chunk = self.sock.recv(1)
            if not chunk:
                raise ConnectionError("closed during the upgrade")
            head += chunk
        if not head.startswith(b"HTTP/1.1 101"):
            raise ConnectionError(head.decode(errors="replace"))

    def send(self, frame: dict[str, object]) -> None:
        payload = json.dumps(frame).encode()
        mask = os.urandom(4)
        size = len(payload)
        if size < 126:
            header = struct.pack("!BB", 0x81, 0x80 | size)
        elif size < 65536:
            header = struct.pack("!BBH", 0x81, 0x80 | 126, size)
        else:
            header = struct.pack("!BBQ", 0x81, 0x80 | 127, size)
        masked = bytes(b ^ mask[i % 4] for i, b in enumerate(payload))
        self.sock.sendall(header + mask + masked)

    def close(self) -> None:
        self.sock.close()
