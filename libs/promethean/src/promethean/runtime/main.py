"""The one way every service starts: ``run_service("promethean_<name>")``.

SIGTERM/SIGINT are caught from the first moment: a stop requested while the
service is still importing or opening its store (``promethean dev`` stopped
right after starting) ends in a clean drain and exit 0, not death by signal.
This module therefore imports nothing heavy before the handlers are set;
the service's package and the runtime are imported inside `run_service`.
"""

from __future__ import annotations

import signal
import sys
from types import FrameType
from typing import TYPE_CHECKING, Any, NoReturn

if TYPE_CHECKING:
    from promethean.runtime.assembly import ServiceSpec


class EarlyStop:
    """Remembers a stop signal that came before the event loop took over."""

    def __init__(self) -> None:
        self.requested = False

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, self._remember)

    def _remember(self, signum: int, frame: FrameType | None) -> None:
        self.requested = True


def run_service(package: str) -> NoReturn:
    """Start the service whose ``<package>.app`` defines ``SERVICE_SPEC`` (a
    `ServiceSpec`): load its settings (a bad one: one line, exit 2),
    configure logs and tracing, serve until stopped, exit with its code."""
    early = EarlyStop()
    early.install()
    import importlib
    import os

    from promethean.runtime import event_loop
    from promethean.runtime.logs import configure_logging
    from promethean.runtime.tracing import configure_tracing_from_env
    from promethean.settings import load_settings

    spec: ServiceSpec[Any] = importlib.import_module(f"{package}.app").SERVICE_SPEC
    settings = load_settings(spec.settings, os.environ)
    configure_logging(spec.name, settings.common.log_level)
    provider = configure_tracing_from_env(spec.name, os.environ)
    try:
        code = event_loop.run(_serve(spec, settings, early), service=spec.name)
    finally:
        if provider is not None:
            provider.shutdown()
    sys.exit(code)


async def _serve(spec: ServiceSpec[Any], settings: Any, early: EarlyStop) -> int:
    import logging

    from promethean.errors import SettingsError, StoreUnavailableError
    from promethean.runtime.exit_codes import EXIT_BAD_SETTING, EXIT_DISCONNECTED
    from promethean.runtime.kit import KIT_KEY
    from promethean.runtime.service import serve
    from promethean.settings import settings_error_line

    try:
        app = spec.create_app(settings)
    except SettingsError as error:  # found while assembling (the worker's handlers)
        print(settings_error_line(spec.name, error), file=sys.stderr, flush=True)
        return EXIT_BAD_SETTING
    kit = app[KIT_KEY]
    kit.lifecycle.stop_on_signals()
    if early.requested:
        kit.stop()
    try:
        return await serve(app, kit, settings)
    except StoreUnavailableError as error:
        logging.getLogger("promethean.service").error(
            "store unreachable at start; exiting", extra={"error": str(error)}
        )
        return EXIT_DISCONNECTED
