"""The stable list of error codes carried by ``ERR {code}`` on both protocols,
and the error a rejected frame raises.

Codes are part of the wire contract: clients branch on them, so a code is
never renamed or reused for another meaning. New codes may be added.
"""

from __future__ import annotations

import enum
from typing import Final

from promethean.errors import FrameError


class ErrorCode(enum.StrEnum):
    # A frame could not be accepted (raised by the codec).
    FRAME_TOO_LARGE = "frame_too_large"
    BAD_JSON = "bad_json"
    BAD_FRAME = "bad_frame"
    MISSING_TYPE = "missing_type"
    UNKNOWN_TYPE = "unknown_type"
    MISSING_FIELD = "missing_field"
    BAD_FIELD = "bad_field"
    BAD_NAME = "bad_name"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    HEADERS_TOO_LARGE = "headers_too_large"
    SCHEMA_INVALID = "schema_invalid"
    # The frame was well formed but the service refused it.
    UNAUTHORIZED = "unauthorized"
    FORBIDDEN = "forbidden"
    TOKEN_EXPIRED = "token_expired"
    OVERLOADED = "overloaded"
    RATE_LIMITED = "rate_limited"
    NOT_SUBSCRIBED = "not_subscribed"
    UNKNOWN_DELIVERY = "unknown_delivery"
    STALE_GENERATION = "stale_generation"
    FENCED = "fenced"
    NOT_LEADER = "not_leader"
    NOT_OWNER = "not_owner"
    STORE_UNAVAILABLE = "store_unavailable"
    TOO_MANY_CONNECTIONS = "too_many_connections"
    SLOW_CONSUMER = "slow_consumer"
    INTERNAL = "internal"


KNOWN_CODES: Final[frozenset[str]] = frozenset(code.value for code in ErrorCode)

CONNECTION_CLOSING: Final[frozenset[ErrorCode]] = frozenset(
    {
        ErrorCode.UNAUTHORIZED,
        ErrorCode.TOKEN_EXPIRED,
        ErrorCode.TOO_MANY_CONNECTIONS,
        ErrorCode.SLOW_CONSUMER,
    }
)
"""Codes after which the server closes the connection. Every other code
answers one frame and leaves the connection usable."""

RETRYABLE: Final[frozenset[ErrorCode]] = frozenset(
    {
        ErrorCode.OVERLOADED,
        ErrorCode.RATE_LIMITED,
        ErrorCode.NOT_LEADER,
        ErrorCode.STORE_UNAVAILABLE,
        ErrorCode.TOO_MANY_CONNECTIONS,
    }
)
"""Codes for which sending the same frame again later may succeed."""

REROUTE: Final[frozenset[ErrorCode]] = frozenset({ErrorCode.NOT_OWNER})
"""Codes for which the same frame may succeed at another broker: refresh the
routes (``METADATA``, or the ``owner`` the ``ERR`` carries) and send it to
the partition's owner, with the same event id so nothing is stored twice."""


class InvalidFrameError(FrameError):
    """A frame was rejected by the codec.

    ``code`` is one of the frame-level `ErrorCode` values; ``corr`` is the
    frame's correlation id when it could be recovered, so the ``ERR`` reply can
    echo it; ``field`` names the offending field (``"topic"``,
    ``"items[2].headers"``) or is None when the frame as a whole is at fault.
    """

    def __init__(
        self,
        code: ErrorCode,
        msg: str,
        *,
        field: str | None = None,
        corr: str | int | None = None,
    ) -> None:
        super().__init__(msg, code=code)
        self.field = field
        self.corr = corr
