"""A small client of the broker's admin HTTP API (``/topics``, ``/groups``),
shared by the ``promethean topics`` and ``groups`` commands and the compactor.

The admin API listens on the same port as the WebSocket endpoint, so the
base URL is derived from ``BUS_URL`` (``ws://h:p/ws`` → ``http://h:p``)
unless an ``http(s)://`` URL is given.
"""

from __future__ import annotations

from typing import Any, Final
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

import aiohttp
import msgspec

from promethean.errors import PrometheanError

HTTP_SCHEME: Final = {"ws": "http", "wss": "https", "http": "http", "https": "https"}
TIMEOUT_S: Final = 30.0


class AdminError(PrometheanError):
    """The broker refused an admin request (status and its error body)."""

    def __init__(self, status: int, body: str) -> None:
        super().__init__(f"broker answered {status}: {body}")
        self.status = status


def admin_base_url(url: str) -> str:
    """``ws://host:port/ws`` or ``http://host:port/...`` → ``http://host:port``."""
    parts = urlsplit(url)
    scheme = HTTP_SCHEME.get(parts.scheme.lower())
    if scheme is None or not parts.netloc:
        raise ValueError(f"not a broker URL: {url!r}")
    return urlunsplit((scheme, parts.netloc, "", "", ""))


class BrokerAdmin:
    def __init__(self, base_url: str, token: str | None) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}

    async def _call(self, method: str, path: str, body: Any = None) -> Any:
        timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
        data = None if body is None else msgspec.json.encode(body)
        headers = dict(self._headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            session.request(method, self.base_url + path, data=data, headers=headers) as reply,
        ):
            text = await reply.text()
            if reply.status >= 400:
                raise AdminError(reply.status, text)
            return msgspec.json.decode(text)

    async def put_topic(self, config: dict[str, Any]) -> dict[str, Any]:
        """``POST /topics``: create, or update the given fields; the stored config."""
        result: dict[str, Any] = await self._call("POST", "/topics", config)
        return result

    async def list_topics(self) -> list[dict[str, Any]]:
        result = await self._call("GET", "/topics")
        topics: list[dict[str, Any]] = result["topics"]
        return topics

    async def reset_offsets(self, group: str, body: dict[str, Any]) -> dict[str, Any]:
        """``POST /groups/{group}/reset-offsets``; the new committed offsets."""
        result: dict[str, Any] = await self._call(
            "POST", f"/groups/{quote(group, safe='')}/reset-offsets", body
        )
        return result

    async def delete_group(self, group: str, topic: str) -> dict[str, Any]:
        query = urlencode({"topic": topic})
        result: dict[str, Any] = await self._call(
            "DELETE", f"/groups/{quote(group, safe='')}?{query}"
        )
        return result

    async def delete_topic(self, topic: str, *, dlq: bool) -> dict[str, Any]:
        query = urlencode({"dlq": "true" if dlq else "false"})
        result: dict[str, Any] = await self._call(
            "DELETE", f"/topics/{quote(topic, safe='')}?{query}"
        )
        return result
