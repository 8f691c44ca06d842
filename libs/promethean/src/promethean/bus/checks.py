"""The publish-time check the engine runs on topics with ``validate`` set:
a payload either passes (and may gain headers, such as the schema id) or is
refused with `SchemaInvalidError` before anything is stored.

The engine only knows this Protocol; the schema registry implements it
(`promethean.schemas.gate.SchemaGate`).
"""

from __future__ import annotations

from typing import Protocol

from promethean.bus.requests import PublishRequest
from promethean.errors import PrometheanError
from promethean.frames.codes import ErrorCode


class SchemaInvalidError(PrometheanError, ValueError):
    """A payload does not match its topic's schema (``ERR schema_invalid``)."""

    code = ErrorCode.SCHEMA_INVALID.value


class PublishCheck(Protocol):
    def admit_cached(self, request: PublishRequest) -> dict[str, str] | None:
        """As `admit` when it can answer without I/O; None when it cannot
        (then the engine awaits `admit`)."""
        ...

    async def admit(self, request: PublishRequest) -> dict[str, str]:
        """The headers to store with the event (the request's, possibly with
        more), or raise `SchemaInvalidError`."""
        ...
