"""connect_bus() with the real implementation opens a WebSocket."""

from __future__ import annotations

import socket

import pytest

from promethean.client.factory import connect_bus
from promethean.errors import ConnectionLostError


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


async def test_real_client_reports_an_unreachable_broker_as_connection_lost() -> None:
    url = f"ws://127.0.0.1:{_closed_port()}/ws"
    with pytest.raises(ConnectionLostError, match="cannot reach"):
        await connect_bus(url, impl="real")


async def test_bus_url_is_used_when_no_url_is_given() -> None:
    url = f"ws://127.0.0.1:{_closed_port()}/ws"
    with pytest.raises(ConnectionLostError, match=str(url)):
        await connect_bus(environ={"BUS_URL": url})
