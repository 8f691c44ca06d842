"""Dead-letter queues in the admin API: list them, read their records with
the reasons, replay records onto their original topic, purge a DLQ.

    GET    /dlq                      every ``<topic>.DLQ`` with its depth
    GET    /dlq/{topic}?limit=&from= records of ``{topic}.DLQ``, oldest first
    POST   /dlq/{topic}/replay       {"events": [{"partition", "offset"}]} or
                                     {"all": true, "from"?: {"<p>": offset}, "max"?}
    DELETE /dlq/{topic}              purge every record of ``{topic}.DLQ``

A replay re-publishes a record without its ``x-dlq-*`` headers under the id
``replay/<dlq id>`` (as ``promethean dlq replay`` does), so replaying a
record twice, from here or the CLI, stores it once. ``all`` replays are
paged: each call scans at most ``max`` records and says where to go on
from, which is how the console shows its progress. Replays and purges are
recorded on ``system.bus.audit`` (``dlq_replay``, ``dlq_purge``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

import msgspec
from aiohttp import web

from promethean.bus import BusEngine, PublishRequest
from promethean.bus.dlq import (
    H_ATTEMPTS,
    H_GROUP,
    H_ORIGINAL_OFFSET,
    H_ORIGINAL_PARTITION,
    H_ORIGINAL_TOPIC,
    H_REASON,
    strip_dlq_headers,
)
from promethean.frames.codes import ErrorCode
from promethean.names import DLQ_SUFFIX, dlq_topic, is_valid_name
from promethean.runtime.http import error_response, json_response
from promethean.store.records import StoredEvent, TopicConfig
from promethean_broker.admin import event_json

DEFAULT_LIMIT: Final = 200
MAX_LIMIT: Final = 500
MAX_SELECTED: Final = 500
REPLAY_ID_PREFIX: Final = "replay/"
H_REPLAYED_FROM: Final = "x-replayed-from"


class Position(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    partition: int
    offset: int


class ReplayRequest(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    events: list[Position] | None = None
    all: bool = False
    max: int = DEFAULT_LIMIT
    start: dict[str, int] | None = msgspec.field(default=None, name="from")


class DlqError(Exception):
    def __init__(self, status: int, code: str, msg: str) -> None:
        super().__init__(msg)
        self.response = error_response(status, code, msg)


def replay_id(dlq_event_id: str) -> str:
    return REPLAY_ID_PREFIX + dlq_event_id


def dlq_record(event: StoredEvent, replayed: bool) -> dict[str, Any]:
    headers = event.headers or {}
    return {
        **event_json(event),
        "reason": headers.get(H_REASON),
        "group": headers.get(H_GROUP),
        "attempts": int(headers.get(H_ATTEMPTS, "0") or 0),
        "original": {
            "topic": headers.get(H_ORIGINAL_TOPIC),
            "partition": int(headers.get(H_ORIGINAL_PARTITION, "-1") or -1),
            "offset": int(headers.get(H_ORIGINAL_OFFSET, "-1") or -1),
        },
        "replayed": replayed,
    }


def _positions(raw: str | None) -> dict[int, int]:
    """``"0:12,3:40"`` → {0: 12, 3: 40}; `DlqError` when malformed."""
    if not raw:
        return {}
    out: dict[int, int] = {}
    try:
        for item in raw.split(",")[:1024]:
            partition, _, offset = item.partition(":")
            out[int(partition)] = int(offset)
    except ValueError:
        raise DlqError(400, ErrorCode.BAD_FIELD, "from must look like 0:12,1:40") from None
    return out


class DlqAdmin:
    def __init__(
        self,
        get_engine: Callable[[], BusEngine],
        audit: Callable[[dict[str, Any]], None] = lambda record: None,
    ) -> None:
        self._get_engine = get_engine
        self._audit = audit

    @property
    def engine(self) -> BusEngine:
        return self._get_engine()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/dlq", self.list_dlqs),
            web.get("/dlq/{topic}", self.records),
            web.post("/dlq/{topic}/replay", self.replay),
            web.delete("/dlq/{topic}", self.purge),
        ]

    async def _config(self, request: web.Request) -> TopicConfig:
        topic = request.match_info["topic"]
        if not is_valid_name(topic) or not is_valid_name(dlq_topic(topic)):
            raise DlqError(400, ErrorCode.BAD_NAME, "invalid topic name")
        config = await self.engine.topics.get(dlq_topic(topic))
        if config is None:
            raise DlqError(404, "not_found", f"no dead-letter queue for {topic}")
        return config

    async def list_dlqs(self, request: web.Request) -> web.Response:
        return json_response(await self.dlq_rows())

    async def dlq_rows(self) -> dict[str, Any]:
        """Every ``<topic>.DLQ`` with its depth (records stored)."""
        store = self.engine.store
        rows = []
        for config in sorted(await store.list_topics(), key=lambda t: t.name):
            if config.name.endswith(DLQ_SUFFIX):
                rows.append(
                    {
                        "topic": config.name.removesuffix(DLQ_SUFFIX),
                        "dlq": config.name,
                        "depth": await store.count_events(config.name),
                        "partitions": config.partitions,
                    }
                )
        return {"dlqs": rows}

    async def _scan(
        self, config: TopicConfig, start: dict[int, int], limit: int
    ) -> tuple[list[StoredEvent], dict[int, int]]:
        """Up to ``limit`` records from ``start`` (earliest where absent),
        oldest first, and the positions to go on from."""
        store = self.engine.store
        events: list[StoredEvent] = []
        following: dict[int, int] = {}
        for p in range(config.partitions):
            begin = max(start.get(p, 0), await store.earliest_offset(config.name, p))
            events.extend(await store.read(config.name, p, begin, limit))
            following[p] = begin
        events.sort(key=lambda e: (e.ts, e.partition, e.offset))
        events = events[:limit]
        for event in events:
            following[event.partition] = max(following[event.partition], event.offset + 1)
        return events, following

    async def _replayed(self, events: list[StoredEvent], base_topic: str) -> set[str]:
        """DLQ ids among ``events`` already replayed onto their original topic."""
        by_topic: dict[str, list[str]] = {}
        for event in events:
            original = (event.headers or {}).get(H_ORIGINAL_TOPIC, base_topic)
            by_topic.setdefault(original, []).append(replay_id(event.id))
        done: set[str] = set()
        for topic, ids in by_topic.items():
            if await self.engine.topics.get(topic) is None:
                continue
            found = await self.engine.store.find_ids(topic, ids)
            done |= {i.removeprefix(REPLAY_ID_PREFIX) for i in found}
        return done

    async def records(self, request: web.Request) -> web.Response:
        try:
            config = await self._config(request)
            start = _positions(request.query.get("from"))
            limit = _limit(request.query.get("limit"))
        except DlqError as err:
            return err.response
        base = config.name.removesuffix(DLQ_SUFFIX)
        events, following = await self._scan(config, start, limit)
        replayed = await self._replayed(events, base)
        depth = await self.engine.store.count_events(config.name)
        return json_response(
            {
                "topic": base,
                "dlq": config.name,
                "depth": depth,
                "records": [dlq_record(e, e.id in replayed) for e in events],
                "next": {str(p): o for p, o in following.items()},
            }
        )

    async def replay(self, request: web.Request) -> web.Response:
        try:
            config = await self._config(request)
            body = msgspec.json.decode(await request.read(), type=ReplayRequest)
        except DlqError as err:
            return err.response
        except msgspec.ValidationError as err:
            return error_response(400, ErrorCode.BAD_FIELD, str(err))
        except msgspec.DecodeError as err:
            return error_response(400, ErrorCode.BAD_JSON, str(err))
        base = config.name.removesuffix(DLQ_SUFFIX)
        if body.all == (body.events is not None):
            return error_response(400, ErrorCode.BAD_FIELD, "give either events or all: true")
        if not 1 <= body.max <= MAX_LIMIT:
            return error_response(400, ErrorCode.BAD_FIELD, f"max must be 1..{MAX_LIMIT}")
        if body.events is not None:
            if len(body.events) > MAX_SELECTED:
                return error_response(400, ErrorCode.BAD_FIELD, f"at most {MAX_SELECTED} events")
            events = await self._selected(config, body.events)
            following: dict[int, int] = {}
        else:
            start = {int(p): o for p, o in (body.start or {}).items() if p.isdigit()}
            events, following = await self._scan(config, start, body.max)
        replayed = await self._publish(config.name, base, events)
        self._audit(
            {
                "action": "dlq_replay",
                "topic": base,
                "replayed": replayed,
                "skipped": len(events) - replayed,
                "ts": self.engine.clock.now_ms(),
            }
        )
        return json_response(
            {
                "topic": base,
                "scanned": len(events),
                "replayed": replayed,
                "skipped": len(events) - replayed,
                "next": {str(p): o for p, o in following.items()},
                "done": body.events is not None or len(events) < body.max,
            }
        )

    async def _selected(self, config: TopicConfig, chosen: list[Position]) -> list[StoredEvent]:
        store = self.engine.store
        events = []
        for pos in chosen:
            if 0 <= pos.partition < config.partitions and pos.offset >= 0:
                found = await store.read(
                    config.name, pos.partition, pos.offset, 1, to_offset=pos.offset
                )
                events.extend(found)
        return events

    async def _publish(self, dlq: str, base: str, events: list[StoredEvent]) -> int:
        requests = []
        for event in events:
            headers = event.headers or {}
            original = headers.get(H_ORIGINAL_TOPIC, base)
            replay_headers = strip_dlq_headers(headers)
            replay_headers[H_REPLAYED_FROM] = f"{dlq}/{event.partition}/{event.offset}"
            requests.append(
                PublishRequest(
                    topic=original,
                    payload=event.payload,
                    key=event.key,
                    headers=replay_headers,
                    id=replay_id(event.id),
                    caused_by=[event.id],
                )
            )
        if not requests:
            return 0
        results = await self.engine.publish(requests)
        return sum(1 for r in results if not r.duplicate)

    async def purge(self, request: web.Request) -> web.Response:
        try:
            config = await self._config(request)
        except DlqError as err:
            return err.response
        store = self.engine.store
        purged = 0
        for p in range(config.partitions):
            high = await store.latest_offset(config.name, p)
            purged += await store.delete_below(config.name, p, high + 1)
        base = config.name.removesuffix(DLQ_SUFFIX)
        now = self.engine.clock.now_ms()
        self._audit({"action": "dlq_purge", "topic": base, "purged": purged, "ts": now})
        return json_response({"topic": base, "purged": purged})


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_LIMIT
    if not raw.isdigit() or not 1 <= int(raw) <= MAX_LIMIT:
        raise DlqError(400, ErrorCode.BAD_FIELD, f"limit must be 1..{MAX_LIMIT}")
    return int(raw)
