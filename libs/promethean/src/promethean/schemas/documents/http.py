"""The ``GET /openapi.json`` route of a service whose document is fixed."""

from __future__ import annotations

from importlib.metadata import version
from typing import Any

import msgspec
from aiohttp import web

from promethean.schemas.documents.openapi import gateway_openapi


def openapi_route(document: dict[str, Any]) -> web.RouteDef:
    body = msgspec.json.encode(document)

    async def openapi(request: web.Request) -> web.Response:
        return web.Response(body=body, content_type="application/json")

    return web.get("/openapi.json", openapi)


def gateway_openapi_route() -> web.RouteDef:
    """The gateway's OpenAPI 3.1 document (publish, health, metrics)."""
    return openapi_route(gateway_openapi(version("promethean")))
