"""Build an outbox row from what the application passes to `add`.

Everything the broker would refuse is refused here, while the caller's
transaction can still be rolled back: a bad topic name, an oversized payload,
key or header map, or an id that is empty or too long. A row that passes is
one the drainer can publish.
"""

from __future__ import annotations

import time
import uuid
from typing import Any

import msgspec

from promethean.frames.checks import check_event_fields, check_name, check_payload
from promethean.store.records import NewOutboxRow

_json = msgspec.json.Encoder()


def new_row_id() -> str:
    return str(uuid.uuid4())


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def encode_payload(payload: Any) -> bytes:
    """The JSON text of ``payload``; `msgspec.Raw` and bytes pass through as
    already-encoded JSON (bytes are checked to be JSON)."""
    if isinstance(payload, msgspec.Raw):
        return bytes(payload)
    if isinstance(payload, bytes | bytearray | memoryview):
        raw = bytes(payload)
        msgspec.json.decode(raw)  # raises msgspec.DecodeError when it is not JSON
        return raw
    return _json.encode(payload)


def new_row(
    topic: str,
    payload: Any,
    *,
    key: str | None,
    headers: dict[str, str] | None,
    id: str | None,
    created_ms: int | None = None,
) -> NewOutboxRow:
    """A validated pending row; raises `FrameError` for what the broker would refuse."""
    check_name(topic, "topic")
    encoded = encode_payload(payload)
    check_payload(msgspec.Raw(encoded), "payload")
    row_id = new_row_id() if id is None else id
    check_event_fields("", key=key, headers=headers, id=row_id)
    return NewOutboxRow(
        id=row_id,
        topic=topic,
        payload=encoded,
        created_ms=now_ms() if created_ms is None else created_ms,
        key=key,
        headers=dict(headers) if headers is not None else None,
    )
