"""Mutated frames at a live broker and a live gateway (issue 17, item 4).

Valid frames of every kind are mutated (bytes replaced, inserted, deleted;
deep nesting, control characters, huge numbers spliced in) and sent one at
a time, each followed by a barrier request (broker ``PING``, gateway
``UNSUBSCRIBE`` of nothing) whose answer proves the connection still serves
in order. Every frame gets its answers before the barrier's, or a close
with a code (never 1006); no ``ERR internal``; no traceback in the log;
resident memory ends within 1.5x of where it started. ~10 s per service in
the default suite, 100,000 frames each with ``--soak``.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import aiohttp
import pytest

from tests.faults.support import rss_bytes
from tests.fixtures.broker import BrokerFactory
from tests.integration.gateway.support import GatewayProcess, make_token

QUICK_S: Final = 10.0
SOAK_FRAMES: Final = 100_000
RSS_GROWTH: Final = 1.5
RECV_S: Final = 10.0

BROKER_SEEDS: Final = [
    {
        "type": "PUBLISH",
        "topic": "fz.a",
        "payload": {"a": [1, 2, {"b": None}]},
        "id": "i1",
        "key": "k",
        "headers": {"h": "v"},
        "corr": 1,
    },
    {"type": "PUBLISH_BATCH", "items": [{"topic": "fz.b", "payload": 1}], "corr": 2},
    {
        "type": "SUBSCRIBE",
        "topic": "fz.a",
        "group": "g",
        "max_inflight": 5,
        "from": {"kind": "earliest"},
        "corr": 3,
    },
    {"type": "ACK", "topic": "fz.a", "group": "g", "partition": 0, "offset": 0, "corr": 4},
    {"type": "NACK", "topic": "fz.a", "group": "g", "partition": 0, "offset": 0, "reason": "r"},
    {
        "type": "MODACK",
        "topic": "fz.a",
        "group": "g",
        "partition": 0,
        "offset": 0,
        "extend_ms": 10,
        "corr": 5,
    },
    {"type": "FLOW", "credits": 3, "corr": 6},
    {"type": "UNSUBSCRIBE", "topic": "fz.a", "group": "g", "corr": 7},
    {"type": "JOIN", "group": "w", "topics": ["fz.a"], "member_id": "m", "corr": 8},
    {"type": "AUTH", "token": "t", "corr": 9},
]
GATEWAY_SEEDS: Final = [
    {
        "op": "PUBLISH",
        "topic": "fz.a",
        "payload": {"a": [1]},
        "opts": {"id": "i", "key": "k"},
        "corr": 1,
    },
    {"op": "SUBSCRIBE", "topic": "fz.a", "group": "g", "opts": {"max_inflight": 5}, "corr": 2},
    {"op": "ACK", "topic": "fz.a", "group": "g", "id": "i", "corr": 3},
    {"op": "NACK", "topic": "fz.a", "group": "g", "id": "i", "reason": "r", "corr": 4},
    {"op": "MODACK", "topic": "fz.a", "group": "g", "id": "i", "extend_ms": 5, "corr": 5},
    {"op": "UNSUBSCRIBE", "topic": "fz.a", "group": "g", "corr": 6},
]
SPLICES: Final = [
    b"[" * 1_500 + b"]" * 1_500,
    b'{"a":' * 2_000 + b"1" + b"}" * 2_000,
    b'"a\\u0000b"',
    b'"\\u001f\\n"',
    b"1" * 40,
    b"-1",
    b"null",
    b'"' + b"x" * 300 + b'"',
    b"\xff\xfe",
    b"{}",
    b"[]",
]


def mutate(rng: random.Random, seed: dict[str, Any]) -> bytes:
    data = bytearray(json.dumps(seed).encode())
    for _ in range(rng.randint(1, 3)):
        at = rng.randrange(len(data) + 1)
        kind = rng.random()
        if kind < 0.3:
            data[at:at] = rng.choice(SPLICES)
        elif kind < 0.5:
            del data[at : at + rng.randint(1, 4)]
        elif kind < 0.8:
            data[at : at + 1] = bytes([rng.randrange(256)])
        else:
            # Replace a value after a colon with a splice.
            colon = data.find(b":", at)
            if colon != -1:
                end = colon + 1
                while end < len(data) and data[end : end + 1] not in b",}":
                    end += 1
                data[colon + 1 : end] = rng.choice(SPLICES)
    return bytes(data)


@dataclass
class Tally:
    frames: int = 0
    closes: dict[int | None, int] = field(default_factory=dict)
    codes: dict[str, int] = field(default_factory=dict)


class Fuzzer:
    def __init__(self, url: str, barrier: dict[str, Any], auth: str | None) -> None:
        self.url = url
        self.barrier = barrier
        self.auth = auth
        self.tally = Tally()
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None

    async def __aenter__(self) -> Fuzzer:
        self._session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._session is not None:
            await self._session.close()

    async def _connect(self) -> aiohttp.ClientWebSocketResponse:
        assert self._session is not None
        ws = await self._session.ws_connect(self.url, timeout=aiohttp.ClientWSTimeout(ws_close=5))
        if self.auth is not None:
            await ws.send_str(json.dumps({"op": "AUTH", "token": self.auth, "corr": "auth"}))
            reply = json.loads((await ws.receive(RECV_S)).data)
            assert reply["op"] == "OK", reply
        return ws

    async def send(self, frame: bytes) -> None:
        if self._ws is None or self._ws.closed:
            self._ws = await self._connect()
        ws = self._ws
        self.tally.frames += 1
        await ws.send_bytes(frame) if not frame.isascii() else await ws.send_str(frame.decode())
        await ws.send_str(json.dumps(self.barrier))
        while True:
            msg = await ws.receive(RECV_S)
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                code = ws.close_code
                self.tally.closes[code] = self.tally.closes.get(code, 0) + 1
                assert code is not None, frame[:200]
                assert code != 1006, frame[:200]
                await ws.close()
                return
            assert msg.type is aiohttp.WSMsgType.TEXT, (msg, frame[:200])
            reply = json.loads(msg.data)
            code = reply.get("code")
            if code is not None:
                self.tally.codes[code] = self.tally.codes.get(code, 0) + 1
                assert code != "internal", (reply, frame[:300])
            if reply.get("corr") == "barrier":
                return


async def fuzz(
    fuzzer: Fuzzer, seeds: list[dict[str, Any]], pid: int, *, frames: int | None
) -> None:
    rng = random.Random(17)
    async with fuzzer:
        for _ in range(300):
            await fuzzer.send(mutate(rng, rng.choice(seeds)))
        start = rss_bytes(pid)
        deadline = time.monotonic() + QUICK_S
        while (fuzzer.tally.frames < frames) if frames else (time.monotonic() < deadline):
            await fuzzer.send(mutate(rng, rng.choice(seeds)))
    end = rss_bytes(pid)
    tally = fuzzer.tally
    print(
        f"{tally.frames} frames; RSS {start / 2**20:.1f} -> {end / 2**20:.1f} MiB;"
        f" closes {tally.closes}; errors {dict(sorted(tally.codes.items()))}"
    )
    assert end <= start * RSS_GROWTH, (start, end)


def assert_no_traceback(log_path: Path) -> None:
    text = log_path.read_text(errors="replace")
    assert "Traceback" not in text, text[-3000:]


async def _broker(broker_process: BrokerFactory, frames: int | None) -> None:
    broker = broker_process({"PROMETHEAN_LOG_LEVEL": "info"})
    barrier = {"type": "PING", "corr": "barrier"}
    await fuzz(Fuzzer(broker.url, barrier, None), BROKER_SEEDS, broker.pid, frames=frames)
    assert broker.running
    assert_no_traceback(broker.log_path)


async def _gateway(broker_process: BrokerFactory, tmp_path: Path, frames: int | None) -> None:
    gateway = GatewayProcess(broker_process(), {"PROMETHEAN_LOG_LEVEL": "info"}, tmp_path)
    gateway.start()
    try:
        assert gateway.process is not None
        barrier = {"op": "UNSUBSCRIBE", "topic": "fz.none", "group": "g", "corr": "barrier"}
        token = make_token(scopes=["publish:fz.**", "subscribe:fz.**"])
        await fuzz(
            Fuzzer(gateway.url, barrier, token), GATEWAY_SEEDS, gateway.process.pid, frames=frames
        )
        assert gateway.process.poll() is None
    finally:
        gateway.kill()
    assert_no_traceback(gateway.log_path)


async def test_fuzzed_frames_at_the_broker(broker_process: BrokerFactory) -> None:
    await _broker(broker_process, None)


async def test_fuzzed_frames_at_the_gateway(broker_process: BrokerFactory, tmp_path: Path) -> None:
    await _gateway(broker_process, tmp_path, None)


async def test_fuzzed_frames_before_auth_close_with_4401(
    broker_process: BrokerFactory, tmp_path: Path
) -> None:
    gateway = GatewayProcess(broker_process(), {}, tmp_path)
    gateway.start()
    try:
        async with aiohttp.ClientSession() as session:
            for splice in SPLICES[:2]:
                for seed in GATEWAY_SEEDS[:2]:
                    frame = json.dumps(seed).encode()[:-1] + b', "x": ' + splice + b"}"
                    async with session.ws_connect(gateway.url) as ws:
                        await ws.send_str(frame.decode())
                        reply = json.loads((await ws.receive(RECV_S)).data)
                        assert (reply["op"], reply["code"]) == ("ERR", "unauthorized"), reply
                        await ws.receive(RECV_S)
                        assert ws.close_code == 4401
    finally:
        gateway.kill()
    assert_no_traceback(gateway.log_path)


@pytest.mark.slow
@pytest.mark.timeout(1800)
async def test_soak_fuzzed_frames_at_the_broker(broker_process: BrokerFactory) -> None:
    await _broker(broker_process, SOAK_FRAMES)


@pytest.mark.slow
@pytest.mark.timeout(1800)
async def test_soak_fuzzed_frames_at_the_gateway(
    broker_process: BrokerFactory, tmp_path: Path
) -> None:
    await _gateway(broker_process, tmp_path, SOAK_FRAMES)
