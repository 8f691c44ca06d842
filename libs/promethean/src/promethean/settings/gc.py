"""The GC pacing knobs as `promethean.runtime.gc_pacing.GcPacer` takes them.

A settings value, kept here so that the settings never import the runtime
that reads them.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class GcPacing:
    freeze_ms: int
    """How often survivors are frozen; 0 leaves CPython's collector as it is."""
    sweep_ms: int
    """Longest time between two full collections of the frozen objects."""

    @property
    def enabled(self) -> bool:
        return self.freeze_ms > 0
