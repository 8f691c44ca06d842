"""Refusals the gateway itself issues, as errors carrying a wire code."""

from __future__ import annotations

from promethean.errors import PrometheanError
from promethean.frames.codes import ErrorCode


class RefusalError(PrometheanError):
    """``ERR {code}`` (with ``retry_after_ms`` when the client may retry)."""

    def __init__(self, code: ErrorCode, msg: str, retry_after_ms: int | None = None) -> None:
        super().__init__(msg, code=code.value)
        self.retry_after_ms = retry_after_ms


RETRY_LINK_DOWN_MS = 1000
RETRY_BUSY_MS = 100


def forbidden(action: str, topic: str, group: str | None = None) -> RefusalError:
    target = topic if group is None else f"{topic} as {group}"
    return RefusalError(ErrorCode.FORBIDDEN, f"{action} to {target} is not allowed")


def broker_down() -> RefusalError:
    return RefusalError(
        ErrorCode.OVERLOADED, "the gateway is not connected to the broker", RETRY_LINK_DOWN_MS
    )


def busy(msg: str) -> RefusalError:
    return RefusalError(ErrorCode.OVERLOADED, msg, RETRY_BUSY_MS)
