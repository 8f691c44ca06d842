"""Where a group's cursors start: its stored commits, else its start
position, made durable at once."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence

from promethean.bus.cursor import PartitionCursor
from promethean.bus.subscription import StartKind, StartPosition
from promethean.bus.writer import PartitionWriter
from promethean.store.port import Store

WriterFor = Callable[[str, int], Awaitable[PartitionWriter]]


async def load_cursors(
    store: Store,
    writer_for: WriterFor,
    group: str,
    topic: str,
    partitions: Sequence[int],
    start: StartPosition | None,
) -> dict[int, PartitionCursor]:
    commits = await store.get_commits(group, topic)
    if commits:
        # The group exists, so a partition it has no commit for was added
        # to the topic after the group started: it holds only events
        # published since, and is read from its start whatever the
        # group's start position, so none of them is skipped (also when
        # the group was not live while the topic grew).
        start = StartPosition(StartKind.EARLIEST)
    cursors: dict[int, PartitionCursor] = {}
    fresh: dict[int, int] = {}
    for partition in partitions:
        writer = await writer_for(topic, partition)
        row = commits.get(partition)
        if row is None:
            committed = await start_offset(store, writer, start) - 1
            fresh[partition] = committed
        else:
            committed = row.offset
        attempts = await store.get_attempts(group, topic, partition, committed + 1)
        cursors[partition] = PartitionCursor(partition, committed, attempts)
    if fresh:
        # The start position is durable at once: a group that starts at
        # "latest" and restarts before its first ack must not skip events.
        await store.commit(group, topic, fresh)
    return cursors


async def start_offset(store: Store, writer: PartitionWriter, start: StartPosition | None) -> int:
    """The first offset a new group reads in ``writer``'s partition."""
    topic, partition = writer.topic, writer.partition
    start = start or StartPosition()
    if start.kind is StartKind.LATEST:
        return writer.high_watermark + 1
    if start.kind is StartKind.EARLIEST:
        # An append in flight may have taken its offset in the store but
        # not be readable yet; what this broker knows durable bounds it.
        earliest = await store.earliest_offset(topic, partition)
        return min(earliest, writer.high_watermark + 1)
    if start.kind is StartKind.OFFSET:
        value = start.value or 0
        return max(0, min(value, writer.high_watermark + 1))
    return await store.offset_for_timestamp(topic, partition, start.value or 0)
