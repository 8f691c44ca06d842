"""How a running service is asked to stop, and with which exit code."""

from __future__ import annotations

import asyncio
import signal
from dataclasses import dataclass, field

from promethean.runtime.exit_codes import EXIT_OK
from promethean.runtime.health import Readiness

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


@dataclass
class Lifecycle:
    """Shared between a service's app and its runner: how to stop it."""

    readiness: Readiness
    stopping: asyncio.Event = field(default_factory=asyncio.Event)
    exit_code: int = EXIT_OK

    def stop(self, exit_code: int = EXIT_OK) -> None:
        """The first stop wins: its exit code is the one the process ends with."""
        if not self.stopping.is_set():
            self.exit_code = exit_code
            self.stopping.set()

    def stop_on_signals(self) -> None:
        """SIGTERM/SIGINT stop the service cleanly (exit 0) from now on."""
        loop = asyncio.get_running_loop()
        for sig in STOP_SIGNALS:
            loop.add_signal_handler(sig, self.stop, EXIT_OK)
