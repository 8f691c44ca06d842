"""The operator console at ``/console``: the built page (from
``services/broker/console``, shipped in ``console_static/``), and the
read-only JSON and live (server-sent events) views it shows.

    GET /console/                     the page; /console/static/* its assets
    GET /console/api/whoami           the signed-in role and subject
    GET /console/api/overview         services, rates, total lag, DLQ depth
    GET /console/api/topics           topics with offsets and settings
    GET /console/api/groups[/{group}] groups with lag; one group in detail
    GET /console/api/message?topic=&partition=&offset=   one event, its attempts
    GET /console/api/stream/{overview|topics|groups|groups/{group}|dlq}   SSE
    GET /console/api/tail/{topic}     SSE live tail (see `tail_stream`)

Everything it changes goes through the admin API (``/topics``, ``/groups``,
``/dlq``), guarded by `access`; DLQ replays and purges are recorded on
``system.bus.audit`` with the caller.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from importlib import resources
from pathlib import Path
from typing import Any, Final

from aiohttp import web
from prometheus_client import Counter

from promethean.bus import BusEngine
from promethean.frames.codes import ErrorCode
from promethean.names import is_valid_name
from promethean.runtime.http import error_response, json_response
from promethean_broker.access import AuditSink, caller_of
from promethean_broker.dlq_admin import DlqAdmin
from promethean_broker.metrics import BrokerMetrics
from promethean_broker.sse import Shared, Streams, snapshots
from promethean_broker.tail_stream import Tail
from promethean_broker.views import Views

STATIC_PACKAGE: Final = "promethean_broker"
STATIC_DIR: Final = "console_static"
CONTENT_TYPES: Final = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
}
SECURITY_HEADERS: Final = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}


def static_dir() -> Path:
    return Path(str(resources.files(STATIC_PACKAGE).joinpath(STATIC_DIR)))


def counter_total(counter: Counter) -> float:
    return sum(
        s.value for metric in counter.collect() for s in metric.samples if s.name.endswith("_total")
    )


class StaticFiles:
    """The built console, read once at start-up: nothing else can be served."""

    def __init__(self, root: Path) -> None:
        self.files: dict[str, tuple[bytes, str]] = {}
        if root.is_dir():
            for path in sorted(root.iterdir()):
                kind = CONTENT_TYPES.get(path.suffix)
                if path.is_file() and kind is not None:
                    self.files[path.name] = (path.read_bytes(), kind)

    def response(self, name: str) -> web.Response:
        found = self.files.get(name)
        if found is None:
            return error_response(404, "not_found", f"no console file {name}")
        body, kind = found
        return web.Response(body=body, headers={**SECURITY_HEADERS, "Content-Type": kind})

    async def index(self, request: web.Request) -> web.Response:
        return self.response("index.html")

    async def asset(self, request: web.Request) -> web.Response:
        return self.response(request.match_info["name"])


async def redirect(request: web.Request) -> web.Response:
    raise web.HTTPFound("/console/")


class Console:
    def __init__(
        self,
        get_engine: Callable[[], BusEngine],
        metrics: BrokerMetrics,
        *,
        heartbeat_ms: int,
        broker_id: str,
        audit: AuditSink,
    ) -> None:
        self.streams = Streams()

        def counters() -> tuple[float, float]:
            return counter_total(metrics.published_total), counter_total(metrics.delivered_total)

        self.views = Views(get_engine, counters, heartbeat_ms)
        self.tail = Tail(get_engine, self.streams)
        self.dlq = DlqAdmin(get_engine, audit)
        self.static = StaticFiles(static_dir())
        self.broker_id = broker_id
        # Every viewer of a page gets the same snapshot, computed once a second.
        self.overview = Shared(self.views.overview)
        self.topics = Shared(self.views.topic_rows)
        self.groups = Shared(self.views.groups)
        self.dlqs = Shared(self.dlq.dlq_rows)

    def install(self, app: web.Application) -> None:
        async def closing(app: web.Application) -> None:
            self.streams.closing.set()

        app.on_shutdown.append(closing)
        app.add_routes(self.routes())

    def routes(self) -> list[web.RouteDef]:
        api = "/console/api"
        return [
            web.get("/console", redirect),
            web.get("/console/", self.static.index),
            web.get("/console/static/{name}", self.static.asset),
            web.get(f"{api}/whoami", self.whoami),
            web.get(f"{api}/overview", self._json(lambda r: self.views.overview())),
            web.get(f"{api}/topics", self._json(lambda r: self.topics.get())),
            web.get(f"{api}/groups", self._json(lambda r: self.groups.get())),
            web.get(f"{api}/groups/{{group}}", self._json(self._group)),
            web.get(f"{api}/message", self.message),
            web.get(f"{api}/stream/overview", self._stream("overview", self.overview.get)),
            web.get(f"{api}/stream/topics", self._stream("topics", self.topics.get)),
            web.get(f"{api}/stream/groups", self._stream("groups", self.groups.get)),
            web.get(f"{api}/stream/groups/{{group}}", self.group_stream),
            web.get(f"{api}/stream/dlq", self._stream("dlq", self.dlqs.get)),
            web.get(f"{api}/tail/{{topic}}", self.tail.handle),
            *self.dlq.routes(),
        ]

    def _json(
        self, produce: Callable[[web.Request], Awaitable[Any]]
    ) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handler(request: web.Request) -> web.Response:
            return json_response(await produce(request))

        return handler

    def _stream(
        self, event: str, produce: Callable[[], Awaitable[Any]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def handler(request: web.Request) -> web.StreamResponse:
            return await snapshots(request, self.streams, event, produce)

        return handler

    async def _group(self, request: web.Request) -> dict[str, Any]:
        group = request.match_info["group"]
        if not is_valid_name(group):
            raise web.HTTPBadRequest(reason="invalid group name")
        return await self.views.group(group)

    async def group_stream(self, request: web.Request) -> web.StreamResponse:
        group = request.match_info["group"]
        if not is_valid_name(group):
            return error_response(400, ErrorCode.BAD_NAME, "invalid group name")
        return await snapshots(request, self.streams, "group", lambda: self.views.group(group))

    async def whoami(self, request: web.Request) -> web.Response:
        caller = caller_of(request)
        return json_response(
            {"role": caller.role.value, "subject": caller.subject, "broker": self.broker_id}
        )

    async def message(self, request: web.Request) -> web.Response:
        query = request.query
        topic = query.get("topic", "")
        if not is_valid_name(topic):
            return error_response(400, ErrorCode.BAD_NAME, "invalid topic name")
        try:
            partition = int(query.get("partition", ""))
            offset = int(query.get("offset", ""))
        except ValueError:
            return error_response(400, ErrorCode.BAD_FIELD, "partition and offset are numbers")
        found = await self.views.message(topic, partition, offset)
        if found is None:
            return error_response(404, "not_found", f"no event {topic}/{partition}/{offset}")
        return json_response(found)
