"""The services' well-known default ports."""

from __future__ import annotations

from typing import Final

DEFAULT_BUS_PORT: Final = 7070
"""The broker (``BUS_PORT``)."""
DEFAULT_WS_PORT: Final = 8090
"""The gateway (``WS_PORT``)."""
