"""Errors only the mock broker raises. A lost connection raises
`promethean.errors.ConnectionLostError`, exactly like the real client."""

from __future__ import annotations

from promethean.errors import PrometheanError
from promethean.frames.codes import ErrorCode


class BufferOverflowError(PrometheanError):
    """A subscriber with overflow policy ``raise`` received more deliveries
    than its buffer holds; the broker dropped it as a slow consumer."""

    code = ErrorCode.SLOW_CONSUMER.value


class InjectedFaultError(PrometheanError):
    """Raised by a `RecordingSubscriber` told to fail a message."""

    code = "injected_fault"


class MockBrokerError(PrometheanError):
    """The mock was used in a way it cannot honour deterministically (a handler
    that keeps publishing forever, ``tick()`` from inside a handler, ...)."""

    code = "mock_misuse"
