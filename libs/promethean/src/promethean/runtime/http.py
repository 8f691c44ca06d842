"""JSON answers in the one shape every service and API uses: a JSON body,
and refusals as ``{"error": {"code", "msg", ...}}``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import msgspec
from aiohttp import web

_json = msgspec.json.Encoder()


def json_response(body: Any, status: int = 200) -> web.Response:
    return web.Response(body=_json.encode(body), status=status, content_type="application/json")


def error_response(status: int, code: str, msg: str, **extra: Any) -> web.Response:
    return json_response({"error": {"code": code, "msg": msg, **extra}}, status)


def aborter(request: web.Request) -> Callable[[], None]:
    """Drops ``request``'s connection at once, unsent data and all (a client
    that stopped reading must not hold its buffers)."""

    def abort() -> None:
        transport = request.transport
        if transport is not None:
            transport.abort()

    return abort
