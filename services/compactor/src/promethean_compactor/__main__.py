"""``promethean-compactor`` / ``python -m promethean_compactor``.

SIGTERM/SIGINT are caught from the first moment: a stop requested while the
service is still importing or opening the store (``promethean dev`` stopped
right after starting) ends in a clean drain and exit 0, not death by signal.
The heavy imports therefore happen inside `main`, after the handlers are set.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from promethean_compactor.settings import CompactorSettings

_stop_requested = False


def _remember_stop(signum: int, frame: FrameType | None) -> None:
    global _stop_requested
    _stop_requested = True


async def run(settings: CompactorSettings) -> int:
    import asyncio

    from promethean.runtime.service import serve
    from promethean_compactor.app import RUNTIME_KEY, create_app

    app = create_app(settings)
    runtime = app[RUNTIME_KEY]
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, runtime.lifecycle.stop, 0)
    if _stop_requested:
        runtime.lifecycle.stop(0)
    print(
        f"compactor {settings.compactor_id} using store {runtime.store.url}",
        file=sys.stderr,
        flush=True,
    )
    return await serve(
        app,
        name="compactor",
        host=settings.common.host,
        port=settings.port,
        lifecycle=runtime.lifecycle,
        drain=runtime.drain,
        drain_ms=settings.common.drain_ms,
        gc_pacing=settings.common.gc_pacing,
        registry=runtime.registry,
    )


def main() -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, _remember_stop)
    import os

    from promethean.runtime import event_loop
    from promethean.runtime.logs import configure_logging
    from promethean.settings import load_settings
    from promethean_compactor.settings import CompactorSettings

    settings = load_settings(CompactorSettings, os.environ)
    configure_logging("compactor", settings.common.log_level)
    sys.exit(event_loop.run(run(settings), service="compactor"))


if __name__ == "__main__":
    main()
