"""A real gateway process in front of a real broker, and a small client.

`GatewayProcess` starts ``python -m promethean_gateway`` on a free loopback
port, pointed at a broker started by `tests.fixtures.broker.BrokerFactory`,
and waits for ``/healthz/ready``. `GatewayClient` speaks the gateway protocol
over aiohttp, one JSON frame at a time.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.client
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import aiohttp
import jwt
import pytest

from tests.fixtures.broker import SCRUBBED_PREFIXES, BrokerProcess, http_request
from tests.fixtures.ferretdb import free_port

SECRET: Final = "gateway-test-secret-0123456789abcdef"
START_TIMEOUT_S: Final = 30.0
RECV_TIMEOUT_S: Final = 10.0


def make_token(
    *,
    scopes: list[str] | str | None = None,
    policy: dict[str, Any] | None = None,
    secret: str = SECRET,
    exp_in: float = 3600,
    algorithm: str = "HS256",
    headers: dict[str, Any] | None = None,
    **claims: Any,
) -> str:
    body: dict[str, Any] = {"sub": "tester", "exp": int(time.time() + exp_in), **claims}
    if scopes is not None:
        body["scopes"] = scopes
    if policy is not None:
        body["policy"] = policy
    return jwt.encode(body, secret, algorithm=algorithm, headers=headers)


ALL_SCOPES: Final = ["publish:**", "subscribe:**"]


class GatewayProcess:
    def __init__(self, broker: BrokerProcess, env: Mapping[str, str], log_dir: Path) -> None:
        self.broker = broker
        # A long heartbeat keeps the gateway's own heartbeat events out of the
        # store counts the security tests compare; a test may set its own.
        self.env = {"PROMETHEAN_HEARTBEAT_MS": "60000", **env}
        self.log_dir = log_dir
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def log_path(self) -> Path:
        return self.log_dir / f"gateway-{self.port}.log"

    def log_tail(self, lines: int = 60) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no log)"

    def start(self) -> None:
        env = {k: v for k, v in os.environ.items() if not k.startswith(SCRUBBED_PREFIXES)}
        env.update(
            {
                "WS_PORT": str(self.port),
                "BUS_URL": self.broker.url,
                "PROMETHEAN_HOST": "127.0.0.1",
                "JWT_SECRET": SECRET,
                "PROMETHEAN_LOG_LEVEL": "warning",
                "PROMETHEAN_DRAIN_MS": "3000",
            }
        )
        env.update(self.env)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "promethean_gateway"],
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"gateway exited with {self.process.returncode}:\n{self.log_tail()}")
            with contextlib.suppress(OSError, http.client.HTTPException):
                status, _ = self.get("/healthz/ready")
                if status == 200:
                    return
            time.sleep(0.05)
        self.kill()
        pytest.fail(f"gateway not ready within {START_TIMEOUT_S}s:\n{self.log_tail()}")

    def get(self, path: str) -> tuple[int, Any]:
        return http_request(self.port, "GET", path, timeout=5.0)

    def post(
        self, path: str, body: bytes, headers: Mapping[str, str] | None = None
    ) -> tuple[int, Any]:
        return http_request(self.port, "POST", path, body=body, headers=headers, timeout=15.0)

    def metric(self, name: str, labels: str = "") -> float:
        """The value of one sample of ``/metrics`` (0 when absent)."""
        status, text = self.get("/metrics")
        assert status == 200
        wanted = f"{name}{{{labels}}}" if labels else name
        for line in str(text).splitlines():
            if line.startswith(wanted + " "):
                return float(line.split()[-1])
        return 0.0

    def kill(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def terminate(self) -> int:
        assert self.process is not None
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=15)


def broker_event_count(broker: BrokerProcess) -> int:
    """Events in the broker's store, from ``GET /stats``."""
    status, body = broker.get("/stats")
    assert status == 200, body
    return int(body["store"]["events"])


class GatewayClient:
    """One WebSocket to the gateway."""

    def __init__(self, session: aiohttp.ClientSession, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.session = session
        self.ws = ws
        self.events: list[dict[str, Any]] = []
        self.replies: list[dict[str, Any]] = []

    @classmethod
    async def open(cls, url: str) -> GatewayClient:
        session = aiohttp.ClientSession()
        try:
            ws = await session.ws_connect(url, max_msg_size=0)
        except BaseException:
            await session.close()
            raise
        return cls(session, ws)

    async def close(self) -> None:
        await self.ws.close()
        await self.session.close()

    async def send(self, frame: dict[str, Any] | str | bytes) -> None:
        if isinstance(frame, dict):
            await self.ws.send_str(json.dumps(frame))
        elif isinstance(frame, bytes):
            await self.ws.send_bytes(frame)
        else:
            await self.ws.send_str(frame)

    async def recv(self, wait_s: float = RECV_TIMEOUT_S) -> dict[str, Any]:
        msg = await self.ws.receive(timeout=wait_s)
        if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            raise ConnectionError(f"closed: {msg.type} {msg.data} {msg.extra}")
        frame: dict[str, Any] = json.loads(msg.data)
        return frame

    async def reply(self, wait_s: float = RECV_TIMEOUT_S) -> dict[str, Any]:
        """The next frame that is not an EVENT (EVENTs are kept in `events`)."""
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            frame = await self.recv(max(0.01, deadline - asyncio.get_running_loop().time()))
            if frame.get("op") == "EVENT":
                self.events.append(frame)
                continue
            return frame

    async def event(self, wait_s: float = RECV_TIMEOUT_S) -> dict[str, Any]:
        if self.events:
            return self.events.pop(0)
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            frame = await self.recv(max(0.01, deadline - asyncio.get_running_loop().time()))
            if frame.get("op") == "EVENT":
                return frame
            self.replies.append(frame)

    async def request(self, frame: dict[str, Any]) -> dict[str, Any]:
        await self.send(frame)
        return await self.reply()

    async def auth(self, token: str) -> dict[str, Any]:
        return await self.request({"op": "AUTH", "token": token, "corr": "auth"})

    async def closed_with(self, wait_s: float = RECV_TIMEOUT_S) -> int | None:
        """Read until the server closes; the close code."""
        deadline = asyncio.get_running_loop().time() + wait_s
        while True:
            msg = await self.ws.receive(
                timeout=max(0.01, deadline - asyncio.get_running_loop().time())
            )
            if msg.type in (
                aiohttp.WSMsgType.CLOSE,
                aiohttp.WSMsgType.CLOSED,
                aiohttp.WSMsgType.CLOSING,
            ):
                return self.ws.close_code
            if msg.type is aiohttp.WSMsgType.ERROR:
                return self.ws.close_code


async def authed_client(gateway: GatewayProcess, token: str | None = None) -> GatewayClient:
    client = await GatewayClient.open(gateway.url)
    reply = await client.auth(token or make_token(scopes=ALL_SCOPES))
    assert reply == {"op": "OK", "corr": "auth"}, reply
    return client
