"""Releasing what a server-side WebSocket holds once its connection ends.

aiohttp (3.14) cancels a WebSocket's heartbeat timer when it closes, but a
close started by the server then reads the peer's CLOSE reply, and that
read re-arms the timer. The armed timer holds the response, its request,
the protocol and the transport for the heartbeat interval and beyond (the
late ping fails and schedules a pong check): ~10 KiB per refused or
aborted connection, which is how 1,500 refused connections held ~15 MiB.
A handler that is done with its WebSocket calls `release_websocket`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import cast

from aiohttp import web


def release_websocket(ws: web.WebSocketResponse) -> None:
    """Cancel the heartbeat (and its pending reset and ping) of a WebSocket
    whose handler is finishing; harmless when none is armed."""
    cancel = getattr(ws, "_cancel_heartbeat", None)
    if callable(cancel):
        cast(Callable[[], None], cancel)()
    cancel_pong = getattr(ws, "_cancel_pong_response_cb", None)
    if callable(cancel_pong):
        cast(Callable[[], None], cancel_pong)()
