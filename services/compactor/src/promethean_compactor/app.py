"""The compactor application: ``create_app(settings)`` opens the store, then
runs three loops while it lives: the lease (leader or standby), the passes
(leader only) and the bus link (snapshots, heartbeats); `drain` stops them
and gives the lease up so a standby takes over at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from typing import Final

from aiohttp import web

from promethean.client.admin import AdminClient
from promethean.client.port import BusClient
from promethean.client.ws import ClientConfig
from promethean.clock import SystemClock
from promethean.errors import PrometheanError, StoreUnavailableError
from promethean.runtime.assembly import ServiceSpec, service_app
from promethean.runtime.broker_link import BrokerLink, Refusal
from promethean.runtime.heartbeat import HeartbeatStats
from promethean.runtime.kit import service_kit
from promethean.runtime.leadership import Leadership, LeadershipLostError, Role
from promethean.store import open_store
from promethean.store.port import Store
from promethean.store.records import TopicConfig
from promethean_compactor.metrics import CompactorMetrics
from promethean_compactor.passes import PassOptions, TopicPasses
from promethean_compactor.settings import CompactorSettings
from promethean_compactor.sink import BusSink
from promethean_compactor.snapshots import Snapshots

log = logging.getLogger("promethean.compactor")

LEASE_NAME = "compactor"
"""The store lease of the one compactor that runs passes."""


class CompactorRuntime:
    def __init__(self, settings: CompactorSettings, store: Store | None = None) -> None:
        self.settings = settings
        self.clock = SystemClock()
        self.store = store or open_store(settings.store_url)
        self.kit = service_kit(
            settings.common,
            depends_on="store",
            drain=self.drain,
            detail=f"compactor {settings.compactor_id} using store {self.store.url}",
        )
        self.metrics = CompactorMetrics(self.kit.registry)
        # A standby is Ready too (ARCHITECTURE.md, Health): readiness follows the store only.
        self.kit.readiness.fail("store", "the store is not open yet")
        self.leadership = Leadership(
            self.store,
            LEASE_NAME,
            settings.compactor_id,
            settings.lease_ttl_ms,
            self.clock.now_ms,
            on_change=self._role_changed,
            call_timeout_s=settings.lease_ttl_ms / 1000,
        )
        self.leading = asyncio.Event()
        self.passes = TopicPasses(
            self.store,
            PassOptions(settings.batch_events, settings.tombstone_retention_ms),
            self.clock.now_ms,
            confirm=self.leadership.confirm,
            metrics=self.metrics,
        )
        token = settings.common.broker_token
        self.sink = BusSink(AdminClient(settings.bus_url, token.reveal() if token else None))
        self.bus_link = self._broker_link()
        self.snapshots = Snapshots(
            self.store,
            self.sink,
            self.clock.now_ms,
            chunk_bytes=settings.snapshot_chunk_bytes,
            confirm=self.leadership.confirm,
        )
        self.passing = False

    def _role_changed(self, role: Role) -> None:
        self.passes.forget()
        if role is Role.LEADER:
            self.leading.set()
            self.metrics.leader.set(1)
            self.metrics.lease_token.set(self.leadership.token)
        else:
            self.leading.clear()
            self.metrics.leader.set(0)
            self.metrics.lease_token.set(0)

    async def start(self) -> None:
        await self.store.open()
        self.kit.dependency.up()
        self.kit.tasks.spawn(self._lease_loop(), "compactor-lease")
        self.kit.tasks.spawn(self._pass_loop(), "compactor-passes")
        self.kit.tasks.spawn(self._bus_loop(), "compactor-bus")
        self.kit.start_watchdog()

    async def drain(self) -> None:
        """Stop the loops, then hand the lease over instead of letting it lapse."""
        self.kit.pause_watchdog()
        await self.kit.tasks.cancel()
        with contextlib.suppress(PrometheanError):
            await self.leadership.release()
        self.sink.bus = None
        await self.bus_link.close()  # bounded: the broker may be draining too

    async def close(self) -> None:
        await self.drain()
        await self.store.close()

    async def _lease_loop(self) -> None:
        while True:
            try:
                await self.leadership.step()
                self.kit.dependency.up()
                self.kit.readiness.clear("store")
            except StoreUnavailableError as exc:
                self.kit.dependency.down()
                self.kit.readiness.fail("store", f"store unreachable: {exc}")
                log.warning("store unreachable", extra={"error": str(exc)})
            self.kit.progress.tick()
            await asyncio.sleep(self.settings.renew_every_ms / 1000)

    async def _pass_loop(self) -> None:
        while True:
            await self.leading.wait()
            result = await self.run_pass()
            self.metrics.passes.labels(result).inc()
            await asyncio.sleep(self.settings.interval_ms / 1000)

    async def run_pass(self) -> str:
        """One pass over every topic; its result label."""
        started = time.monotonic()
        self.passing = True
        try:
            for config in await self.store.list_topics():
                report = await self.passes.run(config)
                if report.removed or report.skipped:
                    log.info(
                        "topic cleaned",
                        extra={
                            "topic": report.topic,
                            "scanned": report.scanned,
                            "compacted": report.compacted,
                            "tombstones": report.tombstones,
                            "retention": report.retained,
                            "skipped": report.skipped,
                        },
                    )
                await self._snapshot(config)
                self.kit.progress.tick()
        except LeadershipLostError:
            log.warning("pass interrupted: leadership lost")
            return "interrupted"
        except StoreUnavailableError as exc:
            self.kit.dependency.down()
            log.warning("pass failed: store unreachable", extra={"error": str(exc)})
            return "failed"
        except PrometheanError as exc:
            log.error("pass failed", extra={"error": repr(exc)})
            return "failed"
        finally:
            self.passing = False
        elapsed = time.monotonic() - started
        self.metrics.pass_duration.observe(elapsed)
        self.kit.timer.observe(elapsed * 1000)
        return "done"

    async def _snapshot(self, config: TopicConfig) -> None:
        offsets = await self.snapshots.due(config)
        if offsets is None:
            return
        try:
            manifest = await self.snapshots.take(config, offsets)
        except (PrometheanError, OSError) as exc:
            log.warning("snapshot not published", extra={"topic": config.name, "error": repr(exc)})
            return
        if manifest is not None:
            self.metrics.snapshots.labels(config.name).inc()

    def _broker_link(self) -> BrokerLink:
        """Snapshots and heartbeats go out through it; the compactor's
        readiness does not follow the broker (a pass needs only the store)."""
        token = self.settings.common.broker_token
        config = ClientConfig(token=token.reveal() if token else None)
        link = BrokerLink(self.settings.bus_url, config, refusal=Refusal.RETRY)
        link.on_connected(self._bus_connected)
        return link

    def _bus_connected(self, bus: BusClient) -> None:
        self.sink.bus = bus

    async def _bus_loop(self) -> None:
        """Connect to the broker (retrying), then follow the connection and
        publish heartbeats."""
        await self.bus_link.connect()
        heartbeat = self.kit.heartbeat(self.bus_link, self._heartbeat_stats, self.clock.now_ms)
        await asyncio.gather(self.bus_link.follow(), heartbeat.run())

    def _heartbeat_stats(self) -> HeartbeatStats:
        return self.kit.heartbeat_stats(
            connected=self.kit.dependency.connected, inflight=1 if self.passing else 0
        )


RUNTIME_KEY: Final = web.AppKey("runtime", CompactorRuntime)


def create_app(settings: CompactorSettings, store: Store | None = None) -> web.Application:
    return service_app(CompactorRuntime(settings, store), RUNTIME_KEY)


SERVICE_SPEC: Final = ServiceSpec(CompactorSettings, create_app)
