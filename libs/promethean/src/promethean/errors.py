"""One error root for the whole library.

Every subclass also inherits the builtin a caller would naturally catch
(`ValueError` for bad input, `ConnectionError` for a lost link), so code that
knows nothing of Promethean still handles them sensibly. Errors that travel
over the wire carry a stable ``code`` that maps 1:1 to ``ERR {code}``.
"""

from __future__ import annotations


class PrometheanError(Exception):
    """Root of every error this library raises on purpose."""

    code: str = "internal"

    def __init__(self, msg: str, *, code: str | None = None) -> None:
        super().__init__(msg)
        if code is not None:
            self.code = code

    @property
    def msg(self) -> str:
        return str(self.args[0]) if self.args else ""


class FrameError(PrometheanError, ValueError):
    """A frame failed validation; ``code`` is sent back as ``ERR {code}``."""

    code = "bad_frame"


class SettingsError(PrometheanError, ValueError):
    """An environment variable holds a value the service cannot use."""

    code = "bad_setting"

    def __init__(self, variable: str, shown_value: str, allowed: str) -> None:
        super().__init__(f"{variable}={shown_value!s} is invalid: {allowed}")
        self.variable = variable
        self.shown_value = shown_value
        self.allowed = allowed


class StoreError(PrometheanError):
    """The store refused or failed an operation."""

    code = "store_error"


class StoreUnavailableError(StoreError, ConnectionError):
    """The store cannot be reached."""

    code = "store_unavailable"


class FencedError(StoreError):
    """A write carried a fencing token older than the lease's current one."""

    code = "fenced"


class StaleGenerationError(StoreError):
    """A commit or ack carried a group generation older than the stored one."""

    code = "stale_generation"


class CapabilityError(StoreError):
    """The store lacks a feature the caller asked for (transactions, change streams)."""

    code = "unsupported"


class ConnectionLostError(PrometheanError, ConnectionError):
    """The link to the broker dropped; raised by the real client and the mock alike."""

    code = "connection_lost"


class OverloadedError(PrometheanError):
    """The peer refused new work for now; retry after ``retry_after_ms``."""

    code = "overloaded"

    def __init__(self, msg: str, retry_after_ms: int) -> None:
        super().__init__(msg)
        self.retry_after_ms = retry_after_ms


class NotOwnerError(PrometheanError):
    """This broker does not own the partition a request named. ``owner_id``,
    ``owner_address`` and ``epoch`` name the current owner when it is known
    (None while the partition moves); send the request there."""

    code = "not_owner"

    def __init__(
        self,
        msg: str,
        *,
        owner_id: str | None = None,
        owner_address: str | None = None,
        epoch: int | None = None,
    ) -> None:
        super().__init__(msg)
        self.owner_id = owner_id
        self.owner_address = owner_address
        self.epoch = epoch
