"""Run a service's aiohttp app until SIGTERM/SIGINT, then drain within a
hard cap: readiness goes false first (Kubernetes stops routing), the
service's own drain stops intake and finishes or gives back in-flight work,
and whatever is still running when ``drain_ms`` runs out is abandoned.
While it runs, the cycle collector is paced (`gc_pacing`). Services start
it through `promethean.runtime.event_loop.run`, which picks uvloop when it
is installed."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from aiohttp import web
from prometheus_client import CollectorRegistry

from promethean.runtime.event_loop import loop_name
from promethean.runtime.gc_pacing import GcPacer, GcPacing
from promethean.runtime.health import Readiness

log = logging.getLogger("promethean.service")


@dataclass
class Lifecycle:
    """Shared between a service's app and its runner: how to stop it."""

    readiness: Readiness
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    exit_code: int = 0

    def stop(self, exit_code: int = 0) -> None:
        if not self.stopping.is_set():
            self.exit_code = exit_code
            self.stopping.set()


async def serve(
    app: web.Application,
    *,
    name: str,
    host: str,
    port: int,
    lifecycle: Lifecycle,
    drain: Callable[[], Awaitable[None]] | None,
    drain_ms: int,
    gc_pacing: GcPacing,
    registry: CollectorRegistry,
    scheme: str = "http",
    detail: str = "",
) -> int:
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    pacer = GcPacer(gc_pacing, registry)
    pacer.start()
    try:
        site = web.TCPSite(runner, host, port, reuse_address=True)
        await site.start()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lifecycle.stop, 0)
        notes = ", ".join(filter(None, [detail, f"{loop_name(loop)} loop"]))
        banner = f"{name} listening on {scheme}://{host}:{port} ({notes})"
        print(banner, file=sys.stderr, flush=True)
        await lifecycle.stopping.wait()
        lifecycle.readiness.fail("drain", "shutting down")

        async def shutdown() -> None:
            if drain is not None:
                await drain()
            await runner.cleanup()

        try:
            await asyncio.wait_for(shutdown(), timeout=drain_ms / 1000)
        except TimeoutError:
            log.error("drain exceeded PROMETHEAN_DRAIN_MS; exiting anyway")
        return lifecycle.exit_code
    finally:
        await pacer.stop()
