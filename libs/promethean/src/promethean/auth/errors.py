"""Why a token was refused: a wire code and a metrics reason."""

from __future__ import annotations

import enum

from promethean.errors import PrometheanError
from promethean.frames.codes import ErrorCode


class AuthFailure(enum.StrEnum):
    """The reason label of ``promethean_gateway_auth_failures_total``."""

    MISSING = "missing"
    MALFORMED = "malformed"
    ALGORITHM = "algorithm"
    SIGNATURE = "signature"
    EXPIRED = "expired"
    NOT_YET_VALID = "not_yet_valid"
    AUDIENCE = "audience"
    ISSUER = "issuer"
    UNKNOWN_KID = "unknown_kid"
    CLAIMS = "claims"
    KEYS_UNAVAILABLE = "keys_unavailable"


class AuthError(PrometheanError):
    """A token was refused. ``code`` is ``token_expired`` for an expired
    token and ``unauthorized`` for everything else; ``reason`` says why."""

    def __init__(self, reason: AuthFailure, msg: str) -> None:
        code = ErrorCode.TOKEN_EXPIRED if reason is AuthFailure.EXPIRED else ErrorCode.UNAUTHORIZED
        super().__init__(msg, code=code)
        self.reason = reason
