"""``promethean-worker`` / ``python -m promethean_worker``."""

from __future__ import annotations

import os
import sys

from promethean.errors import SettingsError
from promethean.runtime import event_loop
from promethean.runtime.logs import configure_logging
from promethean.runtime.service import serve
from promethean.runtime.tracing import configure_tracing_from_env
from promethean.settings import EXIT_BAD_SETTING, load_settings, settings_error_line
from promethean_worker.app import create_app
from promethean_worker.registry import ResolvedHandler, resolve_all
from promethean_worker.runtime import WorkerRuntime
from promethean_worker.settings import SERVICE, WorkerSettings


async def run(settings: WorkerSettings, handlers: list[ResolvedHandler]) -> int:
    runtime = WorkerRuntime(settings, handlers, os.environ)
    return await serve(
        create_app(runtime),
        name=SERVICE,
        host=settings.common.host,
        port=settings.port,
        lifecycle=runtime.lifecycle,
        drain=runtime.drain,
        drain_ms=settings.common.drain_ms,
        gc_pacing=settings.common.gc_pacing,
        registry=runtime.registry,
    )


def main() -> None:
    settings = load_settings(WorkerSettings, os.environ)
    configure_logging(SERVICE, settings.common.log_level)
    configure_tracing_from_env(SERVICE, os.environ)
    try:
        handlers = resolve_all(settings)
    except SettingsError as error:
        print(settings_error_line(SERVICE, error), file=sys.stderr, flush=True)
        sys.exit(EXIT_BAD_SETTING)
    sys.exit(event_loop.run(run(settings, handlers), service=SERVICE))


if __name__ == "__main__":
    main()
