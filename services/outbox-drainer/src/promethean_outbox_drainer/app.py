"""The drainer application: ``create_app(settings)`` wires store → broker
link → drain loop, housekeeping, heartbeat and watchdog → routes, and
tears them down in reverse.

The HTTP server answers at once: ``/healthz/ready`` stays 503 until the
broker is connected and the store answers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Final

from aiohttp import web

from promethean.client import ClientConfig
from promethean.clock import SystemClock
from promethean.runtime.assembly import ServiceSpec, service_app
from promethean.runtime.broker_link import BrokerLink, LinkHealth
from promethean.runtime.exit_codes import EXIT_FAILED
from promethean.runtime.kit import service_kit
from promethean.store import open_store
from promethean.store.port import Store
from promethean_outbox_drainer.housekeeping import Housekeeping
from promethean_outbox_drainer.loop import PassLoop
from promethean_outbox_drainer.metrics import DrainerMetrics
from promethean_outbox_drainer.notify import Notifier, choose_notifier
from promethean_outbox_drainer.passes import OutboxPass
from promethean_outbox_drainer.settings import DrainerSettings

log = logging.getLogger("promethean.outbox_drainer")

PUBLISH_TIMEOUT_SHARE: Final = 0.8
"""A publish gives up (the row waits for the broker) before its lease lapses."""


class DrainerRuntime:
    """Everything the drainer holds while it runs."""

    def __init__(self, settings: DrainerSettings, store: Store | None = None) -> None:
        self.settings = settings
        common = settings.common
        self.clock = SystemClock()
        self.store = store or open_store(settings.store_url)
        self.kit = service_kit(common, depends_on="broker", drain=self.drain)
        self.metrics = DrainerMetrics(self.kit.registry)
        token = common.broker_token.reveal() if common.broker_token is not None else None
        publish_timeout_s = max(1.0, settings.lease_ms * PUBLISH_TIMEOUT_SHARE / 1000)
        self.link = BrokerLink(
            settings.bus_url,
            ClientConfig(token=token, publish_timeout_s=publish_timeout_s),
            health=LinkHealth(
                self.kit.dependency,
                self.kit.readiness,
                self.kit.progress,
                common.disconnect_kill_ms,
            ),
        )
        self.housekeeping = Housekeeping(
            self.store, self.metrics, self.clock, self.kit.readiness, settings.retention_ms
        )
        self.notifier: Notifier | None = None
        self.loop: PassLoop | None = None
        self._main: asyncio.Task[None] | None = None

    async def start(self) -> None:
        await self.store.open()
        self.notifier = choose_notifier(self.store)
        log.info(
            f"outbox drainer {self.settings.drainer_id}: "
            + self.notifier.describe(self.settings.poll_ms),
            extra={"mode": self.notifier.mode, "store": self.store.url},
        )
        await self.notifier.start()
        self.kit.start_watchdog()
        self.kit.tasks.spawn(self.link.follow(), "broker-link")
        self.kit.tasks.spawn(self.housekeeping.run(), "housekeeping")
        self._main = self.kit.tasks.spawn(self._drain(self.notifier), "drain")

    async def _drain(self, notifier: Notifier) -> None:
        try:
            await self._connect_and_drain(notifier)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("the drain loop failed; stopping")
            self.kit.stop(EXIT_FAILED)

    async def _connect_and_drain(self, notifier: Notifier) -> None:
        bus = await self.link.connect()
        drainer = OutboxPass(self.store, bus, self.settings.pass_config(), self.clock, self.metrics)
        self.loop = PassLoop(
            drainer,
            notifier,
            lambda: self.link.connected,
            poll_ms=self.settings.poll_ms,
            progress=self.kit.progress,
            readiness=self.kit.readiness,
            timer=self.kit.timer,
        )
        heartbeat = self.kit.heartbeat(
            bus,
            lambda: self.kit.heartbeat_stats(
                connected=self.link.connected,
                queue=self.housekeeping.pending,
                inflight=drainer.inflight,
            ),
            self.clock.now_ms,
        )
        self.kit.tasks.spawn(heartbeat.run(), "heartbeat")
        await self.loop.run()

    async def drain(self) -> None:
        """SIGTERM: finish the pass under way (publish and mark), claim no more."""
        self.kit.pause_watchdog()
        if self.loop is not None:
            self.loop.stop()
        main = self._main
        if main is None:
            return
        if self.loop is None:
            main.cancel()  # still connecting: nothing claimed yet
        with contextlib.suppress(asyncio.CancelledError):
            await main

    async def close(self) -> None:
        self.kit.readiness.fail("drain", "shutting down")
        await self.kit.tasks.cancel()
        if self.notifier is not None:
            await self.notifier.close()
        await self.link.close()
        await self.store.close()


RUNTIME_KEY: Final = web.AppKey("runtime", DrainerRuntime)


def create_app(settings: DrainerSettings, store: Store | None = None) -> web.Application:
    return service_app(DrainerRuntime(settings, store), RUNTIME_KEY)


SERVICE_SPEC: Final = ServiceSpec(DrainerSettings, create_app)
