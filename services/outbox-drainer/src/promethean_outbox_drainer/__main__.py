"""``promethean-outbox-drainer`` / ``python -m promethean_outbox_drainer``."""

from __future__ import annotations

import logging
import os
import sys

from promethean.errors import StoreUnavailableError
from promethean.runtime import event_loop
from promethean.runtime.health import EXIT_DISCONNECTED
from promethean.runtime.logs import configure_logging
from promethean.runtime.service import serve
from promethean.settings import load_settings
from promethean_outbox_drainer.app import RUNTIME_KEY, create_app
from promethean_outbox_drainer.settings import SERVICE, DrainerSettings

log = logging.getLogger("promethean.outbox_drainer")


async def run(settings: DrainerSettings) -> int:
    app = create_app(settings)
    runtime = app[RUNTIME_KEY]
    try:
        return await serve(
            app,
            name=SERVICE,
            host=settings.common.host,
            port=settings.port,
            lifecycle=runtime.lifecycle,
            drain=runtime.drain,
            drain_ms=settings.common.drain_ms,
            gc_pacing=settings.common.gc_pacing,
            registry=runtime.registry,
        )
    except StoreUnavailableError as error:
        log.error("store unreachable at start; exiting", extra={"error": str(error)})
        return EXIT_DISCONNECTED


def main() -> None:
    settings = load_settings(DrainerSettings, os.environ)
    configure_logging(SERVICE, settings.common.log_level)
    sys.exit(event_loop.run(run(settings), service=SERVICE))


if __name__ == "__main__":
    main()
