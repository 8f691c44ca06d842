"""``promethean-gateway`` / ``python -m promethean_gateway``."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from aiohttp import web

from promethean.runtime.logs import configure_logging
from promethean.settings import load_settings
from promethean_gateway.app import RUNTIME_KEY, create_app
from promethean_gateway.settings import GatewaySettings

log = logging.getLogger("promethean.gateway")


async def serve(settings: GatewaySettings) -> int:
    app = create_app(settings)
    runtime = app[RUNTIME_KEY]
    runner = web.AppRunner(app, handle_signals=False, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.common.host, settings.port, reuse_address=True)
    await site.start()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runtime.stop, 0)
    print(
        f"gateway listening on ws://{settings.common.host}:{settings.port}/ws "
        f"(broker {settings.bus_url})",
        file=sys.stderr,
        flush=True,
    )
    if settings.ws_token is not None:
        log.warning("WS_TOKEN is set: a static dev token grants every topic (PROMETHEAN_DEV=1)")
    await runtime.stopped.wait()
    try:
        await asyncio.wait_for(runner.cleanup(), timeout=settings.common.drain_ms / 1000)
    except TimeoutError:
        log.error("drain exceeded PROMETHEAN_DRAIN_MS; exiting anyway")
    return runtime.exit_code or 0


def main() -> None:
    settings = load_settings(GatewaySettings, os.environ)
    configure_logging("gateway", settings.common.log_level)
    sys.exit(asyncio.run(serve(settings)))


if __name__ == "__main__":
    main()
