"""The gateway's links to the broker.

Publishes from every client (WebSocket and HTTP) go through **one shared**
`WebSocketBusClient` per gateway process, which batches them into
``PUBLISH_BATCH`` frames. Subscriptions do not: each client connection that
subscribes gets **its own** broker connection (a "link"), opened on its first
SUBSCRIBE and closed when the client leaves, so the broker releases that
client's in-flight events to the group the moment it disconnects, and two
clients of one group stay two group members (docs/decisions.md).
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Final

import aiohttp
import msgspec

from promethean.client import ClientConfig, Published, WebSocketBusClient, new_session
from promethean.errors import ConnectionLostError, PrometheanError
from promethean.runtime.health import JobTimer
from promethean_gateway.metrics import GatewayMetrics
from promethean_gateway.settings import GatewaySettings

log = logging.getLogger("promethean.gateway.relay")

RECONNECT_MIN_S: Final = 0.1
RECONNECT_MAX_S: Final = 2.0
LINK_STOP_GRACE_S: Final = 0.5
CLOSE_TIMEOUT_S: Final = 2.0


class BrokerRelay:
    def __init__(self, settings: GatewaySettings, metrics: GatewayMetrics) -> None:
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
        self._client: WebSocketBusClient | None = None
        self._link_session: aiohttp.ClientSession | None = None
        """One HTTP session (and connector) for every subscriber's link."""
        self._connecting: asyncio.Task[None] | None = None
        self.pending = 0
        self.links = 0
        self.publish_timer = JobTimer()

    @property
    def connected(self) -> bool:
        return self._client is not None and self._client.connected

    @property
    def overloaded(self) -> bool:
        return self.pending >= self.max_pending

    def start(self) -> None:
        """Connect in the background until the broker answers; the SDK then
        keeps the connection up. Called again if the client gave up."""
        if self._connecting is None or self._connecting.done():
            self._connecting = asyncio.create_task(self._connect(), name="relay-connect")

    def ensure(self) -> None:
        if self._client is not None and self._client.closed:
            self._client = None
        if self._client is None:
            self.start()

    async def _connect(self) -> None:
        delay = RECONNECT_MIN_S
        while True:
            client = WebSocketBusClient(self.url, self._config)
            try:
                await client.connect()
            except PrometheanError as exc:
                log.warning(
                    "cannot reach the broker; retrying",
                    extra={"url": self.url, "error": str(exc), "retry_in_s": delay},
                )
                await asyncio.sleep(delay)
                delay = min(RECONNECT_MAX_S, delay * 2)
                continue
            self._client = client
            log.info("connected to the broker", extra={"url": self.url})
            return

    async def publish(
        self,
        topic: str,
        payload: msgspec.Raw,
        *,
        key: str | None,
        headers: dict[str, str] | None,
        id: str | None,
    ) -> Published:
        client = self._client
        if client is None or not client.connected:
            raise ConnectionLostError("the gateway is not connected to the broker")
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
        await self._close_client(link)

    @staticmethod
    async def _close_client(client: WebSocketBusClient) -> None:
        """Close within a bound: a broker that already went away never
        answers the close handshake."""
        try:
            await asyncio.wait_for(client.close(), CLOSE_TIMEOUT_S)
        except TimeoutError:
            log.warning("closing a broker connection timed out")

    async def close(self) -> None:
        if self._connecting is not None:
            self._connecting.cancel()
            await asyncio.gather(self._connecting, return_exceptions=True)
        if self._client is not None:
            await self._close_client(self._client)
        if self._link_session is not None:
            await self._link_session.close()
