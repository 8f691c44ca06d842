"""Small builders shared by the store contract tests."""

from __future__ import annotations

from promethean.store import AppendResult, NewEvent, NewOutboxRow, Store

BASE_TS = 1_700_000_000_000


def event(
    id: str,
    *,
    ts: int = BASE_TS,
    payload: bytes = b'{"n":1}',
    key: str | None = None,
    headers: dict[str, str] | None = None,
    caused_by: list[str] | None = None,
    tags: list[str] | None = None,
    sid: str | None = None,
) -> NewEvent:
    return NewEvent(
        id=id,
        ts=ts,
        payload=payload,
        key=key,
        headers=headers,
        caused_by=caused_by,
        tags=tags,
        sid=sid,
    )


async def append_one(store: Store, topic: str, partition: int, new: NewEvent) -> AppendResult:
    (result,) = await store.append(topic, partition, [new])
    return result


async def fill(store: Store, topic: str, partition: int, count: int, *, prefix: str = "e") -> None:
    """Append ``count`` events ``{prefix}0..`` with ts ``BASE_TS + i``."""
    await store.append(
        topic,
        partition,
        [event(f"{prefix}{i}", ts=BASE_TS + i) for i in range(count)],
    )


async def offsets_of(store: Store, topic: str, partition: int) -> list[int]:
    return [e.offset for e in await store.read(topic, partition, 0, 1_000_000)]


def outbox_row(id: str, created_ms: int, *, topic: str = "orders") -> NewOutboxRow:
    return NewOutboxRow(
        id=id, topic=topic, payload=b'{"row":"' + id.encode() + b'"}', created_ms=created_ms
    )


async def assert_one_writer_at_a_time(store: Store, topic: str, partition: int) -> None:
    """Every stored event carries a token granted in the ownership log, and
    tokens never go down along the offsets: each grant's appends precede the
    next grant's, so no two owners ever appended the partition at once."""
    grants = {g.token for g in await store.ownership_log(topic, partition)}
    tokens = [token for _, token in await store.fence_tokens(topic, partition, 0, 1_000_000)]
    owned = [token for token in tokens if token is not None]
    assert len(owned) == len(tokens), f"{topic}/{partition}: an event was appended unfenced"
    assert set(owned) <= grants, (owned, sorted(grants))
    assert owned == sorted(owned)
