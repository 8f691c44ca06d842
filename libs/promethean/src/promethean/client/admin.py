"""The typed client of the broker's admin HTTP API.

    async with AdminClient.from_url("ws://127.0.0.1:7070/ws", token) as admin:
        topics = await admin.topics()
        await admin.reset_offsets("billing", "orders", to="earliest")

Every answer is decoded into a `msgspec.Struct`; every refusal raises an
`AdminError` subclass chosen by status (`AdminUnauthorizedError` 401,
`AdminForbiddenError` 403, `AdminNotFoundError` 404, `AdminConflictError`
409, `AdminUnavailableError` 503 or unreachable) carrying the broker's
``{"error": {"code", "msg"}}``. Used outside ``async with``, each call opens
and closes its own HTTP session (what a service calling rarely wants).

The admin API listens on the broker's WebSocket port, so a ``ws://h:p/ws``
URL is turned into ``http://h:p``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from types import TracebackType
from typing import Any, Final, Literal, Self, TypeVar
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import msgspec

from promethean.errors import PrometheanError
from promethean.store.records import Member, TopicConfig

HTTP_SCHEME: Final = {"ws": "http", "wss": "https", "http": "http", "https": "https"}
TIMEOUT_S: Final = 30.0
MAX_SSE_LINE: Final = 4 * 1024 * 1024
"""The longest ``data:`` line a tail accepts (an event at the frame limit)."""
ResetTarget = Literal["earliest", "latest", "offset", "timestamp"]
T = TypeVar("T")


def admin_base_url(url: str) -> str:
    """``ws://host:port/ws`` or ``http://host:port/...`` → ``http://host:port``."""
    parts = urlsplit(url)
    scheme = HTTP_SCHEME.get(parts.scheme.lower())
    if scheme is None or not parts.netloc:
        raise ValueError(f"not a broker URL: {url!r}")
    return urlunsplit((scheme, parts.netloc, "", "", ""))


# -- errors -----------------------------------------------------------------


class AdminError(PrometheanError):
    """The broker refused an admin request, or could not be reached."""

    def __init__(self, status: int, code: str, msg: str) -> None:
        super().__init__(f"broker answered {status} {code}: {msg}", code=code)
        self.status = status
        self.reason = msg


class AdminBadRequestError(AdminError, ValueError):
    """400: the request was malformed (a bad name, field or JSON)."""


class AdminUnauthorizedError(AdminError):
    """401: no token, or a token the broker does not accept."""


class AdminForbiddenError(AdminError):
    """403: signed in, but not allowed (a read-only sign-in trying a change)."""


class AdminNotFoundError(AdminError, LookupError):
    """404: no such topic, group, key or DLQ."""


class AdminConflictError(AdminError):
    """409: the change conflicts with the current state (e.g. ``group_active``)."""


class AdminUnavailableError(AdminError, ConnectionError):
    """503 (a standby broker, too many streams) or the broker is unreachable."""


_ERRORS: Final[Mapping[int, type[AdminError]]] = {
    400: AdminBadRequestError,
    401: AdminUnauthorizedError,
    403: AdminForbiddenError,
    404: AdminNotFoundError,
    409: AdminConflictError,
    503: AdminUnavailableError,
}


class _ErrorBody(msgspec.Struct):
    code: str = "error"
    msg: str = ""


class _ErrorReply(msgspec.Struct):
    error: _ErrorBody


def admin_error(status: int, body: bytes) -> AdminError:
    try:
        err = msgspec.json.decode(body, type=_ErrorReply).error
        code, msg = err.code, err.msg
    except (msgspec.DecodeError, msgspec.ValidationError):
        code, msg = "http_error", body.decode(errors="replace")[:200]
    return _ERRORS.get(status, AdminError)(status, code, msg)


# -- results ----------------------------------------------------------------


class PartitionOffsets(msgspec.Struct, frozen=True):
    partition: int
    earliest: int
    latest: int


class TopicOffsets(msgspec.Struct, frozen=True):
    topic: str
    partitions: list[PartitionOffsets]


class PartitionLag(msgspec.Struct, frozen=True):
    partition: int
    committed: int
    latest: int
    lag: int
    inflight: int = 0


class Lag(msgspec.Struct, frozen=True):
    topic: str
    group: str
    lag: int
    partitions: list[PartitionLag]


class TopicLag(msgspec.Struct, frozen=True):
    topic: str
    lag: int
    partitions: list[PartitionLag]


class Group(msgspec.Struct, frozen=True, kw_only=True):
    group: str
    generation: int
    members: list[Member]
    assignment: dict[str, dict[str, list[int]]]
    log: list[Any]
    topics: list[TopicLag]
    subscribers: int = 0


class GroupRow(msgspec.Struct, frozen=True):
    group: str
    topic: str
    lag: int
    inflight: int
    subscribers: int


class Event(msgspec.Struct, frozen=True, kw_only=True):
    topic: str
    partition: int
    offset: int
    id: str
    ts: int
    key: str | None = None
    headers: dict[str, str] | None = None
    payload: Any = None


class Message(Event, frozen=True, kw_only=True):
    attempts: dict[str, int] = msgspec.field(default_factory=dict)
    """Delivery attempts recorded for this event, by group."""


class GroupCursors(msgspec.Struct, frozen=True):
    group: str
    partitions: dict[str, int]


class Cursors(msgspec.Struct, frozen=True):
    topic: str
    groups: list[GroupCursors]


class ResetResult(msgspec.Struct, frozen=True):
    group: str
    topic: str
    offsets: dict[str, int]


class DlqInfo(msgspec.Struct, frozen=True):
    topic: str
    dlq: str
    depth: int
    partitions: int


class OriginalPosition(msgspec.Struct, frozen=True):
    topic: str | None
    partition: int
    offset: int


class DlqRecord(Event, frozen=True, kw_only=True):
    reason: str | None = None
    group: str | None = None
    attempts: int = 0
    original: OriginalPosition | None = None
    replayed: bool = False


class DlqPage(msgspec.Struct, frozen=True):
    topic: str
    dlq: str
    depth: int
    records: list[DlqRecord]
    next: dict[str, int]


class ReplayResult(msgspec.Struct, frozen=True):
    topic: str
    scanned: int
    replayed: int
    skipped: int
    next: dict[str, int]
    done: bool


class Service(msgspec.Struct, frozen=True, kw_only=True):
    key: str
    name: str | None = None
    host: str | None = None
    pid: int | None = None
    ts: int = 0
    alive: bool = False
    connected: bool | None = None
    queue: int | None = None
    inflight: int | None = None


class Overview(msgspec.Struct, frozen=True, kw_only=True):
    ts: int
    services: list[Service]
    publish_rate: float
    delivery_rate: float
    published_total: float
    delivered_total: float
    total_lag: int
    dlq_depth: int
    topics: int
    groups: int
    events: int
    inflight: int


class SignedIn(msgspec.Struct, frozen=True):
    role: Literal["admin", "read"]
    subject: str | None
    broker: str


class _Topics(msgspec.Struct):
    topics: list[TopicConfig]


class _Dlqs(msgspec.Struct):
    dlqs: list[DlqInfo]


class _Deleted(msgspec.Struct):
    deleted: bool = True


class _Purged(msgspec.Struct):
    purged: int


# -- the client -------------------------------------------------------------


class AdminClient:
    def __init__(
        self,
        base_url: str,
        token: str | None = None,
        *,
        session: aiohttp.ClientSession | None = None,
        timeout_s: float = TIMEOUT_S,
    ) -> None:
        self.base_url = admin_base_url(base_url)
        self._headers = {"Authorization": f"Bearer {token}"} if token else {}
        self._session = session
        self._owns_session = False
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)

    @classmethod
    def from_url(cls, url: str, token: str | None = None) -> AdminClient:
        return cls(url, token)

    async def __aenter__(self) -> Self:
        if self._session is None:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
            self._owns_session = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._owns_session and self._session is not None:
            await self._session.close()
            self._session = None
            self._owns_session = False

    async def _raw(
        self,
        method: str,
        path: str,
        *,
        body: Any = None,
        query: Mapping[str, str] | None = None,
    ) -> bytes:
        data = None if body is None else msgspec.json.encode(body)
        headers = dict(self._headers)
        if data is not None:
            headers["Content-Type"] = "application/json"
        session = self._session
        owned = session is None
        if session is None:
            session = aiohttp.ClientSession(timeout=self._timeout)
        try:
            async with session.request(
                method, self.base_url + path, data=data, headers=headers, params=query
            ) as reply:
                raw = await reply.read()
                if reply.status >= 400:
                    raise admin_error(reply.status, raw)
                return raw
        except aiohttp.ClientError as err:
            raise AdminUnavailableError(0, "unreachable", f"{self.base_url}: {err}") from err
        finally:
            if owned:
                await session.close()

    async def _call(
        self,
        method: str,
        path: str,
        kind: type[T],
        *,
        body: Any = None,
        query: Mapping[str, str] | None = None,
    ) -> T:
        raw = await self._raw(method, path, body=body, query=query)
        try:
            return msgspec.json.decode(raw, type=kind)
        except (msgspec.DecodeError, msgspec.ValidationError) as err:
            raise AdminError(200, "bad_reply", f"{method} {path}: {err}") from err

    # -- topics --------------------------------------------------------------

    async def topics(self) -> list[TopicConfig]:
        return (await self._call("GET", "/topics", _Topics)).topics

    async def put_topic(self, name: str, **settings: Any) -> TopicConfig:
        """Create ``name``, or change the given settings of it (``partitions``,
        ``retention_ms``, ``cleanup``…); the stored config."""
        return await self._call("POST", "/topics", TopicConfig, body={"name": name, **settings})

    async def offsets(self, topic: str) -> TopicOffsets:
        return await self._call("GET", f"/topics/{topic}/offsets", TopicOffsets)

    async def delete_topic(self, topic: str, *, dlq: bool = False) -> bool:
        query = {"dlq": "true" if dlq else "false"}
        return (await self._call("DELETE", f"/topics/{topic}", _Deleted, query=query)).deleted

    async def cursors(self, topic: str) -> Cursors:
        return await self._call("GET", "/cursors", Cursors, query={"topic": topic})

    async def latest_by_key(self, topic: str, key: str) -> Event | None:
        try:
            return await self._call(
                "GET", "/latest-by-key", Event, query={"topic": topic, "key": key}
            )
        except AdminNotFoundError:
            return None

    async def stats(self) -> dict[str, Any]:
        return await self._call("GET", "/stats", dict[str, Any])

    async def tail(
        self,
        topic: str,
        *,
        start: Literal["latest", "earliest", "offset"] = "latest",
        offset: int | None = None,
        key: str | None = None,
        header: tuple[str, str] | None = None,
    ) -> AsyncIterator[Event]:
        """Follow ``topic`` live (``GET /console/api/tail/{topic}``) without
        joining a consumer group; yields events until the caller stops."""
        query: dict[str, str] = {"from": start}
        if offset is not None:
            query["offset"] = str(offset)
        if key is not None:
            query["key"] = key
        if header is not None:
            query["header"] = f"{header[0]}:{header[1]}"
        async for event, data in self._events(f"/console/api/tail/{topic}", query):
            if event == "message":
                yield msgspec.json.decode(data, type=Event)

    async def _events(
        self, path: str, query: Mapping[str, str]
    ) -> AsyncIterator[tuple[str, bytes]]:
        """The ``(event, data)`` pairs of a server-sent event stream."""
        session = self._session
        owned = session is None
        if session is None:
            session = aiohttp.ClientSession()
        timeout = aiohttp.ClientTimeout(total=None, sock_connect=self._timeout.total)
        try:
            async with session.get(
                self.base_url + path,
                headers=self._headers,
                params=query,
                timeout=timeout,
                read_bufsize=MAX_SSE_LINE,
            ) as reply:
                if reply.status >= 400:
                    raise admin_error(reply.status, await reply.read())
                event, data = "message", b""
                while line := await reply.content.readline():
                    line = line.rstrip(b"\r\n")
                    if line.startswith(b"event:"):
                        event = line[6:].strip().decode()
                    elif line.startswith(b"data:"):
                        data = line[5:].strip()
                    elif not line and data:
                        yield event, data
                        event, data = "message", b""
        except aiohttp.ClientError as err:
            raise AdminUnavailableError(0, "unreachable", f"{self.base_url}: {err}") from err
        finally:
            if owned:
                await session.close()

    # -- groups --------------------------------------------------------------

    async def group(self, group: str) -> Group:
        return await self._call("GET", f"/groups/{group}", Group)

    async def lag(self, topic: str, group: str) -> Lag:
        return await self._call("GET", "/lag", Lag, query={"topic": topic, "group": group})

    async def reset_offsets(
        self,
        group: str,
        topic: str,
        *,
        to: ResetTarget,
        value: int | None = None,
        partitions: Sequence[int] | None = None,
    ) -> ResetResult:
        """Move ``group``'s committed offsets on ``topic``; `AdminConflictError`
        (code ``group_active``) while the group has live members."""
        body: dict[str, Any] = {"topic": topic, "to": to}
        if value is not None:
            body["value"] = value
        if partitions is not None:
            body["partitions"] = list(partitions)
        return await self._call("POST", f"/groups/{group}/reset-offsets", ResetResult, body=body)

    async def delete_group(self, group: str, topic: str) -> bool:
        query = {"topic": topic}
        return (await self._call("DELETE", f"/groups/{group}", _Deleted, query=query)).deleted

    # -- dead-letter queues --------------------------------------------------

    async def dlqs(self) -> list[DlqInfo]:
        return (await self._call("GET", "/dlq", _Dlqs)).dlqs

    async def dlq_records(
        self, topic: str, *, limit: int = 200, start: Mapping[int, int] | None = None
    ) -> DlqPage:
        query = {"limit": str(limit)}
        if start:
            query["from"] = ",".join(f"{p}:{o}" for p, o in sorted(start.items()))
        return await self._call("GET", f"/dlq/{topic}", DlqPage, query=query)

    async def replay_dlq(
        self,
        topic: str,
        *,
        events: Sequence[tuple[int, int]] | None = None,
        start: Mapping[int, int] | None = None,
        max_records: int = 200,
    ) -> ReplayResult:
        """Replay the chosen ``(partition, offset)`` records of ``topic``'s DLQ,
        or (``events`` None) the next ``max_records`` from ``start``."""
        body: dict[str, Any]
        if events is not None:
            body = {"events": [{"partition": p, "offset": o} for p, o in events]}
        else:
            body = {"all": True, "max": max_records}
            if start:
                body["from"] = {str(p): o for p, o in start.items()}
        return await self._call("POST", f"/dlq/{topic}/replay", ReplayResult, body=body)

    async def replay_dlq_all(self, topic: str, *, page: int = 200) -> int:
        """Replay every record of ``topic``'s DLQ, page by page; how many were
        newly re-published."""
        start: dict[int, int] = {}
        replayed = 0
        while True:
            result = await self.replay_dlq(topic, start=start, max_records=page)
            replayed += result.replayed
            if result.done:
                return replayed
            start = {int(p): o for p, o in result.next.items()}

    async def purge_dlq(self, topic: str) -> int:
        return (await self._call("DELETE", f"/dlq/{topic}", _Purged)).purged

    # -- console views -------------------------------------------------------

    async def whoami(self) -> SignedIn:
        return await self._call("GET", "/console/api/whoami", SignedIn)

    async def overview(self) -> Overview:
        return await self._call("GET", "/console/api/overview", Overview)

    async def group_rows(self) -> list[GroupRow]:
        return await self._call("GET", "/console/api/groups", list[GroupRow])

    async def message(self, topic: str, partition: int, offset: int) -> Message:
        query = {"topic": topic, "partition": str(partition), "offset": str(offset)}
        return await self._call("GET", "/console/api/message", Message, query=query)
