"""Field types shared by the broker and gateway frames.

Range constraints live here as ``msgspec.Meta`` so the decoder enforces them in
its single pass; anything msgspec cannot express (names, byte sizes) is checked
in `promethean.frames.checks`.
"""

from __future__ import annotations

from typing import Annotated, Final, Literal, TypeAlias

import msgspec

MAX_INT64: Final = 2**63 - 1
MAX_INFLIGHT: Final = 100_000
MIN_ACK_TIMEOUT_MS: Final = 100
MAX_ACK_TIMEOUT_MS: Final = 3_600_000
MAX_EXTEND_MS: Final = 3_600_000

Corr: TypeAlias = str | int | None
"""Correlation id chosen by the client; every reply to the frame echoes it."""

NonNegative: TypeAlias = Annotated[int, msgspec.Meta(ge=0, le=MAX_INT64)]
"""Offsets, partitions, generations, timestamps, credits: stored as int64."""

MaxInflight: TypeAlias = Annotated[int, msgspec.Meta(ge=1, le=MAX_INFLIGHT)]
AckTimeoutMs: TypeAlias = Annotated[int, msgspec.Meta(ge=MIN_ACK_TIMEOUT_MS, le=MAX_ACK_TIMEOUT_MS)]
ExtendMs: TypeAlias = Annotated[int, msgspec.Meta(ge=0, le=MAX_EXTEND_MS)]

StartKind: TypeAlias = Literal["latest", "earliest", "offset", "timestamp"]

KINDS_WITH_VALUE: Final = frozenset({"offset", "timestamp"})


class FromSpec(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Where a new group starts reading: ``latest`` (only new events),
    ``earliest``, ``offset`` (``value`` = first offset) or ``timestamp``
    (``value`` = epoch ms; first event at or after it). Ignored when the group
    already has a committed position."""

    kind: StartKind
    value: NonNegative | None = None


class Filter(msgspec.Struct, frozen=True, kw_only=True, omit_defaults=True):
    """Deliver only events whose key equals ``key`` and/or that carry header
    ``header[0]`` with value ``header[1]``. Filtered-out events count as done
    for the group."""

    key: str | None = None
    header: tuple[str, str] | None = None
