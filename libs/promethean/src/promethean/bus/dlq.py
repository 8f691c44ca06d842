"""Dead-letter events: the original event, its metadata and the reason.

The DLQ id is derived from the group and the original position, so a broker
that crashes between the DLQ append and the commit re-appends nothing, while
two groups that both give up on one event each get their own DLQ record.
"""

from __future__ import annotations

from promethean.bus.requests import PublishRequest
from promethean.names import dlq_topic
from promethean.store.records import StoredEvent

H_ORIGINAL_TOPIC = "x-dlq-original-topic"
H_ORIGINAL_PARTITION = "x-dlq-original-partition"
H_ORIGINAL_OFFSET = "x-dlq-original-offset"
H_ORIGINAL_ID = "x-dlq-original-id"
H_ORIGINAL_TS = "x-dlq-original-ts"
H_GROUP = "x-dlq-group"
H_ATTEMPTS = "x-dlq-attempts"
H_REASON = "x-dlq-reason"
DLQ_HEADERS = frozenset(
    {
        H_ORIGINAL_TOPIC,
        H_ORIGINAL_PARTITION,
        H_ORIGINAL_OFFSET,
        H_ORIGINAL_ID,
        H_ORIGINAL_TS,
        H_GROUP,
        H_ATTEMPTS,
        H_REASON,
    }
)
MAX_REASON_CHARS = 1024


def dead_letter_event(
    event: StoredEvent, *, group: str, attempts: int, reason: str
) -> PublishRequest:
    headers = dict(event.headers or {})
    headers.update(
        {
            H_ORIGINAL_TOPIC: event.topic,
            H_ORIGINAL_PARTITION: str(event.partition),
            H_ORIGINAL_OFFSET: str(event.offset),
            H_ORIGINAL_ID: event.id,
            H_ORIGINAL_TS: str(event.ts),
            H_GROUP: group,
            H_ATTEMPTS: str(attempts),
            H_REASON: reason[:MAX_REASON_CHARS],
        }
    )
    return PublishRequest(
        topic=dlq_topic(event.topic),
        payload=event.payload,
        key=event.key,
        headers=headers,
        id=f"{group}/{event.partition}/{event.offset}/{event.id}",
        caused_by=[event.id],
        tags=event.tags,
        sid=event.sid,
    )


def strip_dlq_headers(headers: dict[str, str]) -> dict[str, str]:
    """The headers an event carried before it was dead-lettered."""
    return {k: v for k, v in headers.items() if k not in DLQ_HEADERS}
