"""Compatibility of a new schema with a subject's earlier versions, per
compatibility level. Pure: the caller passes the versions in."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from promethean.schemas.modes import Compatibility
from promethean.schemas.subset import subset_messages


def compatibility_messages(
    new: dict[str, Any],
    earlier: Sequence[tuple[int, dict[str, Any]]],
    mode: Compatibility,
) -> list[str]:
    """Why ``new`` breaks ``mode`` against ``earlier`` (version, schema)
    pairs, oldest first; empty when it is compatible. Non-transitive levels
    look at the latest earlier version only."""
    if mode is Compatibility.NONE or not earlier:
        return []
    targets = list(earlier) if mode.transitive else [earlier[-1]]
    messages: list[str] = []
    for version, old in reversed(targets):
        if mode.backward:
            for reason in subset_messages(old, new):
                messages.append(f"backward, against version {version}: {reason}")
        if mode.forward:
            for reason in subset_messages(new, old):
                messages.append(f"forward, against version {version}: {reason}")
    return messages
