"""Read-only summaries the console shows, computed from the store and the
live engine: the overview (services alive, rates, total lag, DLQ depth),
every group with its lag, one group in detail, one message with its
delivery attempts. Each is bounded by `MAX_TOPICS` / `MAX_GROUPS`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import msgspec

from promethean.bus import BusEngine
from promethean.bus.group import GroupTopic
from promethean.names import DLQ_SUFFIX
from promethean.runtime.heartbeat import HEARTBEAT_TOPIC
from promethean.schemas.subjects import value_subject
from promethean.store.records import StoredEvent, TopicConfig
from promethean_broker.admin import event_json

MAX_TOPICS: Final = 1000
MAX_GROUPS: Final = 1000
HEARTBEATS_PER_PARTITION: Final = 200
"""How far back each heartbeat partition is read to find every live service."""
ALIVE_BEATS: Final = 3
"""A service is alive while its last heartbeat is younger than this many intervals."""


def is_dlq(topic: str) -> bool:
    return topic.endswith(DLQ_SUFFIX)


@dataclass(slots=True)
class RateMeter:
    """Per-second rate of a growing counter, from samples at least
    ``min_interval_s`` apart (so every viewer sees the same figure)."""

    min_interval_s: float = 1.0
    rate: float = 0.0
    _last: tuple[float, float] | None = None

    def sample(self, total: float, now: float) -> float:
        if self._last is None:
            self._last = (now, total)
            return self.rate
        then, before = self._last
        if now - then >= self.min_interval_s:
            self.rate = max(0.0, total - before) / (now - then)
            self._last = (now, total)
        return self.rate


class Views:
    def __init__(
        self,
        engine: Callable[[], BusEngine],
        counters: Callable[[], tuple[float, float]],
        heartbeat_ms: int,
    ) -> None:
        self._engine = engine
        self._counters = counters
        self._heartbeat_ms = heartbeat_ms
        self.publish_rate = RateMeter()
        self.delivery_rate = RateMeter()

    @property
    def engine(self) -> BusEngine:
        return self._engine()

    async def topics(self) -> list[TopicConfig]:
        topics = await self.engine.store.list_topics()
        return sorted(topics, key=lambda t: t.name)[:MAX_TOPICS]

    async def latest(self, config: TopicConfig) -> dict[int, int]:
        store = self.engine.store
        return {p: await store.latest_offset(config.name, p) for p in range(config.partitions)}

    def live_group(self, group: str, topic: str) -> GroupTopic | None:
        """The engine's state of a group with subscribers; a group nobody
        subscribes to is what the store says (an admin may have reset it)."""
        state = self.engine.group(group, topic)
        return state if state is not None and state.subs else None

    async def lag_rows(self, config: TopicConfig, group: str, latest: dict[int, int]) -> list[Any]:
        commits = await self.engine.store.get_commits(group, config.name)
        live = self.live_group(group, config.name)
        rows = []
        for p, high in latest.items():
            committed = commits[p].offset if p in commits else -1
            inflight = 0
            if live is not None and p in live.cursors and self.engine.writes(config.name, p):
                committed = max(committed, live.cursors[p].committed)
                inflight = len(live.cursors[p].inflight)
            rows.append(
                {
                    "partition": p,
                    "committed": committed,
                    "latest": high,
                    "lag": max(0, high - committed),
                    "inflight": inflight,
                }
            )
        return rows

    async def groups(self) -> list[dict[str, Any]]:
        """One row per (group, topic) holding a commit or a live subscription."""
        engine = self.engine
        rows: list[dict[str, Any]] = []
        for config in await self.topics():
            names = set(await engine.store.groups_for_topic(config.name))
            names |= {g.group for g in engine.groups() if g.topic == config.name and g.subs}
            if not names:
                continue
            latest = await self.latest(config)
            for group in sorted(names):
                parts = await self.lag_rows(config, group, latest)
                live = self.live_group(group, config.name)
                rows.append(
                    {
                        "group": group,
                        "topic": config.name,
                        "lag": sum(r["lag"] for r in parts),
                        "inflight": sum(r["inflight"] for r in parts),
                        "subscribers": len(live.subs) if live is not None else 0,
                    }
                )
                if len(rows) >= MAX_GROUPS:
                    return rows
        return rows

    async def latest_schema(self, topic: str) -> dict[str, Any]:
        """The topic's value subject with its latest live version and id
        (both null while no schema is registered under it)."""
        subject = value_subject(topic)
        live = [v for v in await self.engine.store.list_schema_versions(subject) if not v.deleted]
        latest = live[-1] if live else None
        return {
            "subject": subject,
            "version": latest.version if latest else None,
            "id": latest.id if latest else None,
        }

    async def topic_rows(self) -> list[dict[str, Any]]:
        """Every topic's settings (``validate`` among them) with its
        partitions' offsets, event count and value schema."""
        store = self.engine.store
        rows = []
        for config in await self.topics():
            offsets = [
                {
                    "partition": p,
                    "earliest": await store.earliest_offset(config.name, p),
                    "latest": await store.latest_offset(config.name, p),
                }
                for p in range(config.partitions)
            ]
            rows.append(
                {
                    **msgspec.to_builtins(config),
                    "offsets": offsets,
                    "events": await store.count_events(config.name),
                    "groups": sorted(await store.groups_for_topic(config.name)),
                    "schema": await self.latest_schema(config.name),
                }
            )
        return rows

    async def group(self, group: str) -> dict[str, Any]:
        store = self.engine.store
        topics = []
        for config in await self.topics():
            live = self.live_group(group, config.name) is not None
            if live or group in await store.groups_for_topic(config.name):
                parts = await self.lag_rows(config, group, await self.latest(config))
                topics.append(
                    {
                        "topic": config.name,
                        "lag": sum(r["lag"] for r in parts),
                        "partitions": parts,
                    }
                )
        members = await store.list_members(group)
        state = await store.get_group_state(group)
        return {
            "group": group,
            "generation": state.generation if state else 0,
            "members": [msgspec.to_builtins(m) for m in members],
            "assignment": state.assignment if state else {},
            "log": state.data.get("log", []) if state else [],
            "topics": topics,
            "subscribers": sum(len(g.subs) for g in self.engine.groups() if g.group == group),
        }

    async def services(self, now_ms: int) -> list[dict[str, Any]]:
        """The newest heartbeat of every process seen on ``heartbeat.received``."""
        store = self.engine.store
        config = await self.engine.topics.get(HEARTBEAT_TOPIC)
        newest: dict[str, dict[str, Any]] = {}
        if config is None:
            return []
        for p in range(config.partitions):
            high = await store.latest_offset(HEARTBEAT_TOPIC, p)
            start = max(0, high - HEARTBEATS_PER_PARTITION + 1)
            for event in await store.read(HEARTBEAT_TOPIC, p, start, HEARTBEATS_PER_PARTITION):
                record = _heartbeat(event)
                key = event.key or event.id
                if record is not None and record.get("ts", 0) >= newest.get(key, {}).get("ts", -1):
                    newest[key] = record
        alive_ms = ALIVE_BEATS * self._heartbeat_ms
        rows = [
            {**record, "key": key, "alive": now_ms - int(record.get("ts", 0)) <= alive_ms}
            for key, record in newest.items()
        ]
        return sorted(rows, key=lambda r: (str(r.get("name")), r["key"]))

    async def overview(self) -> dict[str, Any]:
        engine = self.engine
        now_ms = engine.clock.now_ms()
        published, delivered = self._counters()
        mono = time.monotonic()
        topics = await self.topics()
        dlq_depth = 0
        events = 0
        for config in topics:
            count = await engine.store.count_events(config.name)
            events += count
            if is_dlq(config.name):
                dlq_depth += count
        groups = await self.groups()
        return {
            "ts": now_ms,
            "services": await self.services(now_ms),
            "publish_rate": round(self.publish_rate.sample(published, mono), 2),
            "delivery_rate": round(self.delivery_rate.sample(delivered, mono), 2),
            "published_total": published,
            "delivered_total": delivered,
            "total_lag": sum(g["lag"] for g in groups),
            "dlq_depth": dlq_depth,
            "topics": len(topics),
            "groups": len({g["group"] for g in groups}),
            "events": events,
            "inflight": sum(g.inflight for g in engine.groups()),
        }

    async def message(self, topic: str, partition: int, offset: int) -> dict[str, Any] | None:
        """One stored event and, per group, its delivery attempt: the one in
        flight now, else how many failed (counted durably until committed)."""
        store = self.engine.store
        found = await store.read(topic, partition, offset, 1, to_offset=offset)
        if not found:
            return None
        attempts = {}
        live = {g.group: g for g in self.engine.groups() if g.topic == topic}
        for group in sorted(set(await store.groups_for_topic(topic)) | set(live)):
            counts = await store.get_attempts(group, topic, partition, offset)
            attempt = counts.get(offset, 0)
            state = live.get(group)
            cursor = state.cursors.get(partition) if state is not None else None
            flight = cursor.inflight.get(offset) if cursor is not None else None
            if flight is not None:
                attempt = max(attempt, flight.attempt)
            if attempt:
                attempts[group] = attempt
        return {**event_json(found[0]), "attempts": attempts}


def _heartbeat(event: StoredEvent) -> dict[str, Any] | None:
    try:
        record = msgspec.json.decode(event.payload)
    except msgspec.DecodeError:
        return None
    return record if isinstance(record, dict) else None
