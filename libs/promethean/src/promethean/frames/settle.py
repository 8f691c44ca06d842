"""The verbs a consumer settles a delivery with.

`SettleVerb` is a `StrEnum`: its members are the lower-case strings the
project already uses for them (a redelivery's ``reason`` label, the client's
settle callback), so comparing or printing a member gives the same text as
before. The frames themselves are `Ack`, `Nack` and `Modack`.
"""

from __future__ import annotations

from enum import StrEnum


class SettleVerb(StrEnum):
    ACK = "ack"
    """Done: the delivery counts toward the group's commit."""
    NACK = "nack"
    """Failed: counts one attempt and goes out again (or to the DLQ)."""
    MODACK = "modack"
    """Still working: move the ack deadline (0 gives the delivery back now)."""
