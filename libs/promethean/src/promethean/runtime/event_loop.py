"""The event loop every service runs on.

uvloop when it is installed (a dependency of the library on Linux and
macOS), asyncio's own loop otherwise. ``PROMETHEAN_EVENT_LOOP`` chooses:
``auto`` (the default: uvloop if importable, else asyncio, with one log
line), ``uvloop`` (refuse to start without it) or ``asyncio``.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import sys
from collections.abc import Callable, Coroutine, Mapping
from enum import Enum
from typing import Any, Final, TypeVar

from promethean.errors import SettingsError
from promethean.settings.env import EnvReader
from promethean.settings.loading import EXIT_BAD_SETTING, settings_error_line

LOOP_ENV: Final = "PROMETHEAN_EVENT_LOOP"
UVLOOP_MISSING: Final = "uvloop is not installed"

T = TypeVar("T")
LoopFactory = Callable[[], asyncio.AbstractEventLoop]

log = logging.getLogger("promethean.event_loop")


class LoopKind(Enum):
    AUTO = "auto"
    UVLOOP = "uvloop"
    ASYNCIO = "asyncio"


def loop_kind(environ: Mapping[str, str]) -> LoopKind:
    """``PROMETHEAN_EVENT_LOOP`` as a `LoopKind`; `SettingsError` if unknown."""
    return EnvReader(environ).choice(LOOP_ENV, LoopKind.AUTO, LoopKind)


def _uvloop_factory() -> LoopFactory | None:
    try:
        uvloop = importlib.import_module("uvloop")
    except ImportError:
        return None
    factory: LoopFactory = uvloop.new_event_loop
    return factory


def loop_factory(kind: LoopKind) -> LoopFactory | None:
    """The factory for ``kind``; None means asyncio's default loop."""
    if kind is LoopKind.ASYNCIO:
        return None
    factory = _uvloop_factory()
    if factory is None:
        if kind is LoopKind.UVLOOP:
            raise SettingsError(LOOP_ENV, kind.value, f"auto or asyncio ({UVLOOP_MISSING})")
        log.info("%s; running on asyncio's event loop", UVLOOP_MISSING)
    return factory


def run(
    main: Coroutine[Any, Any, T],
    *,
    service: str,
    environ: Mapping[str, str] | None = None,
) -> T:
    """``asyncio.run(main)`` on the loop ``PROMETHEAN_EVENT_LOOP`` chooses; a
    bad value stops the service with one line naming the variable (exit 2)."""
    try:
        factory = loop_factory(loop_kind(os.environ if environ is None else environ))
    except SettingsError as error:
        main.close()
        print(settings_error_line(service, error), file=sys.stderr, flush=True)
        raise SystemExit(EXIT_BAD_SETTING) from None
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


def loop_name(loop: asyncio.AbstractEventLoop) -> str:
    """``uvloop`` or ``asyncio``: which loop a service actually runs on."""
    return "uvloop" if type(loop).__module__.startswith("uvloop") else "asyncio"
