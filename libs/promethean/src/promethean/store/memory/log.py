"""The event log held in memory: per-partition offset indexes, the per-topic
id index that makes publishing idempotent, and the compaction/retention
primitives that remove events from the middle of a partition.

Everything here is synchronous. `MemoryStore` calls it without awaiting in
between, so each operation is atomic with respect to the event loop.
"""

from __future__ import annotations

from bisect import bisect_left, bisect_right
from collections.abc import Collection, Iterator, Sequence

from promethean.store.memory.copies import detached_event, stored_event
from promethean.store.records import AppendResult, NewEvent, StoredEvent


class PartitionLog:
    """One (topic, partition).

    ``offsets`` lists the stored offsets in ascending order (appends always
    go to its end), so a read from any offset is a bisect plus a slice even
    after compaction or retention punched holes in it. ``key_offsets`` keeps
    the stored offsets of each key, ascending, for compaction and
    latest-by-key. ``tokens`` holds the ownership token of each event
    appended under one (see `MemoryStore.append_owned`).
    """

    __slots__ = ("events", "key_offsets", "next_offset", "offsets", "tokens")

    def __init__(self) -> None:
        self.next_offset = 0
        self.offsets: list[int] = []
        self.events: dict[int, StoredEvent] = {}
        self.key_offsets: dict[str, list[int]] = {}
        self.tokens: dict[int, int] = {}

    def add(self, event: StoredEvent) -> None:
        self.offsets.append(event.offset)
        self.events[event.offset] = event
        if event.key is not None:
            self.key_offsets.setdefault(event.key, []).append(event.offset)

    def scan(
        self, from_offset: int, to_offset: int | None = None, key: str | None = None
    ) -> Iterator[StoredEvent]:
        """Stored events with ``from_offset <= offset (<= to_offset)``, ascending;
        only those of ``key`` when given (walking that key's offsets alone)."""
        offsets = self.offsets if key is None else self.key_offsets.get(key, [])
        start = bisect_left(offsets, from_offset)
        stop = len(offsets) if to_offset is None else bisect_right(offsets, to_offset)
        for index in range(start, stop):
            yield self.events[offsets[index]]

    def remove(self, doomed: Collection[int]) -> list[StoredEvent]:
        """Drop the events at ``doomed`` offsets; returns what was removed."""
        removed = [self.events.pop(offset) for offset in doomed if offset in self.events]
        if not removed:
            return removed
        gone = {event.offset for event in removed}
        for offset in gone:
            self.tokens.pop(offset, None)
        self.offsets = [offset for offset in self.offsets if offset not in gone]
        for key in {event.key for event in removed if event.key is not None}:
            kept = [offset for offset in self.key_offsets[key] if offset not in gone]
            if kept:
                self.key_offsets[key] = kept
            else:
                del self.key_offsets[key]
        return removed


class TopicLog:
    """The partitions of one topic and the id index shared by all of them."""

    __slots__ = ("ids", "partitions")

    def __init__(self) -> None:
        self.partitions: dict[int, PartitionLog] = {}
        self.ids: dict[str, tuple[int, int]] = {}

    def partition(self, partition: int) -> PartitionLog:
        log = self.partitions.get(partition)
        if log is None:
            log = self.partitions[partition] = PartitionLog()
        return log


_EMPTY = PartitionLog()


class EventLog:
    """All topics. Reads of unknown topics or partitions see an empty log."""

    def __init__(self) -> None:
        self._topics: dict[str, TopicLog] = {}

    def drop(self, topic: str) -> None:
        """Forget the topic, its offset counters included."""
        self._topics.pop(topic, None)

    def _topic(self, topic: str) -> TopicLog:
        log = self._topics.get(topic)
        if log is None:
            log = self._topics[topic] = TopicLog()
        return log

    def _existing(self, topic: str, partition: int) -> PartitionLog:
        topic_log = self._topics.get(topic)
        if topic_log is None:
            return _EMPTY
        return topic_log.partitions.get(partition, _EMPTY)

    def append(
        self,
        topic: str,
        partition: int,
        events: Sequence[NewEvent],
        fence_token: int | None = None,
    ) -> list[AppendResult]:
        if not events:
            return []
        topic_log = self._topic(topic)
        log = topic_log.partition(partition)
        results: list[AppendResult] = []
        for event in events:
            known = topic_log.ids.get(event.id)
            if known is not None:
                results.append(AppendResult(known[0], known[1], event.id, duplicate=True))
                continue
            offset = log.next_offset
            log.next_offset += 1
            log.add(stored_event(topic, partition, offset, event))
            if fence_token is not None:
                log.tokens[offset] = fence_token
            topic_log.ids[event.id] = (partition, offset)
            results.append(AppendResult(partition, offset, event.id))
        return results

    def read(
        self,
        topic: str,
        partition: int,
        from_offset: int,
        limit: int,
        to_offset: int | None,
        key: str | None,
        header: tuple[str, str] | None,
    ) -> list[StoredEvent]:
        found: list[StoredEvent] = []
        if limit <= 0:
            return found
        for event in self._existing(topic, partition).scan(from_offset, to_offset, key):
            if header is not None and (
                event.headers is None or event.headers.get(header[0]) != header[1]
            ):
                continue
            found.append(detached_event(event))
            if len(found) >= limit:
                break
        return found

    def fence_tokens(
        self, topic: str, partition: int, from_offset: int, limit: int
    ) -> list[tuple[int, int | None]]:
        log = self._existing(topic, partition)
        found: list[tuple[int, int | None]] = []
        for event in log.scan(from_offset):
            if len(found) >= limit:
                break
            found.append((event.offset, log.tokens.get(event.offset)))
        return found

    def offset_for_timestamp(self, topic: str, partition: int, ts_ms: int) -> int:
        log = self._existing(topic, partition)
        for event in log.scan(0):
            if event.ts >= ts_ms:
                return event.offset
        return log.next_offset

    def latest_offset(self, topic: str, partition: int) -> int:
        return self._existing(topic, partition).next_offset - 1

    def earliest_offset(self, topic: str, partition: int) -> int:
        log = self._existing(topic, partition)
        return log.offsets[0] if log.offsets else log.next_offset

    def find_ids(self, topic: str, ids: Sequence[str]) -> dict[str, tuple[int, int]]:
        topic_log = self._topics.get(topic)
        if topic_log is None:
            return {}
        return {id_: topic_log.ids[id_] for id_ in ids if id_ in topic_log.ids}

    def latest_by_key(self, topic: str, key: str) -> StoredEvent | None:
        topic_log = self._topics.get(topic)
        if topic_log is None:
            return None
        best: StoredEvent | None = None
        for partition in sorted(topic_log.partitions):
            log = topic_log.partitions[partition]
            offsets = log.key_offsets.get(key)
            if offsets and (best is None or offsets[-1] > best.offset):
                best = log.events[offsets[-1]]
        return None if best is None else detached_event(best)

    def _remove(self, topic: str, partition: int, doomed: Collection[int]) -> int:
        topic_log = self._topics.get(topic)
        if topic_log is None or partition not in topic_log.partitions:
            return 0
        removed = topic_log.partitions[partition].remove(doomed)
        for event in removed:
            topic_log.ids.pop(event.id, None)
        return len(removed)

    def compact(self, topic: str, partition: int, below_offset: int) -> int:
        log = self._existing(topic, partition)
        doomed: list[int] = []
        for offsets in log.key_offsets.values():
            below = bisect_left(offsets, below_offset)
            if below > 1:
                doomed.extend(offsets[: below - 1])
        return self._remove(topic, partition, doomed)

    def delete_tombstones(
        self, topic: str, partition: int, below_offset: int, ts_before_ms: int
    ) -> int:
        log = self._existing(topic, partition)
        doomed: list[int] = []
        for offsets in log.key_offsets.values():
            last = log.events[offsets[-1]]
            if last.offset < below_offset and last.ts < ts_before_ms and last.is_tombstone:
                doomed.append(last.offset)
        return self._remove(topic, partition, doomed)

    def delete_below(
        self, topic: str, partition: int, below_offset: int, ts_before_ms: int | None
    ) -> int:
        log = self._existing(topic, partition)
        doomed = [
            event.offset
            for event in log.scan(0, below_offset - 1)
            if ts_before_ms is None or event.ts < ts_before_ms
        ]
        return self._remove(topic, partition, doomed)

    def count_events(self, topic: str, partition: int | None) -> int:
        topic_log = self._topics.get(topic)
        if topic_log is None:
            return 0
        if partition is not None:
            return len(self._existing(topic, partition).offsets)
        return sum(len(log.offsets) for log in topic_log.partitions.values())

    def total_events(self) -> int:
        return sum(self.count_events(topic, None) for topic in self._topics)

    def partition_count(self) -> int:
        """How many (topic, partition) offset counters exist."""
        return sum(len(t.partitions) for t in self._topics.values())
