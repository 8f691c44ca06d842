"""Label values the broker's metrics may carry: bounded, never client text.

A NACK's free-text reason stays in the DLQ record, the audit record and the
logs; as a label it is classified into `REDELIVERY_REASONS`. Topic and group
names are the user's own, but a client can still invent many: `LabelCap`
lets each metric hold at most ``max_sets`` distinct label sets and folds the
rest into one ``_other`` set, counted by `OVERFLOW_METRIC`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from prometheus_client import CollectorRegistry, Counter

from promethean.bus.settlement import ACK_TIMEOUT
from promethean.frames.settle import SettleVerb

REASON_NACK: Final = SettleVerb.NACK
REASON_OTHER: Final = "other"
REDELIVERY_REASONS: Final = frozenset(
    {REASON_NACK, ACK_TIMEOUT, "disconnected", "unsubscribed", "slow_consumer", REASON_OTHER}
)
"""Every value the ``reason`` label of ``promethean_redelivered`` can take."""
_ALIASES: Final = {"closed": "disconnected", "slow consumer": "slow_consumer"}

OVERFLOW_VALUE: Final = "_other"
"""The label value that stands for every label set beyond the cap."""
OVERFLOW_METRIC: Final = "promethean_metric_label_overflow"
DEFAULT_MAX_SETS: Final = 2_000


def classify_reason(kind: str) -> str:
    """The label for why a delivery goes out again; unknown kinds are ``other``."""
    kind = _ALIASES.get(kind, kind)
    return kind if kind in REDELIVERY_REASONS else REASON_OTHER


class LabelCap:
    """Per metric, the first ``max_sets`` distinct label sets pass through;
    later new ones become ``_other`` and count on the overflow counter."""

    def __init__(self, registry: CollectorRegistry, max_sets: int = DEFAULT_MAX_SETS) -> None:
        if max_sets < 1:
            raise ValueError("max_sets must be at least 1")
        self.max_sets = max_sets
        self._seen: dict[str, set[tuple[str, ...]]] = {}
        self.overflow = Counter(
            OVERFLOW_METRIC,
            "Observations whose label set was folded into '_other' (cap reached)",
            ["metric"],
            registry=registry,
        )

    def labels(self, metric: str, values: Sequence[str], observations: int = 1) -> tuple[str, ...]:
        """The label set to record ``observations`` under (folded ones count
        that many times on the overflow counter)."""
        key = tuple(values)
        seen = self._seen.setdefault(metric, set())
        if key in seen:
            return key
        if len(seen) < self.max_sets:
            seen.add(key)
            return key
        self.overflow.labels(metric).inc(observations)
        return tuple(OVERFLOW_VALUE for _ in key)
