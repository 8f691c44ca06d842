"""The gateway's links to the broker.

Publishes from every client (WebSocket and HTTP) go through **one shared**
`BrokerLink` per gateway process, whose client batches them into
``PUBLISH_BATCH`` frames; the link keeps the ``broker`` readiness.
Subscriptions do not: each client connection that subscribes gets **its
own** broker connection (a "link"), opened on its first SUBSCRIBE and
closed when the client leaves, so the broker releases that
client's in-flight events to the group the moment it disconnects, and two
clients of one group stay two group members (docs/decisions.md).
"""

from __future__ import annotations

import time
from typing import Final

import aiohttp
import msgspec

from promethean.client import ClientConfig, Published, WebSocketBusClient, new_session
from promethean.errors import ConnectionLostError
from promethean.runtime.broker_link import BrokerLink, LinkHealth, Refusal, close_within
from promethean.runtime.health import JobTimer
from promethean_gateway.metrics import GatewayMetrics
from promethean_gateway.settings import GatewaySettings

RECONNECT_MAX_S: Final = 2.0
LINK_STOP_GRACE_S: Final = 0.5
NOT_CONNECTED: Final = "the gateway is not connected to the broker"


class BrokerRelay:
    def __init__(
        self, settings: GatewaySettings, metrics: GatewayMetrics, health: LinkHealth
    ) -> None:
        """``health``: the ``broker`` dependency and readiness condition the
        shared link keeps up to date."""
        token = settings.common.broker_token
        self.url = settings.bus_url
        self.max_pending = settings.max_pending_publishes
        self._metrics = metrics
        self._config = ClientConfig(
            token=token.reveal() if token is not None else None,
            publish_timeout_s=settings.publish_timeout_ms / 1000,
            request_timeout_s=min(10.0, settings.publish_timeout_ms / 1000),
            max_pending_publishes=settings.max_pending_publishes,
            reconnect_max_s=RECONNECT_MAX_S,
            stop_grace_s=LINK_STOP_GRACE_S,
            max_frame_bytes=max(settings.max_frame_bytes, 1024 * 1024),
        )
        self._link = BrokerLink(self.url, self._config, health=health, refusal=Refusal.RETRY)
        """The shared publishing connection, replaced if the broker refuses it."""
        self._link_session: aiohttp.ClientSession | None = None
        """One HTTP session (and connector) for every subscriber's link."""
        self.pending = 0
        self.links = 0
        self.publish_timer = JobTimer()

    @property
    def connected(self) -> bool:
        return self._link.connected

    @property
    def overloaded(self) -> bool:
        return self.pending >= self.max_pending

    def start(self) -> None:
        """Connect in the background until the broker answers, then follow
        the connection (the SDK keeps it up)."""
        self._link.start()

    async def publish(
        self,
        topic: str,
        payload: msgspec.Raw,
        *,
        key: str | None,
        headers: dict[str, str] | None,
        id: str | None,
    ) -> Published:
        if not self._link.connected:
            raise ConnectionLostError(NOT_CONNECTED)
        client = self._link.client
        self.pending += 1
        self._metrics.pending_publishes.inc()
        started = time.perf_counter()
        try:
            return await client.publish(topic, payload, key=key, headers=headers, id=id)
        finally:
            self.publish_timer.observe((time.perf_counter() - started) * 1000)
            self.pending -= 1
            self._metrics.pending_publishes.dec()

    async def open_link(self) -> WebSocketBusClient:
        """A broker connection of its own for one subscribing client."""
        if self._link_session is None or self._link_session.closed:
            self._link_session = new_session(self._config, connection_limit=0)
        link = WebSocketBusClient(self.url, self._config, session=self._link_session)
        await link.connect()
        self.links += 1
        self._metrics.broker_links.inc()
        return link

    async def close_link(self, link: WebSocketBusClient) -> None:
        self.links -= 1
        self._metrics.broker_links.dec()
        await close_within(link)

    async def close(self) -> None:
        await self._link.close()
        if self._link_session is not None:
            await self._link_session.close()
