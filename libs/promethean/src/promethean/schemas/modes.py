"""Compatibility levels, as Confluent Schema Registry names them.

``BACKWARD``: the new schema reads data written with the old one (every
instance valid under the old schema is valid under the new). ``FORWARD``:
the old schema reads data written with the new one. ``FULL``: both. The
``_TRANSITIVE`` forms check against every earlier version, the others
against the latest only.
"""

from __future__ import annotations

import enum
from typing import Final


class Compatibility(enum.StrEnum):
    NONE = "NONE"
    BACKWARD = "BACKWARD"
    BACKWARD_TRANSITIVE = "BACKWARD_TRANSITIVE"
    FORWARD = "FORWARD"
    FORWARD_TRANSITIVE = "FORWARD_TRANSITIVE"
    FULL = "FULL"
    FULL_TRANSITIVE = "FULL_TRANSITIVE"

    @property
    def backward(self) -> bool:
        """New schema must read old data."""
        return self in _BACKWARD

    @property
    def forward(self) -> bool:
        """Old schema must read new data."""
        return self in _FORWARD

    @property
    def transitive(self) -> bool:
        return self.value.endswith("_TRANSITIVE")


DEFAULT_COMPATIBILITY: Final = Compatibility.BACKWARD

_BACKWARD: Final = frozenset(
    {
        Compatibility.BACKWARD,
        Compatibility.BACKWARD_TRANSITIVE,
        Compatibility.FULL,
        Compatibility.FULL_TRANSITIVE,
    }
)
_FORWARD: Final = frozenset(
    {
        Compatibility.FORWARD,
        Compatibility.FORWARD_TRANSITIVE,
        Compatibility.FULL,
        Compatibility.FULL_TRANSITIVE,
    }
)
