"""Run a service's aiohttp app until SIGTERM/SIGINT, then drain within a
hard cap: readiness goes false first (Kubernetes stops routing), the
service's own drain (``kit.drain``) stops intake and finishes or gives back
in-flight work, and whatever is still running when ``drain_ms`` runs out is
abandoned. While it runs, the cycle collector is paced (`gc_pacing`).
Services start it through `promethean.runtime.main.run_service`, which runs
it on the event loop `event_loop` picks (uvloop when it is installed)."""

from __future__ import annotations

import asyncio
import logging
import sys

from aiohttp import web

from promethean.runtime.assembly import ServiceSettings
from promethean.runtime.event_loop import loop_name
from promethean.runtime.gc_pacing import GcPacer
from promethean.runtime.kit import ServiceKit

log = logging.getLogger("promethean.service")


async def serve(app: web.Application, kit: ServiceKit, settings: ServiceSettings) -> int:
    """Serve ``app`` on ``settings.common.host:settings.port`` until stopped;
    the exit code the service stopped with."""
    common = settings.common
    kit.lifecycle.stop_on_signals()
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    pacer = GcPacer(common.gc_pacing, kit.registry)
    pacer.start()
    try:
        site = web.TCPSite(runner, common.host, settings.port, reuse_address=True)
        await site.start()
        loop = asyncio.get_running_loop()
        notes = ", ".join(filter(None, [kit.detail, f"{loop_name(loop)} loop"]))
        banner = f"{kit.name} listening on {kit.scheme}://{common.host}:{settings.port} ({notes})"
        print(banner, file=sys.stderr, flush=True)
        await kit.lifecycle.stopping.wait()
        kit.readiness.fail("drain", "shutting down")

        async def shutdown() -> None:
            if kit.drain is not None:
                await kit.drain()
            await runner.cleanup()

        try:
            await asyncio.wait_for(shutdown(), timeout=common.drain_ms / 1000)
        except TimeoutError:
            log.error("drain exceeded PROMETHEAN_DRAIN_MS; exiting anyway")
        return kit.lifecycle.exit_code
    finally:
        await pacer.stop()
