"""``promethean-gateway`` / ``python -m promethean_gateway``."""

from __future__ import annotations

import logging
import os
import sys

from promethean.runtime import event_loop, service
from promethean.runtime.logs import configure_logging
from promethean.settings import load_settings
from promethean_gateway.app import RUNTIME_KEY, create_app
from promethean_gateway.metrics_listener import metrics_listener
from promethean_gateway.settings import GatewaySettings

log = logging.getLogger("promethean.gateway")


async def serve(settings: GatewaySettings) -> int:
    app = create_app(settings)
    if settings.ws_token is not None:
        log.warning("WS_TOKEN is set: a static dev token grants every topic (PROMETHEAN_DEV=1)")
    runtime = app[RUNTIME_KEY]
    async with metrics_listener(runtime.registry, settings.common.host, settings.metrics_port):
        return await service.serve(
            app,
            name="gateway",
            host=settings.common.host,
            port=settings.port,
            lifecycle=runtime.lifecycle,
            drain=None,
            drain_ms=settings.common.drain_ms,
            gc_pacing=settings.common.gc_pacing,
            registry=runtime.registry,
            scheme="ws",
            detail=f"broker {settings.bus_url}",
        )


def main() -> None:
    settings = load_settings(GatewaySettings, os.environ)
    configure_logging("gateway", settings.common.log_level)
    sys.exit(event_loop.run(serve(settings), service="gateway"))


if __name__ == "__main__":
    main()
