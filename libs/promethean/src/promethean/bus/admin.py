"""Operator actions on groups and topics: rewind a group's offsets, delete a
group, delete a topic. Like ``kafka-consumer-groups --reset-offsets``, each
is refused while the group (or, for a topic, any group) has live members on
the topic, so nobody's in-flight work or commits race the change.

Offsets here are committed offsets, "the last offset done": a group whose
commit is ``C`` is delivered ``C + 1`` next. ``to=offset`` takes the offset
to deliver next (``value``), so its commit is ``value - 1``, clamped to what
the partition holds.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Final

from promethean.bus.coordinator import Coordinator
from promethean.bus.engine import BusEngine
from promethean.errors import PrometheanError
from promethean.names import DLQ_SUFFIX

GROUP_ACTIVE: Final = "group_active"
NOT_FOUND: Final = "not_found"
BAD_FIELD: Final = "bad_field"

MSG_ACTIVE: Final = (
    "group {group} has live members on {topic}; stop them first (offsets can only be"
    " changed while the group is empty)"
)
MSG_TOPIC_ACTIVE: Final = "topic {topic} has live subscribers ({groups}); stop them first"
MSG_NO_TOPIC: Final = "no topic {topic}"
MSG_NO_GROUP: Final = "group {group} has no commit on {topic}"
MSG_NEEDS_VALUE: Final = "to={to} needs an integer value"
MSG_BAD_PARTITION: Final = "{topic} has partitions 0..{last}; {partition} is not one"


class AdminError(PrometheanError):
    """A refused admin action; ``code`` is the API's error code."""

    def __init__(self, msg: str, *, code: str, status: int) -> None:
        super().__init__(msg, code=code)
        self.status = status


class ResetTo(enum.StrEnum):
    EARLIEST = "earliest"
    LATEST = "latest"
    OFFSET = "offset"
    TIMESTAMP = "timestamp"


class GroupAdmin:
    def __init__(self, engine: BusEngine, coordinator: Coordinator | None) -> None:
        self._engine = engine
        self._coordinator = coordinator

    def live_members(self, group: str, topic: str) -> int:
        """Consumers of ``group`` reading ``topic`` now, including partitioned
        members whose session is still open."""
        state = self._engine.group(group, topic)
        live = len(state.subs) if state is not None else 0
        view = self._coordinator.group(group) if self._coordinator is not None else None
        if view is not None:
            live += sum(1 for m in view.members.values() if topic in m.topics and m.link is None)
        return live

    def _refuse_if_live(self, group: str, topic: str) -> None:
        if self.live_members(group, topic):
            raise AdminError(
                MSG_ACTIVE.format(group=group, topic=topic), code=GROUP_ACTIVE, status=409
            )

    async def _partitions(self, topic: str, wanted: Sequence[int] | None) -> list[int]:
        config = await self._engine.topics.get(topic)
        if config is None:
            raise AdminError(MSG_NO_TOPIC.format(topic=topic), code=NOT_FOUND, status=404)
        if wanted is None:
            return list(range(config.partitions))
        for partition in wanted:
            if not 0 <= partition < config.partitions:
                raise AdminError(
                    MSG_BAD_PARTITION.format(
                        topic=topic, last=config.partitions - 1, partition=partition
                    ),
                    code=BAD_FIELD,
                    status=400,
                )
        return sorted(set(wanted))

    async def _target(self, topic: str, partition: int, to: ResetTo, value: int | None) -> int:
        store = self._engine.store
        earliest = await store.earliest_offset(topic, partition)
        latest = await store.latest_offset(topic, partition)
        if to is ResetTo.EARLIEST:
            return earliest - 1
        if to is ResetTo.LATEST:
            return latest
        if value is None:
            raise AdminError(MSG_NEEDS_VALUE.format(to=to), code=BAD_FIELD, status=400)
        if to is ResetTo.TIMESTAMP:
            next_offset = await store.offset_for_timestamp(topic, partition, value)
        else:
            next_offset = value
        return min(latest, max(earliest - 1, next_offset - 1))

    async def reset_offsets(
        self,
        group: str,
        topic: str,
        to: ResetTo,
        value: int | None = None,
        partitions: Sequence[int] | None = None,
    ) -> dict[int, int]:
        """Set the group's commits; returns partition → new committed offset."""
        chosen = await self._partitions(topic, partitions)
        if to in (ResetTo.OFFSET, ResetTo.TIMESTAMP) and value is None:
            raise AdminError(MSG_NEEDS_VALUE.format(to=to), code=BAD_FIELD, status=400)
        async with self._engine.group_lock(group, topic):
            self._refuse_if_live(group, topic)
            offsets = {p: await self._target(topic, p, to, value) for p in chosen}
            rows = await self._engine.store.reset_commits(group, topic, offsets)
        return {p: row.offset for p, row in sorted(rows.items())}

    async def delete_group(self, group: str, topic: str) -> None:
        await self._partitions(topic, None)
        async with self._engine.group_lock(group, topic):
            self._refuse_if_live(group, topic)
            if not await self._engine.store.delete_group(group, topic):
                raise AdminError(
                    MSG_NO_GROUP.format(group=group, topic=topic), code=NOT_FOUND, status=404
                )

    async def delete_topic(self, topic: str, *, dlq: bool) -> bool:
        """Delete ``topic`` (and its DLQ when ``dlq``); returns whether a DLQ
        was deleted."""
        await self._partitions(topic, None)
        topics = [topic] + ([topic + DLQ_SUFFIX] if dlq else [])
        for name in topics:
            groups = await self._engine.store.groups_for_topic(name)
            live = sorted(
                {s.group for s in self._engine.groups() if s.topic == name and s.subs}
                | {g for g in groups if self.live_members(g, name)}
            )
            if live:
                raise AdminError(
                    MSG_TOPIC_ACTIVE.format(topic=name, groups=", ".join(live)),
                    code=GROUP_ACTIVE,
                    status=409,
                )
        dlq_deleted = False
        for name in topics:
            self._engine.forget_topic(name)
            existed = await self._engine.store.delete_topic(name)
            self._engine.forget_topic(name)
            if name != topic:
                dlq_deleted = existed
        return dlq_deleted
