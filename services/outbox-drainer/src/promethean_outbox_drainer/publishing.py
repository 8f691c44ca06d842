"""Publishing one outbox row, and what its failure means.

A row goes out with its own id, so the broker stores it once however often
it is sent: after a crash between publish and mark, after a lease that
lapsed while a slow broker answered, after two drainers raced. What a
failure means decides what happens to the row:

- the broker could not be reached (``ConnectionLostError``): nothing is
  counted; the claim is left to lapse and the row waits for the broker;
- the row can never be published (bad name, size, payload not JSON):
  it goes to ``outbox.DLQ`` at once;
- the broker refused it: one attempt is counted and it is retried after
  an exponential backoff, up to ``PROMETHEAN_OUTBOX_MAX_ATTEMPTS``.
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from promethean.client.port import BusClient
from promethean.errors import ConnectionLostError, FrameError
from promethean.names import MAX_ID_BYTES
from promethean.outbox import DLQ_TOPIC
from promethean.store.records import OutboxRow

DLQ_ID_PREFIX: Final = "outbox/"
NOT_JSON: Final = "payload is not valid JSON: {error}"


class Outcome(enum.Enum):
    PUBLISHED = "published"
    UNAVAILABLE = "unavailable"
    INVALID = "invalid"
    REFUSED = "refused"


@dataclass(frozen=True, slots=True)
class PublishResult:
    row: OutboxRow
    outcome: Outcome
    error: str = ""


def backoff_ms(attempt: int, base_ms: int, max_ms: int) -> int:
    """Delay before retry number ``attempt`` (1-based): base, 2*base, 4*base, ... up to max."""
    if attempt <= 1:
        return min(base_ms, max_ms)
    return min(max_ms, base_ms << min(attempt - 1, 40))


async def publish_row(bus: BusClient, row: OutboxRow) -> PublishResult:
    try:
        msgspec.json.decode(row.payload)
    except msgspec.DecodeError as error:
        return PublishResult(row, Outcome.INVALID, NOT_JSON.format(error=error))
    try:
        await bus.publish(
            row.topic, msgspec.Raw(row.payload), key=row.key, headers=row.headers, id=row.id
        )
    except ConnectionLostError as error:
        return PublishResult(row, Outcome.UNAVAILABLE, str(error))
    except FrameError as error:
        return PublishResult(row, Outcome.INVALID, f"{error.code}: {error}")
    except Exception as error:
        code = getattr(error, "code", type(error).__name__)
        return PublishResult(row, Outcome.REFUSED, f"{code}: {error}")
    return PublishResult(row, Outcome.PUBLISHED)


def dlq_id(row_id: str) -> str:
    """A derived id, so a DLQ record re-sent after a crash is stored once."""
    candidate = DLQ_ID_PREFIX + row_id
    if len(candidate.encode()) <= MAX_ID_BYTES:
        return candidate
    return DLQ_ID_PREFIX + hashlib.sha256(row_id.encode()).hexdigest()


def dlq_record(row: OutboxRow, error: str, attempts: int, drainer: str) -> dict[str, Any]:
    """What ``outbox.DLQ`` receives: the row as it was, and why it failed."""
    record: dict[str, Any] = {
        "id": row.id,
        "topic": row.topic,
        "key": row.key,
        "headers": row.headers,
        "created_ms": row.created_ms,
        "attempts": attempts,
        "error": error,
        "drainer": drainer,
    }
    try:
        record["payload"] = msgspec.json.decode(row.payload)
    except msgspec.DecodeError:
        record["payload_text"] = row.payload.decode("utf-8", "replace")
    return record


async def publish_dlq(
    bus: BusClient, row: OutboxRow, error: str, attempts: int, drainer: str
) -> None:
    await bus.publish(
        DLQ_TOPIC,
        dlq_record(row, error, attempts, drainer),
        key=row.key,
        headers={"x-outbox-id": row.id[:1024], "x-outbox-topic": row.topic},
        id=dlq_id(row.id),
    )
