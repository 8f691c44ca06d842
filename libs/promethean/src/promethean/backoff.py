"""The one reconnect backoff policy: the SDK's client (reconnecting after a
lost connection) and the services' `BrokerLink` (the first connection) wait
the same way."""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

MAX_EXPONENT: Final = 62
"""Beyond this many doublings the cap has long been reached (and ``2.0 **``
stays finite)."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Jittered exponential backoff with a cap: attempt ``n`` (from 1) waits
    a random share, between ``1 - jitter`` and 1, of
    ``min(max_s, base_s * 2 ** (n - 1))``; the jitter keeps replicas that
    lost the broker together from coming back in step."""

    base_s: float = 0.1
    max_s: float = 5.0
    jitter: float = 0.5

    def __post_init__(self) -> None:
        if not 0 < self.base_s <= self.max_s:
            raise ValueError(f"backoff needs 0 < base_s <= max_s, got {self.base_s}, {self.max_s}")
        if not 0 <= self.jitter <= 1:
            raise ValueError(f"backoff jitter must be within [0, 1], got {self.jitter}")

    def cap_s(self, attempt: int) -> float:
        exponent = min(max(attempt - 1, 0), MAX_EXPONENT)
        return min(self.max_s, self.base_s * 2.0**exponent)

    def delay_s(self, attempt: int, draw: Callable[[], float] = random.random) -> float:
        """The wait after failed attempt ``attempt``; ``draw`` returns [0, 1)."""
        return self.cap_s(attempt) * (1.0 - self.jitter * draw())
