"""A value that must never be printed: tokens, passwords, signing keys."""

from __future__ import annotations

import hmac
from typing import Final

MASK: Final = "***"


class Secret:
    """Holds a secret string; ``repr`` and ``str`` both show ``***``.

    The value is read with :meth:`reveal`, so every place that uses it is easy
    to find. Equality compares in constant time.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        self._value = value

    def reveal(self) -> str:
        return self._value

    def __repr__(self) -> str:
        return MASK

    def __str__(self) -> str:
        return MASK

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __bool__(self) -> bool:
        return bool(self._value)
