"""The broker's admin HTTP API. Every answer is JSON; every refusal is a
4xx with ``{"error": {"code", "msg"}}``; names are validated before use."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import web

from promethean.bus import BusEngine
from promethean.bus.admin import AdminError, GroupAdmin, ResetTo
from promethean.bus.coordinator import Coordinator
from promethean.frames.codes import ErrorCode
from promethean.names import is_valid_name
from promethean.runtime.http import error_response, json_response
from promethean.store.records import Cleanup, StoredEvent, TopicConfig

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
Audit = Callable[[dict[str, Any]], None]
_json = msgspec.json.Encoder()


_HTTP_ERROR_CODES: dict[int, str] = {
    404: "not_found",
    405: "method_not_allowed",
    413: ErrorCode.PAYLOAD_TOO_LARGE,
}


@web.middleware
async def json_errors(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Refusals raised by aiohttp itself (no such route, wrong method, body
    too large) answer in the same JSON shape as the API's own."""
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if not 400 <= exc.status < 500 or exc.content_type == "application/json":
            raise
        code = _HTTP_ERROR_CODES.get(exc.status, "bad_request")
        return error_response(exc.status, code, exc.reason)


def _name_param(request: web.Request, name: str) -> str:
    value = request.match_info.get(name) or request.query.get(name)
    if value is None:
        raise web.HTTPBadRequest(
            body=_json.encode({"error": {"code": "missing_field", "msg": f"{name} is required"}}),
            content_type="application/json",
        )
    if not is_valid_name(value):
        raise web.HTTPBadRequest(
            body=_json.encode({"error": {"code": "bad_name", "msg": f"invalid {name} name"}}),
            content_type="application/json",
        )
    return value


class TopicCreate(msgspec.Struct, forbid_unknown_fields=True):
    name: str
    partitions: int | None = None
    max_attempts: int | None = None
    cleanup: Cleanup | None = None
    retention_ms: int | None = None
    retention_events: int | None = None
    retention_force: bool | None = None
    tombstone_retention_ms: int | None = None
    snapshot_every: int | None = None
    compact_beyond_commits: bool | None = None
    validate: bool | None = None


def event_json(event: StoredEvent) -> dict[str, Any]:
    return {
        "topic": event.topic,
        "partition": event.partition,
        "offset": event.offset,
        "id": event.id,
        "ts": event.ts,
        "key": event.key,
        "headers": event.headers,
        "payload": msgspec.Raw(event.payload),
    }


class OffsetReset(msgspec.Struct, forbid_unknown_fields=True):
    """The body of ``POST /groups/{group}/reset-offsets``."""

    topic: str
    to: ResetTo
    value: int | None = None
    partitions: list[int] | None = None


def _bool_param(request: web.Request, name: str) -> bool:
    value = request.query.get(name, "false").lower()
    if value not in ("true", "false", "1", "0"):
        raise web.HTTPBadRequest(
            body=_json.encode(
                {"error": {"code": ErrorCode.BAD_FIELD, "msg": f"{name} must be true or false"}}
            ),
            content_type="application/json",
        )
    return value in ("true", "1")


class AdminApi:
    """Routes read the engine through ``get_engine`` so a standby broker can
    serve them with 503 until it leads. Changes (offset resets, deletions)
    are refused while the group is live and recorded through ``audit``."""

    def __init__(
        self,
        get_engine: Callable[[], BusEngine],
        get_coordinator: Callable[[], Coordinator | None] = lambda: None,
        audit: Audit | None = None,
    ) -> None:
        self._get_engine = get_engine
        self._get_coordinator = get_coordinator
        self._audit = audit or (lambda record: None)

    @property
    def engine(self) -> BusEngine:
        return self._get_engine()

    def routes(self) -> list[web.RouteDef]:
        """Who may call them is the access middleware's business (`promethean_broker.access`)."""
        return [
            web.post("/topics", self.create_topic),
            web.get("/topics", self.list_topics),
            web.get("/topics/{topic}/offsets", self.offsets),
            web.get("/groups/{group}", self.group),
            web.post("/groups/{group}/reset-offsets", self.reset_offsets),
            web.delete("/groups/{group}", self.delete_group),
            web.delete("/topics/{topic}", self.delete_topic),
            web.get("/lag", self.lag),
            web.get("/cursors", self.cursors),
            web.get("/latest-by-key", self.latest_by_key),
            web.get("/stats", self.stats),
        ]

    async def create_topic(self, request: web.Request) -> web.Response:
        try:
            body = msgspec.json.decode(await request.read(), type=TopicCreate)
        except msgspec.ValidationError as err:
            return error_response(400, ErrorCode.BAD_FIELD, str(err))
        except msgspec.DecodeError as err:
            return error_response(400, ErrorCode.BAD_JSON, str(err))
        if not is_valid_name(body.name):
            return error_response(400, ErrorCode.BAD_NAME, "invalid topic name")
        if body.partitions is not None and not 1 <= body.partitions <= 1024:
            return error_response(400, ErrorCode.BAD_FIELD, "partitions must be 1..1024")
        if body.max_attempts is not None and not 1 <= body.max_attempts <= 1000:
            return error_response(400, ErrorCode.BAD_FIELD, "max_attempts must be 1..1000")
        existing = await self.engine.topics.get(body.name)
        base = existing or TopicConfig(
            name=body.name,
            partitions=self.engine.config.default_partitions,
            max_attempts=self.engine.config.default_max_attempts,
            created_ms=self.engine.clock.now_ms(),
        )
        changes = {k: v for k, v in msgspec.structs.asdict(body).items() if v is not None}
        config = msgspec.structs.replace(base, **changes)
        if existing is None:
            config = self.engine.topics.retention.apply(config)
        try:
            stored = await self.engine.put_topic(config)
        except ValueError as err:
            return error_response(409, "conflict", str(err))
        return json_response(msgspec.to_builtins(stored), 200 if existing else 201)

    def _admin(self) -> GroupAdmin:
        return GroupAdmin(self.engine, self._get_coordinator())

    def _record(self, action: str, **fields: Any) -> None:
        self._audit({"action": action, "ts": self.engine.clock.now_ms(), **fields})

    async def reset_offsets(self, request: web.Request) -> web.Response:
        group = _name_param(request, "group")
        try:
            body = msgspec.json.decode(await request.read(), type=OffsetReset)
        except msgspec.ValidationError as err:
            return error_response(400, ErrorCode.BAD_FIELD, str(err))
        except msgspec.DecodeError as err:
            return error_response(400, ErrorCode.BAD_JSON, str(err))
        if not is_valid_name(body.topic):
            return error_response(400, ErrorCode.BAD_NAME, "invalid topic name")
        try:
            offsets = await self._admin().reset_offsets(
                group, body.topic, body.to, body.value, body.partitions
            )
        except AdminError as err:
            return error_response(err.status, err.code, err.msg)
        shown = {str(p): o for p, o in offsets.items()}
        self._record(
            "reset_offsets",
            group=group,
            topic=body.topic,
            to=str(body.to),
            value=body.value,
            offsets=shown,
        )
        return json_response({"group": group, "topic": body.topic, "offsets": shown})

    async def delete_group(self, request: web.Request) -> web.Response:
        group = _name_param(request, "group")
        topic = _name_param(request, "topic")
        try:
            await self._admin().delete_group(group, topic)
        except AdminError as err:
            return error_response(err.status, err.code, err.msg)
        self._record("delete_group", group=group, topic=topic)
        return json_response({"group": group, "topic": topic, "deleted": True})

    async def delete_topic(self, request: web.Request) -> web.Response:
        topic = _name_param(request, "topic")
        dlq = _bool_param(request, "dlq")
        try:
            dlq_deleted = await self._admin().delete_topic(topic, dlq=dlq)
        except AdminError as err:
            return error_response(err.status, err.code, err.msg)
        self._record("delete_topic", topic=topic, dlq_deleted=dlq_deleted)
        return json_response({"topic": topic, "deleted": True, "dlq_deleted": dlq_deleted})

    async def list_topics(self, request: web.Request) -> web.Response:
        topics = await self.engine.store.list_topics()
        return json_response({"topics": [msgspec.to_builtins(t) for t in topics]})

    async def _partition_offsets(self, topic: str) -> list[dict[str, int]] | None:
        config = await self.engine.topics.get(topic)
        if config is None:
            return None
        store = self.engine.store
        return [
            {
                "partition": p,
                "earliest": await store.earliest_offset(topic, p),
                "latest": await store.latest_offset(topic, p),
            }
            for p in range(config.partitions)
        ]

    async def offsets(self, request: web.Request) -> web.Response:
        topic = _name_param(request, "topic")
        partitions = await self._partition_offsets(topic)
        if partitions is None:
            return error_response(404, "not_found", f"no topic {topic}")
        return json_response({"topic": topic, "partitions": partitions})

    async def _lag(self, topic: str, group: str) -> dict[str, Any] | None:
        partitions = await self._partition_offsets(topic)
        if partitions is None:
            return None
        commits = await self.engine.store.get_commits(group, topic)
        live = self.engine.group(group, topic)
        rows = []
        for p in partitions:
            # Another broker's partition: its cursor here stands still; the store has the commit.
            here = live if self.engine.writes(topic, p["partition"]) else None
            committed = commits[p["partition"]].offset if p["partition"] in commits else -1
            if here is not None and p["partition"] in here.cursors:
                committed = max(committed, here.cursors[p["partition"]].committed)
            rows.append(
                {
                    "partition": p["partition"],
                    "committed": committed,
                    "latest": p["latest"],
                    "lag": max(0, p["latest"] - committed),
                    "inflight": len(here.cursors[p["partition"]].inflight)
                    if here is not None and p["partition"] in here.cursors
                    else 0,
                }
            )
        return {
            "topic": topic,
            "group": group,
            "lag": sum(r["lag"] for r in rows),
            "partitions": rows,
        }

    async def lag(self, request: web.Request) -> web.Response:
        topic = _name_param(request, "topic")
        group = _name_param(request, "group")
        body = await self._lag(topic, group)
        if body is None:
            return error_response(404, "not_found", f"no topic {topic}")
        return json_response(body)

    async def group(self, request: web.Request) -> web.Response:
        group = _name_param(request, "group")
        topics = sorted({t.name for t in await self.engine.store.list_topics()})
        rows = []
        for topic in topics:
            if group in await self.engine.store.groups_for_topic(topic):
                lag = await self._lag(topic, group)
                if lag is not None:
                    rows.append(lag)
        members = await self.engine.store.list_members(group)
        state = await self.engine.store.get_group_state(group)
        return json_response(
            {
                "group": group,
                "generation": state.generation if state else 0,
                "members": [msgspec.to_builtins(m) for m in members],
                "assignment": state.assignment if state else {},
                "log": state.data.get("log", []) if state else [],
                "topics": rows,
                "subscribers": sum(len(s.subs) for s in self.engine.groups() if s.group == group),
            }
        )

    async def cursors(self, request: web.Request) -> web.Response:
        topic = _name_param(request, "topic")
        groups = await self.engine.store.groups_for_topic(topic)
        body = []
        for group in sorted(groups):
            commits = await self.engine.store.get_commits(group, topic)
            body.append(
                {
                    "group": group,
                    "partitions": {str(p): c.offset for p, c in sorted(commits.items())},
                }
            )
        return json_response({"topic": topic, "groups": body})

    async def latest_by_key(self, request: web.Request) -> web.Response:
        topic = _name_param(request, "topic")
        key = request.query.get("key")
        if key is None:
            return error_response(400, "missing_field", "key is required")
        event = await self.engine.store.latest_by_key(topic, key)
        if event is None:
            return error_response(404, "not_found", f"no event with key {key!r} in {topic}")
        return json_response(event_json(event))

    async def stats(self, request: web.Request) -> web.Response:
        store_stats = await self.engine.store.stats()
        return json_response(
            {
                "store": store_stats,
                "groups": len(self.engine.groups()),
                "inflight": sum(s.inflight for s in self.engine.groups()),
                "publish_queue": self.engine.queued_publishes,
            }
        )
