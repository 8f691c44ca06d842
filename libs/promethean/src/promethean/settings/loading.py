"""Build a service's settings at start-up, or stop it with one line.

A bad value must not surface as a traceback: the operator gets exactly one
line on stderr naming the variable, and the process exits with code 2 (the
conventional "usage error"), so Kubernetes shows the reason in the pod status.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping
from typing import Final, Protocol, TextIO, TypeVar

from promethean.errors import SettingsError

EXIT_BAD_SETTING: Final = 2

T_co = TypeVar("T_co", covariant=True)


class SettingsFactory(Protocol[T_co]):
    """A settings class: its service name and a ``from_env`` constructor."""

    @property
    def SERVICE(self) -> str: ...  # noqa: N802 - matches the class constant

    def from_env(self, environ: Mapping[str, str], /) -> T_co: ...


def settings_error_line(service: str, error: SettingsError) -> str:
    """``<service>: invalid setting: VAR=value is invalid: <allowed>``, one line."""
    line = f"{service}: invalid setting: {error}"
    return " ".join(line.splitlines())


def load_settings(
    factory: SettingsFactory[T_co],
    environ: Mapping[str, str],
    *,
    stderr: TextIO | None = None,
) -> T_co:
    """``factory.from_env(environ)``; on a bad value print one line and exit 2."""
    try:
        return factory.from_env(environ)
    except SettingsError as error:
        stream = stderr if stderr is not None else sys.stderr
        print(settings_error_line(factory.SERVICE, error), file=stream, flush=True)
        raise SystemExit(EXIT_BAD_SETTING) from None
