"""The drainer's link to the broker: connect (retrying until the watchdog
gives up), then follow the client's own reconnects into health state."""

from __future__ import annotations

import asyncio
import logging
from typing import Final

from promethean.client import ClientConfig, WebSocketBusClient
from promethean.errors import ConnectionLostError
from promethean.runtime.health import Dependency, Progress, Readiness

log = logging.getLogger("promethean.outbox_drainer")

RETRY_BASE_S: Final = 0.2
RETRY_MAX_S: Final = 5.0
MONITOR_EVERY_S: Final = 0.25
NOT_CONNECTED: Final = "broker not connected"


class BrokerLink:
    def __init__(
        self,
        url: str,
        config: ClientConfig,
        dependency: Dependency,
        readiness: Readiness,
        progress: Progress,
        disconnect_kill_ms: int,
    ) -> None:
        self.url = url
        self.config = config
        self.dependency = dependency
        self.readiness = readiness
        self.progress = progress
        self.disconnect_kill_ms = disconnect_kill_ms
        self.client: WebSocketBusClient | None = None
        readiness.fail("broker", NOT_CONNECTED)

    @property
    def connected(self) -> bool:
        return self.client is not None and self.client.connected

    async def connect(self) -> WebSocketBusClient:
        """The first connection, retried with backoff; the client repairs
        later losses itself. Liveness stays green while waiting: the watchdog
        judges a missing broker by PROMETHEAN_DISCONNECT_KILL_MS instead."""
        delay = RETRY_BASE_S
        attempt = 0
        while True:
            attempt += 1
            client = WebSocketBusClient(self.url, self.config)
            try:
                await client.connect()
            except ConnectionLostError as error:
                left_ms = max(0, self.disconnect_kill_ms - self.dependency.down_for_ms)
                log.warning(
                    "broker unreachable; retrying",
                    extra={
                        "url": self.url,
                        "attempt": attempt,
                        "retry_in_s": delay,
                        "exit_in_ms": left_ms,
                        "error": str(error),
                    },
                )
                self.progress.tick()
                await asyncio.sleep(delay)
                delay = min(RETRY_MAX_S, delay * 2)
                continue
            self.client = client
            self._observe()
            log.info("connected to the broker", extra={"url": self.url, "attempt": attempt})
            return client

    def _observe(self) -> None:
        if self.connected:
            self.dependency.up()
            self.readiness.clear("broker")
        else:
            self.dependency.down()
            self.readiness.fail("broker", NOT_CONNECTED)

    async def monitor(self) -> None:
        while True:
            self._observe()
            await asyncio.sleep(MONITOR_EVERY_S)

    async def close(self) -> None:
        client, self.client = self.client, None
        if client is not None:
            await client.close()
