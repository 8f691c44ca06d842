"""``GET /console/api/tail/{topic}``: a live tail of a topic as server-sent
events, read from the log without joining any consumer group.

Query: ``from`` = ``latest`` (default) | ``earliest`` | ``offset`` (with
``offset=N``, every partition or only ``partition=P``) | ``positions`` (with
``positions=0:12,3:40``, how a paused console resumes); ``key=K``;
``header=name:value``. Each event is sent as ``event: message``; a
``position`` event after each pass tells the client where every partition
stands. At most `BATCH` events per partition per pass, and the response's
own write back-pressure paces a slow reader.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Mapping
from typing import Final

from aiohttp import web

from promethean.bus import BusEngine
from promethean.frames.codes import ErrorCode
from promethean.names import is_valid_name
from promethean.runtime.http import error_response
from promethean.store.records import TopicConfig
from promethean_broker.admin import event_json
from promethean_broker.sse import EventStream, Streams

BATCH: Final = 100
IDLE_POLL_S: Final = 0.1
MAX_HEADER_CHARS: Final = 1024


class TailRequestError(Exception):
    def __init__(self, msg: str) -> None:
        super().__init__(msg)
        self.msg = msg


class Tail:
    def __init__(self, get_engine: Callable[[], BusEngine], streams: Streams) -> None:
        self._get_engine = get_engine
        self._streams = streams

    async def handle(self, request: web.Request) -> web.StreamResponse:
        engine = self._get_engine()
        topic = request.match_info["topic"]
        if not is_valid_name(topic):
            return error_response(400, ErrorCode.BAD_NAME, "invalid topic name")
        config = await engine.topics.get(topic)
        if config is None:
            return error_response(404, "not_found", f"no topic {topic}")
        query = request.query
        try:
            positions = await self._start(engine, config, query)
            header = _header(query.get("header"))
        except TailRequestError as err:
            return error_response(400, ErrorCode.BAD_FIELD, err.msg)
        key = query.get("key") or None
        async with self._streams.stream(request) as opened:
            if isinstance(opened, web.Response):
                return opened
            with contextlib.suppress(ConnectionResetError):
                await self._follow(engine, config, positions, opened, key, header)
            return opened.response

    async def _start(
        self, engine: BusEngine, config: TopicConfig, query: Mapping[str, str]
    ) -> dict[int, int]:
        store = engine.store
        get = query.get
        start = get("from", "latest")
        parts = range(config.partitions)
        if start == "latest":
            return {p: await store.latest_offset(config.name, p) + 1 for p in parts}
        if start == "earliest":
            return {p: await store.earliest_offset(config.name, p) for p in parts}
        if start == "offset":
            offset = _int(get("offset"), "offset")
            only = get("partition")
            chosen = [_int(only, "partition")] if only else list(parts)
            if any(not 0 <= p < config.partitions for p in chosen):
                raise TailRequestError(f"partition must be 0..{config.partitions - 1}")
            return {p: max(offset, await store.earliest_offset(config.name, p)) for p in chosen}
        if start == "positions":
            out: dict[int, int] = {}
            for item in str(get("positions", "")).split(",")[: config.partitions]:
                p, _, o = item.partition(":")
                partition, offset = _int(p, "positions"), _int(o, "positions")
                if 0 <= partition < config.partitions:
                    out[partition] = offset
            return out
        raise TailRequestError("from must be latest, earliest, offset or positions")

    async def _follow(
        self,
        engine: BusEngine,
        config: TopicConfig,
        positions: dict[int, int],
        out: EventStream,
        key: str | None,
        header: tuple[str, str] | None,
    ) -> None:
        store = engine.store
        await out.send("position", {str(p): o for p, o in positions.items()})
        while True:
            moved = False
            for partition, position in positions.items():
                high = engine.high_watermark(config.name, partition)
                if high < 0:
                    high = await store.latest_offset(config.name, partition)
                if position > high:
                    continue
                events = await store.read(
                    config.name, partition, position, BATCH, to_offset=high, key=key, header=header
                )
                for event in events:
                    await out.send("message", event_json(event))
                full = len(events) == BATCH
                positions[partition] = events[-1].offset + 1 if full else high + 1
                moved = True
            if moved:
                await out.send("position", {str(p): o for p, o in positions.items()})
            elif await self._streams.wait(IDLE_POLL_S):
                return


def _int(raw: str | None, name: str) -> int:
    try:
        value = int(raw or "")
    except ValueError:
        raise TailRequestError(f"{name} must be a whole number") from None
    if value < 0:
        raise TailRequestError(f"{name} must not be negative")
    return value


def _header(raw: str | None) -> tuple[str, str] | None:
    if not raw:
        return None
    if len(raw) > MAX_HEADER_CHARS or ":" not in raw:
        raise TailRequestError("header must look like name:value")
    name, _, value = raw.partition(":")
    return name.strip(), value.strip()
