"""One broker WebSocket connection: the AUTH gate, the receive loop that
hands each frame to its handler (dispatch.py: publishing, subscribing,
settling, membership), and delivery of messages through a bounded sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import itertools
import logging
from collections.abc import Callable, Coroutine
from typing import Any

import msgspec
from aiohttp import WSCloseCode, web
from opentelemetry.trace import SpanKind

from promethean.bus import BusEngine, Delivery
from promethean.bus.coordinator import Coordinator
from promethean.errors import FrameError, PrometheanError
from promethean.frames import broker as bf
from promethean.frames.codec import encode, error_frame, parse_broker_request
from promethean.frames.codes import ErrorCode
from promethean.frames.envelope import envelope_of
from promethean.runtime.health import StoreHealth
from promethean.runtime.tracing import TRACEPARENT, span_from_headers, tracer
from promethean.runtime.ws_frames import received_frames
from promethean.runtime.ws_release import release_websocket
from promethean.runtime.ws_sender import DEFAULT_STALL_S, BoundedSender
from promethean_broker.dispatch import dispatch
from promethean_broker.metadata import ClusterView
from promethean_broker.publishing import PublishIntake

log = logging.getLogger("promethean.broker.connection")
_tracer = tracer()

CLOSE_SLOW_CONSUMER = 4008
FLUSH_BEFORE_CLOSE_S = 1.0
SLOW_CLOSE_TIMEOUT_S = 2.0
_conn_ids = itertools.count(1)


class BrokerConnection:
    """One WebSocket as the engine's `Consumer`, the coordinator's
    `MemberLink` and the frame handlers' `Session` (dispatch.py)."""

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
        cluster: ClusterView,
    ) -> None:
        self.ws = ws
        self.cluster = cluster
        self.coordinator = coordinator
        self.engine = engine
        self._token = token
        self._max_frame_bytes = max_frame_bytes
        self._authed = token is None
        self._sender = BoundedSender(
            ws, send_buffer_bytes, stall_s=send_stall_s, on_stall=self._drop_stalled
        )
        self.max_inflight_cap = max_inflight_cap
        self.publishes = PublishIntake(self, max_pending_publishes, store_health)
        self._tasks: set[asyncio.Task[None]] = set()
        self._on_error = on_error
        self._abort = abort
        self._id = f"c{next(_conn_ids)}"
        self._slow = False

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
            envelope=envelope_of(event, msgspec.Raw(event.payload)),
        )
        return self._sender.offer(encode(frame))

    def send_membership(self, frame: bf.Assignment | bf.Revoke) -> None:
        self.send(frame)

    def drop_slow(self) -> None:
        if self._slow:
            return
        self._slow = True
        log.warning("dropping slow consumer", extra={"conn": self._id})
        self.spawn(self._close_slow())

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
            self.spawn(self._close_slow())

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
            async for data in received_frames(self.ws):
                await self._handle(data)
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

    # -- Session: what the frame handlers use -------------------------------

    def send(self, frame: Any) -> None:
        self._sender.offer(encode(frame))

    def confirm(self, corr: str | int | None) -> None:
        """Fire-and-forget frames (ACK, NACK, MODACK, FLOW) get ``OK`` only
        when the client asked by sending a ``corr``."""
        if corr is not None:
            self.send(bf.Ok(corr=corr))

    def send_error(self, err: PrometheanError, corr: str | int | None) -> None:
        if self._on_error is not None:
            self._on_error(err.code)
        self._sender.offer(encode(error_frame(err, corr)))

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _handle(self, data: bytes | str) -> None:
        try:
            frame = parse_broker_request(data, max_frame_bytes=self._max_frame_bytes)
        except FrameError as err:
            self.send_error(err, getattr(err, "corr", None))
            return
        if not self._authed:
            await self._handle_unauthenticated(frame)
            return
        try:
            await dispatch(self, frame)
        except PrometheanError as err:
            self.send_error(err, frame.corr)
        except Exception:
            log.exception("frame handling failed", extra={"conn": self._id})
            self.send_error(PrometheanError("internal error"), frame.corr)

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
            self.send(bf.Ok(corr=frame.corr))
            return
        self.send_error(
            PrometheanError(
                "AUTH with a valid token is required first", code=ErrorCode.UNAUTHORIZED
            ),
            frame.corr,
        )
        # Let the ERR reach the client before the close frame.
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._sender.flush(), FLUSH_BEFORE_CLOSE_S)
        await self.ws.close(code=WSCloseCode.POLICY_VIOLATION, message=b"unauthorized")
