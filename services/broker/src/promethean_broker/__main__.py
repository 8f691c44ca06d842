"""``promethean-broker`` / ``python -m promethean_broker``."""

from __future__ import annotations

import logging
import os
import sys

from promethean.runtime import event_loop, service
from promethean.runtime.logs import configure_logging
from promethean.runtime.tracing import configure_tracing_from_env
from promethean.settings import load_settings
from promethean_broker.app import RUNTIME_KEY, create_app
from promethean_broker.settings import BrokerSettings

log = logging.getLogger("promethean.broker")


async def serve(settings: BrokerSettings) -> int:
    app = create_app(settings)
    runtime = app[RUNTIME_KEY]
    if runtime.token is None:
        log.warning("PROMETHEAN_BROKER_TOKEN is not set: the broker accepts any client")
    return await service.serve(
        app,
        name="broker",
        host=settings.common.host,
        port=settings.port,
        lifecycle=runtime.lifecycle,
        drain=None,
        drain_ms=settings.common.drain_ms,
        gc_pacing=settings.common.gc_pacing,
        registry=runtime.registry,
        scheme="ws",
        detail=f"store {runtime.store.url}",
    )


def main() -> None:
    settings = load_settings(BrokerSettings, os.environ)
    configure_logging("broker", settings.common.log_level)
    configure_tracing_from_env("broker", os.environ)
    sys.exit(event_loop.run(serve(settings), service="broker"))


if __name__ == "__main__":
    main()
