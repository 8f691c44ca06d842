"""The identity of a schema across subjects: its canonical JSON text.

Two schemas are the same schema when they decode to the same JSON value, so
key order and spacing never make a new id. Used by every store adapter.
"""

from __future__ import annotations

from typing import Any

import msgspec

_canonical = msgspec.json.Encoder(order="sorted")


def schema_fingerprint(schema: dict[str, Any]) -> str:
    """Canonical JSON text of ``schema`` (keys sorted at every level)."""
    return _canonical.encode(schema).decode()
