"""``promethean-broker`` / ``python -m promethean_broker``."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys

from aiohttp import web

from promethean.runtime.logs import configure_logging
from promethean.runtime.tracing import configure_tracing_from_env
from promethean.settings import load_settings
from promethean_broker.app import RUNTIME_KEY, create_app
from promethean_broker.settings import BrokerSettings

log = logging.getLogger("promethean.broker")


async def serve(settings: BrokerSettings) -> int:
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
        f"broker listening on ws://{settings.common.host}:{settings.port}/ws "
        f"(store {runtime.store.url})",
        file=sys.stderr,
        flush=True,
    )
    if runtime.token is None:
        log.warning("PROMETHEAN_BROKER_TOKEN is not set: the broker accepts any client")
    await runtime.stopped.wait()
    try:
        await asyncio.wait_for(runner.cleanup(), timeout=settings.common.drain_ms / 1000)
    except TimeoutError:
        log.error("drain exceeded PROMETHEAN_DRAIN_MS; exiting anyway")
    return runtime.exit_code or 0


def main() -> None:
    settings = load_settings(BrokerSettings, os.environ)
    configure_logging("broker", settings.common.log_level)
    configure_tracing_from_env("broker", os.environ)
    sys.exit(asyncio.run(serve(settings)))


if __name__ == "__main__":
    main()
