"""One broker WebSocket connection: the AUTH gate, frame dispatch to the
engine, and delivery of messages through a bounded sender.

Publishes are handled concurrently (bounded per connection) so one client
with many publishes in flight feeds the partition writers' group commit;
replies carry the request's ``corr``.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import logging
from collections.abc import Callable
from typing import Any

import msgspec
from aiohttp import WSCloseCode, WSMsgType, web
from opentelemetry.trace import SpanKind

from promethean.bus import (
    AckRef,
    BusEngine,
    Delivery,
    EventFilter,
    PublishRequest,
    StartKind,
    StartPosition,
)
from promethean.bus.coordinator import Coordinator
from promethean.errors import FrameError, OverloadedError, PrometheanError
from promethean.frames import broker as bf
from promethean.frames.codec import encode, error_frame, parse_broker_request
from promethean.frames.codes import ErrorCode
from promethean.frames.envelope import Envelope
from promethean.runtime.health import StoreHealth
from promethean.runtime.tracing import TRACEPARENT, span_from_headers, tracer
from promethean.runtime.ws_release import release_websocket
from promethean.runtime.ws_sender import DEFAULT_STALL_S, BoundedSender
from promethean_broker.membership import check_settle, handle_membership

log = logging.getLogger("promethean.broker.connection")
_tracer = tracer()

CLOSE_SLOW_CONSUMER = 4008
FLUSH_BEFORE_CLOSE_S = 1.0
SLOW_CLOSE_TIMEOUT_S = 2.0
_conn_ids = itertools.count(1)


class BrokerConnection:
    """Implements the engine's `Consumer` for one WebSocket."""

    def __init__(
        self,
        ws: web.WebSocketResponse,
        engine: BusEngine,
        *,
        token: str | None,
        max_frame_bytes: int,
        send_buffer_bytes: int,
        max_pending_publishes: int,
        on_error: Callable[[str], None] | None = None,
        abort: Callable[[], None] | None = None,
        coordinator: Coordinator | None = None,
        store_health: StoreHealth | None = None,
        max_inflight_cap: int | None = None,
        send_stall_s: float = DEFAULT_STALL_S,
    ) -> None:
        self.ws = ws
        self.coordinator = coordinator
        self.engine = engine
        self._token = token
        self._max_frame_bytes = max_frame_bytes
        self._authed = token is None
        self._sender = BoundedSender(
            ws, send_buffer_bytes, stall_s=send_stall_s, on_stall=self._drop_stalled
        )
        self._max_inflight_cap = max_inflight_cap
        self._max_pending = max_pending_publishes
        self._pending_publishes = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._on_error = on_error
        self._abort = abort
        self._id = f"c{next(_conn_ids)}"
        self._slow = False
        self._store_health = store_health

    # -- Consumer ----------------------------------------------------------

    @property
    def consumer_id(self) -> str:
        return self._id

    def deliver(self, delivery: Delivery) -> bool:
        event = delivery.event
        if event.headers is not None and TRACEPARENT in event.headers:
            with span_from_headers(
                _tracer,
                f"deliver {event.topic}",
                event.headers,
                {
                    "messaging.destination.name": event.topic,
                    "messaging.consumer.group.name": delivery.group,
                    "messaging.destination.partition.id": str(event.partition),
                    "messaging.message.id": event.id,
                },
                kind=SpanKind.PRODUCER,
            ):
                return self._deliver(delivery)
        return self._deliver(delivery)

    def _deliver(self, delivery: Delivery) -> bool:
        event = delivery.event
        frame = bf.Message(
            topic=event.topic,
            partition=event.partition,
            group=delivery.group,
            offset=event.offset,
            attempt=delivery.attempt,
            ack_deadline_ms=delivery.ack_deadline_ms,
            envelope=Envelope(
                id=event.id,
                ts=event.ts,
                topic=event.topic,
                partition=event.partition,
                payload=msgspec.Raw(event.payload),
                key=event.key,
                headers=event.headers,
                caused_by=event.caused_by,
                tags=event.tags,
                sid=event.sid,
            ),
        )
        return self._sender.offer(encode(frame))

    def send_membership(self, frame: bf.Assignment | bf.Revoke) -> None:
        self._send(frame)

    def drop_slow(self) -> None:
        if self._slow:
            return
        self._slow = True
        log.warning("dropping slow consumer", extra={"conn": self._id})
        self._spawn(self._close_slow())

    def _drop_stalled(self) -> None:
        """The peer took nothing for the stall limit: it cannot take a close
        frame either, so the transport is cut at once; the receive loop then
        ends and `close` hands the connection's in-flight work back."""
        if self._slow:
            return
        self._slow = True
        log.warning("dropping a client that stopped reading", extra={"conn": self._id})
        if self._abort is not None:
            self._abort()
        else:
            self._spawn(self._close_slow())

    async def _close_slow(self) -> None:
        try:
            await asyncio.wait_for(
                self.ws.close(code=CLOSE_SLOW_CONSUMER, message=b"slow consumer: send buffer full"),
                SLOW_CLOSE_TIMEOUT_S,
            )
        except TimeoutError:
            # A peer that reads nothing cannot take the close frame either,
            # and a graceful transport close would wait on it forever.
            if self._abort is not None:
                self._abort()

    # -- receive loop ------------------------------------------------------

    async def serve(self) -> None:
        try:
            async for msg in self.ws:
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    await self._handle(msg.data)
                elif msg.type is WSMsgType.ERROR:
                    break
        finally:
            await self.close()

    async def close(self) -> None:
        await self.engine.release_consumer(self._id)
        if self.coordinator is not None:
            await self.coordinator.link_lost(self)
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._sender.close()
        release_websocket(self.ws)

    def _send(self, frame: Any) -> None:
        self._sender.offer(encode(frame))

    def _confirm(self, corr: str | int | None) -> None:
        """Fire-and-forget frames (ACK, NACK, MODACK, FLOW) get ``OK`` only
        when the client asked by sending a ``corr``."""
        if corr is not None:
            self._send(bf.Ok(corr=corr))

    def _send_error(self, err: PrometheanError, corr: str | int | None) -> None:
        if self._on_error is not None:
            self._on_error(err.code)
        self._sender.offer(encode(error_frame(err, corr)))

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, data: bytes | str) -> None:
        try:
            frame = parse_broker_request(data, max_frame_bytes=self._max_frame_bytes)
        except FrameError as err:
            self._send_error(err, getattr(err, "corr", None))
            return
        if not self._authed:
            await self._handle_unauthenticated(frame)
            return
        try:
            await self._dispatch(frame)
        except PrometheanError as err:
            self._send_error(err, frame.corr)
        except Exception:
            log.exception("frame handling failed", extra={"conn": self._id})
            self._send_error(PrometheanError("internal error"), frame.corr)

    async def _handle_unauthenticated(self, frame: bf.BrokerRequest) -> None:
        """Before AUTH succeeds, any other frame or a wrong token is answered
        with ``ERR unauthorized`` and the connection is closed
        (docs/protocol.md); a client gets no second guess on one socket."""
        if (
            isinstance(frame, bf.Auth)
            and self._token is not None
            and hmac.compare_digest(frame.token.encode(), self._token.encode())
        ):
            self._authed = True
            self._send(bf.Ok(corr=frame.corr))
            return
        self._send_error(
            PrometheanError(
                "AUTH with a valid token is required first", code=ErrorCode.UNAUTHORIZED
            ),
            frame.corr,
        )
        # Let the ERR reach the client before the close frame.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._sender.flush(), FLUSH_BEFORE_CLOSE_S)
        await self.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"unauthorized")

    async def _dispatch(self, frame: bf.BrokerRequest) -> None:
        engine = self.engine
        if self.coordinator is not None:
            if isinstance(frame, bf.Ack | bf.Nack | bf.Modack | bf.AckBatch):
                check_settle(self.coordinator, self._id, frame)
            elif isinstance(frame, bf.Join | bf.Heartbeat | bf.Revoked | bf.Leave):
                await handle_membership(self.coordinator, self, frame, self._confirm)
                return
        match frame:
            case bf.Publish():
                self._start_publish(frame.corr, [_request(frame.topic, frame)], batch=False)
            case bf.PublishBatch():
                self._start_publish(
                    frame.corr, [_request(item.topic, item) for item in frame.items], batch=True
                )
            case bf.Ack():
                engine.ack(AckRef(frame.topic, frame.group, frame.partition, frame.offset))
                self._confirm(frame.corr)
            case bf.AckBatch():
                engine.ack_many(frame.topic, frame.group, frame.items)
                self._confirm(frame.corr)
            case bf.Nack():
                await engine.nack(
                    AckRef(frame.topic, frame.group, frame.partition, frame.offset), frame.reason
                )
                self._confirm(frame.corr)
            case bf.Modack():
                engine.modack(
                    AckRef(frame.topic, frame.group, frame.partition, frame.offset), frame.extend_ms
                )
                self._confirm(frame.corr)
            case bf.Subscribe():
                await self._subscribe(frame)
            case bf.Unsubscribe():
                if not await engine.unsubscribe(self._id, frame.topic, frame.group):
                    raise FrameError(
                        f"not subscribed to {frame.topic} as {frame.group}",
                        code=ErrorCode.NOT_SUBSCRIBED,
                    )
                self._send(bf.Ok(corr=frame.corr))
            case bf.Flow():
                engine.grant_credits(self._id, frame.credits, frame.topic, frame.group)
                self._confirm(frame.corr)
            case bf.Auth():
                self._send(bf.Ok(corr=frame.corr))
            case bf.Ping():
                self._send(bf.Pong(corr=frame.corr))
            case _:
                raise FrameError(
                    f"{type(frame).__name__} is not accepted here", code=ErrorCode.UNKNOWN_TYPE
                )

    async def _subscribe(self, frame: bf.Subscribe) -> None:
        start = None
        if frame.from_ is not None:
            start = StartPosition(StartKind(frame.from_.kind), frame.from_.value)
        event_filter = None
        if frame.filter is not None and (frame.filter.key is not None or frame.filter.header):
            header = tuple(frame.filter.header) if frame.filter.header else None
            event_filter = EventFilter(frame.filter.key, header)  # type: ignore[arg-type]
        _, partitions = await self.engine.subscribe(
            self,
            frame.topic,
            frame.group,
            start=start,
            max_inflight=self._capped(frame.max_inflight),
            ack_timeout_ms=frame.ack_timeout_ms,
            event_filter=event_filter,
            credits=frame.credits,
        )
        self._send(
            bf.Subscribed(
                topic=frame.topic, group=frame.group, partitions=partitions, corr=frame.corr
            )
        )

    def _capped(self, max_inflight: int | None) -> int | None:
        cap = self._max_inflight_cap
        if max_inflight is None or cap is None:
            return max_inflight
        return min(max_inflight, cap)

    def _start_publish(
        self, corr: str | int | None, requests: list[PublishRequest], *, batch: bool
    ) -> None:
        if self._pending_publishes + len(requests) > self._max_pending:
            raise OverloadedError(
                "too many publishes in flight on this connection",
                retry_after_ms=self.engine.config.overload_retry_after_ms,
            )
        self._pending_publishes += len(requests)
        self._spawn(self._publish(corr, requests, batch=batch))

    async def _publish(
        self, corr: str | int | None, requests: list[PublishRequest], *, batch: bool
    ) -> None:
        first = requests[0]
        try:
            with span_from_headers(
                _tracer,
                f"publish {first.topic}",
                first.headers,
                {
                    "messaging.destination.name": first.topic,
                    "messaging.batch.message_count": len(requests),
                },
                kind=SpanKind.SERVER,
            ):
                results = await (
                    self.engine.publish_each(requests) if batch else self.engine.publish(requests)
                )
        except PrometheanError as err:
            if err.code == ErrorCode.STORE_UNAVAILABLE and self._store_health is not None:
                self._store_health.failed(f"publish failed: {err.msg}")
            self._send_error(err, corr)
            return
        except Exception:
            log.exception("publish failed", extra={"conn": self._id})
            self._send_error(
                PrometheanError("publish failed", code=ErrorCode.STORE_UNAVAILABLE), corr
            )
            return
        finally:
            self._pending_publishes -= len(requests)
        if self._store_health is not None:
            self._store_health.succeeded(settled=True)
        if batch:
            self._send(
                bf.PublishedBatch(
                    corr=corr,
                    results=[
                        bf.ItemError(code=res.code, msg=res.msg)
                        if isinstance(res, PrometheanError)
                        else bf.PublishedItem(
                            topic=req.topic,
                            partition=res.partition,
                            offset=res.offset,
                            id=res.id,
                            duplicate=res.duplicate,
                        )
                        for req, res in zip(requests, results, strict=True)
                    ],
                )
            )
            return
        res = results[0]
        if isinstance(res, PrometheanError):
            self._send_error(res, corr)
            return
        self._send(
            bf.Published(
                corr=corr,
                topic=requests[0].topic,
                partition=res.partition,
                offset=res.offset,
                id=res.id,
                duplicate=res.duplicate,
            )
        )


def _request(topic: str, item: bf.Publish | bf.PublishItem) -> PublishRequest:
    return PublishRequest(
        topic=topic,
        payload=bytes(item.payload),
        key=item.key,
        headers=item.headers,
        id=item.id,
        caused_by=item.caused_by,
        tags=item.tags,
        sid=item.sid,
    )
