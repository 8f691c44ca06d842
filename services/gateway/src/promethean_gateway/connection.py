"""One client WebSocket: the AUTH gate, token expiry, the ACL check of
every operation, admission control, and the relay of frames to and from
the broker (docs/protocol.md, "Gateway protocol")."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import time
from collections.abc import Callable
from typing import Any, Final

import msgspec
from aiohttp import web
from opentelemetry import trace

from promethean.auth import Action, AuthError, Identity
from promethean.client import Message, SubscribeOptions
from promethean.errors import FrameError, PrometheanError
from promethean.frames import gateway as gf
from promethean.frames.codec import encode, gw_error_frame, parse_gateway_request
from promethean.frames.codes import ErrorCode
from promethean.frames.envelope import event_body_of
from promethean.frames.fields import Corr
from promethean.names import MAX_HEADERS
from promethean.runtime.tracing import TRACEPARENT, extract_context, inject_headers
from promethean.runtime.ws_frames import received_frames
from promethean.runtime.ws_release import release_websocket
from promethean.runtime.ws_sender import BoundedSender
from promethean_gateway.authn import Authenticator
from promethean_gateway.deliveries import DeliveryTracker
from promethean_gateway.errors import RefusalError, broker_down, busy, forbidden
from promethean_gateway.limits import TokenBucket
from promethean_gateway.metrics import GatewayMetrics
from promethean_gateway.relay import BrokerRelay
from promethean_gateway.settings import GatewaySettings
from promethean_gateway.shared_subscription import now_ms

log = logging.getLogger("promethean.gateway.connection")

CLOSE_UNAUTHORIZED: Final = 4401
CLOSE_SLOW_CONSUMER: Final = 4008
CLOSE_TRY_AGAIN: Final = 1013
FLUSH_BEFORE_CLOSE_S: Final = 1.0
SLOW_CLOSE_TIMEOUT_S: Final = 2.0
_conn_ids = itertools.count(1)


def op_of(frame: gf.GatewayFrame) -> str:
    return str(type(frame).__struct_config__.tag)


class GatewayConnection:
    def __init__(
        self,
        ws: web.WebSocketResponse,
        *,
        settings: GatewaySettings,
        authenticator: Authenticator,
        relay: BrokerRelay,
        metrics: GatewayMetrics,
        tracer: trace.Tracer,
        abort: Callable[[], None],
    ) -> None:
        self.ws = ws
        self.id = f"g{next(_conn_ids)}"
        self._settings = settings
        self._auth = authenticator
        self._relay = relay
        self._metrics = metrics
        self._tracer = tracer
        self._abort = abort
        self._sender = BoundedSender(ws, settings.send_buffer_bytes, on_stall=self._drop_slow)
        self._bucket = TokenBucket(settings.publish_rate, settings.publish_burst)
        self._identity: Identity | None = None
        self._expired = False
        self._expiry: asyncio.TimerHandle | None = None
        self._subs: dict[tuple[str, str], DeliveryTracker] = {}
        self._publishing = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._closing = False

    # -- lifecycle ---------------------------------------------------------

    @property
    def inflight(self) -> int:
        """Publishes awaiting the broker plus events delivered and not yet acked."""
        return self._publishing + sum(len(sub) for sub in self._subs.values())

    async def serve(self) -> None:
        loop = asyncio.get_running_loop()
        auth_timer = loop.call_later(self._settings.auth_timeout_ms / 1000, self._auth_timeout)
        try:
            async for data in received_frames(self.ws):
                await self._handle(data)
                if self._closing:
                    break
        finally:
            auth_timer.cancel()
            await self.close()

    async def close(self) -> None:
        self._closing = True
        if self._expiry is not None:
            self._expiry.cancel()
        await self._release_subscriptions()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._sender.close()
        release_websocket(self.ws)

    async def _release_subscriptions(self) -> None:
        """Leave every subscription: the events this client held and did not
        settle go back to their group at once."""
        subs = list(self._subs.values())
        self._subs.clear()
        for sub in subs:
            await self._relay.subscriptions.leave(sub)

    def _spawn(self, coro: Any) -> None:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- sending -----------------------------------------------------------

    def _send(self, frame: gf.GatewayFrame) -> None:
        if not self._sender.offer(encode(frame)):
            self._drop_slow()

    def _send_error(self, err: PrometheanError, corr: Corr) -> None:
        reply = gw_error_frame(err, corr)
        self._metrics.errors.labels(reply.code).inc()
        self._send(reply)

    def _confirm(self, corr: Corr) -> None:
        """ACK, NACK and MODACK are answered only when they carry ``corr``."""
        if corr is not None:
            self._send(gf.GwOk(corr=corr))

    async def _close_with(self, code: int, reason: bytes) -> None:
        self._closing = True
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._sender.flush(), FLUSH_BEFORE_CLOSE_S)
        await self.ws.close(code=code, message=reason)

    def _drop_slow(self) -> None:
        if self._closing:
            return
        self._closing = True
        self._metrics.slow_consumers.inc()
        self._metrics.errors.labels(ErrorCode.SLOW_CONSUMER.value).inc()
        log.warning("dropping slow client", extra={"conn": self.id})
        self._spawn(self._close_slow())

    async def _close_slow(self) -> None:
        await self._release_subscriptions()
        try:
            await asyncio.wait_for(
                self.ws.close(code=CLOSE_SLOW_CONSUMER, message=b"slow_consumer"),
                SLOW_CLOSE_TIMEOUT_S,
            )
        except TimeoutError:
            # A client that reads nothing cannot take the close frame either.
            self._abort()

    # -- authentication ----------------------------------------------------

    def _auth_timeout(self) -> None:
        if self._identity is None and not self._closing:
            self._spawn(self._refuse(None, "no AUTH within the time allowed"))

    async def _refuse(self, corr: Corr, msg: str, err: PrometheanError | None = None) -> None:
        """Before a successful AUTH: ``ERR unauthorized`` and close."""
        error = err or PrometheanError(msg, code=ErrorCode.UNAUTHORIZED)
        self._send_error(error, corr)
        await self._close_with(CLOSE_UNAUTHORIZED, error.code.encode())

    async def _authenticate(self, frame: gf.GwAuth) -> None:
        try:
            identity = await self._auth.authenticate(frame.token)
        except AuthError as err:
            await self._refuse(frame.corr, err.msg, err)
            return
        self._identity = identity
        self._expired = False
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        if identity.expires_at is not None:
            delay = max(0.0, identity.expires_at - time.time())
            self._expiry = asyncio.get_running_loop().call_later(delay, self._on_expired)
        await self._drop_disallowed(identity)
        self._send(gf.GwOk(corr=frame.corr))

    async def _drop_disallowed(self, identity: Identity) -> None:
        """A new token may allow less than the old one."""
        for key, sub in list(self._subs.items()):
            if not identity.policy.allows(Action.SUBSCRIBE, sub.topic, sub.group):
                await self._unsubscribe(key)

    def _on_expired(self) -> None:
        """The token lapsed: end every subscription (their in-flight events go
        back to the group) and tell the client; it may AUTH again."""
        self._expiry = None
        self._expired = True
        self._send_error(
            PrometheanError("the token has expired; AUTH again", code=ErrorCode.TOKEN_EXPIRED),
            None,
        )
        self._spawn(self._release_subscriptions())

    # -- dispatch ----------------------------------------------------------

    async def _handle(self, data: bytes | str) -> None:
        try:
            frame = parse_gateway_request(data, max_frame_bytes=self._settings.max_frame_bytes)
        except FrameError as err:
            self._metrics.frames.labels("invalid").inc()
            if self._identity is None:
                await self._refuse(getattr(err, "corr", None), "AUTH is required first")
            else:
                self._send_error(err, getattr(err, "corr", None))
            return
        self._metrics.frames.labels(op_of(frame)).inc()
        if isinstance(frame, gf.GwAuth):
            await self._authenticate(frame)
            return
        if self._identity is None:
            await self._refuse(frame.corr, "AUTH is required first")
            return
        if self._expired or self._identity.expired():
            self._send_error(
                PrometheanError("the token has expired; AUTH again", code=ErrorCode.TOKEN_EXPIRED),
                frame.corr,
            )
            return
        try:
            await self._dispatch(frame, self._identity)
        except PrometheanError as err:
            self._send_error(err, frame.corr)
        except Exception:
            log.exception("frame handling failed", extra={"conn": self.id})
            self._send_error(PrometheanError("internal error"), frame.corr)

    async def _dispatch(self, frame: gf.GatewayRequest, identity: Identity) -> None:
        match frame:
            case gf.GwPublish():
                self._start_publish(frame, identity)
            case gf.GwSubscribe():
                await self._subscribe(frame, identity)
            case gf.GwAck() | gf.GwNack() | gf.GwModack():
                await self._settle(frame, identity)
            case gf.GwUnsubscribe():
                if (frame.topic, frame.group) not in self._subs:
                    raise _not_subscribed(frame.topic, frame.group)
                await self._unsubscribe((frame.topic, frame.group))
                self._send(gf.GwOk(corr=frame.corr))
            case _:
                raise FrameError(
                    f"{op_of(frame)} is not accepted here", code=ErrorCode.UNKNOWN_TYPE
                )

    # -- publish -----------------------------------------------------------

    def _start_publish(self, frame: gf.GwPublish, identity: Identity) -> None:
        if not identity.policy.allows(Action.PUBLISH, frame.topic):
            raise forbidden("publish", frame.topic)
        wait_ms = self._bucket.take()
        if wait_ms:
            raise RefusalError(ErrorCode.RATE_LIMITED, "too many publishes", wait_ms)
        if self._publishing >= self._settings.max_inflight_publishes:
            raise busy("too many publishes in flight on this connection")
        if not self._relay.connected:
            raise broker_down()
        if self._relay.overloaded:
            raise busy("the gateway has too many publishes in flight")
        self._publishing += 1
        self._spawn(self._publish(frame))

    async def _publish(self, frame: gf.GwPublish) -> None:
        opts = frame.opts or gf.GwPublishOpts()
        started = time.perf_counter()
        try:
            with self._tracer.start_as_current_span(
                f"publish {frame.topic}",
                context=extract_context(opts.headers),
                kind=trace.SpanKind.PRODUCER,
                attributes={
                    "messaging.system": "promethean",
                    "messaging.destination.name": frame.topic,
                },
            ):
                published = await self._relay.publish(
                    frame.topic,
                    frame.payload,
                    key=opts.key,
                    headers=traced_headers(opts.headers),
                    id=opts.id,
                )
        except PrometheanError as err:
            self._send_error(err, frame.corr)
            return
        finally:
            self._publishing -= 1
        self._metrics.relay_latency.labels("ws").observe(time.perf_counter() - started)
        self._send(gf.GwOk(corr=frame.corr, id=published.id))

    # -- subscribe and deliver --------------------------------------------

    async def _subscribe(self, frame: gf.GwSubscribe, identity: Identity) -> None:
        topic, group = frame.topic, frame.group
        if not identity.policy.allows(Action.SUBSCRIBE, topic, group):
            raise forbidden("subscribe", topic, group)
        if (topic, group) in self._subs:
            raise FrameError(f"already subscribed to {topic} as {group}", code=ErrorCode.BAD_FRAME)
        if len(self._subs) >= self._settings.max_subscriptions:
            raise RefusalError(
                ErrorCode.OVERLOADED,
                f"at most {self._settings.max_subscriptions} subscriptions per connection",
            )
        if not self._relay.connected:
            raise broker_down()
        options = subscribe_options(frame.opts, self._settings.max_inflight)
        sub = DeliveryTracker(topic, group, options.max_inflight or 1, self._deliver)
        self._subs[(topic, group)] = sub
        try:
            await self._relay.subscriptions.join(sub, options)
        except BaseException:
            if self._subs.get((topic, group)) is sub:
                del self._subs[(topic, group)]
            sub.closed = True
            raise
        if self._closing or sub.closed:
            return
        self._send(gf.GwOk(corr=frame.corr))

    def _deliver(self, sub: DeliveryTracker, message: Message) -> None:
        if self._closing:
            return  # it is given back when the connection closes
        frame = gf.GwEvent(
            topic=message.topic,
            group=message.group,
            event=event_body_of(message, msgspec.Raw(message.raw_payload)),
            ctx=gf.GwEventCtx(attempt=message.attempt, ack_deadline_ms=message.ack_deadline_ms),
        )
        self._metrics.events.inc()
        self._send(frame)

    async def _settle(self, frame: gf.GwAck | gf.GwNack | gf.GwModack, identity: Identity) -> None:
        if not identity.policy.allows(Action.SUBSCRIBE, frame.topic, frame.group):
            raise forbidden("ack", frame.topic, frame.group)
        sub = self._subs.get((frame.topic, frame.group))
        if sub is None:
            raise _not_subscribed(frame.topic, frame.group)
        message = sub.get(frame.id)
        if message is None:
            raise FrameError(
                f"event {frame.id[:64]!r} is not in flight on this connection",
                code=ErrorCode.UNKNOWN_DELIVERY,
            )
        if isinstance(frame, gf.GwModack):
            await message.modack(frame.extend_ms)
            message.ack_deadline_ms = now_ms() + frame.extend_ms
        else:
            sub.take(frame.id)
            if isinstance(frame, gf.GwAck):
                await message.ack()
            else:
                await message.nack(frame.reason)
            if sub.shared is not None:
                sub.shared.wake(sub)  # a credit came free
        self._confirm(frame.corr)

    async def _unsubscribe(self, key: tuple[str, str]) -> None:
        await self._relay.subscriptions.leave(self._subs.pop(key))


def _not_subscribed(topic: str, group: str) -> FrameError:
    return FrameError(f"not subscribed to {topic} as {group}", code=ErrorCode.NOT_SUBSCRIBED)


def traced_headers(headers: dict[str, str] | None) -> dict[str, str] | None:
    """The client's headers with this publish span's ``traceparent`` (unless
    the header limit leaves no room for it)."""
    if headers is not None and len(headers) >= MAX_HEADERS and TRACEPARENT not in headers:
        return headers
    traced = inject_headers(headers)
    if len(traced) > MAX_HEADERS:
        return headers
    return traced or None


def subscribe_options(opts: gf.GwSubscribeOpts | None, max_inflight: int) -> SubscribeOptions:
    """The broker subscription for a client's options; ``max_inflight`` is
    capped by the gateway's own limit (it bounds the id map)."""
    if opts is None:
        return SubscribeOptions(max_inflight=max_inflight)
    start = opts.start
    header = opts.filter.header if opts.filter is not None else None
    return SubscribeOptions(
        start=start.kind if start is not None else None,
        start_value=start.value if start is not None else None,
        max_inflight=min(opts.max_inflight or max_inflight, max_inflight),
        ack_timeout_ms=opts.ack_timeout_ms,
        filter_key=opts.filter.key if opts.filter is not None else None,
        filter_header=(header[0], header[1]) if header is not None else None,
    )
