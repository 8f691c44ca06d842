"""The guard that proves the mock opens no socket can itself fail."""

from __future__ import annotations

import asyncio
import socket

import pytest

from promethean.client import SubscribeOptions
from promethean.testing import (
    InMemoryBroker,
    Latency,
    MockConfig,
    SocketForbiddenError,
    SocketGuard,
    recording_subscriber,
)


def test_guard_refuses_and_records_a_socket() -> None:
    with SocketGuard() as guard, pytest.raises(SocketForbiddenError):
        socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    assert [(a.family, a.type) for a in guard.attempts] == [(socket.AF_INET, socket.SOCK_STREAM)]
    with socket.socket() as allowed:
        assert allowed.fileno() >= 0


async def test_a_full_mock_session_opens_no_socket() -> None:
    with SocketGuard() as guard:
        config = MockConfig(latency=Latency.between(1, 5), drop_rate=0.2, max_attempts=3)
        async with InMemoryBroker(config) as bus:
            options = SubscribeOptions(ack_timeout_ms=100)
            for client in (bus, bus.new_client()):
                rec = recording_subscriber(fail_when=lambda m: m.payload == 3)
                await client.subscribe("t", "g", rec, options=options)
            await asyncio.gather(*(bus.publish("t", i) for i in range(10)))
            await bus.advance(1_000)
            await bus.drain()
            await bus.disconnect_now()
            await bus.next_message("t.DLQ")
    assert guard.attempts == []


async def test_no_sockets_fixture_fails_a_test_that_opens_one(no_sockets: SocketGuard) -> None:
    with pytest.raises(SocketForbiddenError):
        socket.socket()
    assert len(no_sockets.attempts) == 1
    no_sockets.attempts.clear()  # otherwise the fixture fails this test at teardown
