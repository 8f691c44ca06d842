"""The gateway's links to the broker.

Publishes from every client (WebSocket and HTTP) go through **one shared**
`BrokerLink` per gateway process, whose client batches them into
``PUBLISH_BATCH`` frames; the link keeps the ``broker`` readiness.
Subscribing clients share a small `LinkPool` of other broker connections
(at most ``PROMETHEAN_GATEWAY_BROKER_LINKS``): clients of the same topic,
group and options draw from one broker subscription, and a client that
leaves gives what it held back to the group at once (docs/decisions.md).
"""

from __future__ import annotations

import time
from typing import Final

import msgspec

from promethean.client import ClientConfig, Published
from promethean.errors import ConnectionLostError
from promethean.runtime.broker_link import BrokerLink, LinkHealth, Refusal
from promethean.runtime.health import JobTimer
from promethean_gateway.link_pool import LinkPool
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
        self.subscriptions = LinkPool(
            self.url,
            self._config,
            size=settings.broker_links,
            broker_max_inflight=settings.max_inflight,
            metrics=metrics,
        )
        """The links of subscribing clients."""
        self.pending = 0
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

    async def close(self) -> None:
        await self._link.close()
        await self.subscriptions.close()
