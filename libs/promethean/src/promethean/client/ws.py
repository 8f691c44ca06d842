"""`WebSocketBusClient`: the async SDK over the broker protocol.

Publishes issued in the same event-loop turn leave as one ``PUBLISH_BATCH``
frame, acks as one ``ACK_BATCH``: no added latency, far fewer frames. Every
publish carries an id chosen here, so after a lost connection the client
re-sends whatever was not yet ``PUBLISHED`` and the broker stores it once.
Every frame leaves through one ordered `Outbox`, so an ack issued before a
NACK or UNSUBSCRIBE reaches the broker first.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import logging
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import aiohttp
import msgspec

from promethean import names
from promethean.client.outbox import Outbox, PendingPublish, encoded_size
from promethean.client.subscription import ClientSubscription
from promethean.client.types import Handler, Message, Published, SubscribeOptions
from promethean.errors import ConnectionLostError, PrometheanError
from promethean.frames import broker as bf
from promethean.frames.checks import (
    check_event_fields,
    check_filter,
    check_name,
    check_payload,
    check_topic_group,
)
from promethean.frames.codec import encode, parse_broker_reply
from promethean.frames.codes import ErrorCode
from promethean.frames.fields import Filter

log = logging.getLogger("promethean.client")

MSG_CLOSED: Final = "client closed"
MSG_NOT_CONNECTED: Final = "client is not connected: call connect() or use `async with`"
MSG_LOST: Final = "connection to the broker lost"
MSG_UNREACHABLE: Final = "cannot reach the broker at {url}: {error}"
MSG_PUBLISH_TIMEOUT: Final = "publish of {id} not acknowledged within {timeout}s"
MSG_NO_REPLY: Final = "no reply to {frame} within {timeout}s"

_json = msgspec.json.Encoder()


class ClientState(enum.Enum):
    IDLE = "idle"
    CONNECTED = "connected"
    RECONNECTING = "reconnecting"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class ClientConfig:
    token: str | None = None
    """``PROMETHEAN_BROKER_TOKEN`` of the broker, sent as ``AUTH`` first."""
    reconnect_base_s: float = 0.1
    reconnect_max_s: float = 5.0
    connect_timeout_s: float = 10.0
    publish_timeout_s: float = 60.0
    """How long one ``publish`` call may wait for ``PUBLISHED``, across reconnects."""
    request_timeout_s: float = 30.0
    max_pending_publishes: int = 10_000
    """Publishes waiting for ``PUBLISHED``; further calls wait for a slot."""
    max_frame_bytes: int = names.MAX_FRAME_BYTES
    heartbeat_s: float = 20.0
    stop_grace_s: float = 10.0
    """How long stopping a handler subscription waits for running handlers."""


class WebSocketBusClient:
    """The `BusClient` for a real broker:
    ``async with WebSocketBusClient(url, ClientConfig(token=...)) as bus: ...``"""

    def __init__(self, url: str, config: ClientConfig | None = None) -> None:
        self.url = url
        self.config = config or ClientConfig()
        self._state = ClientState.IDLE
        self._fatal: PrometheanError | None = None
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._connected = asyncio.Event()
        self._epoch = 0
        self._corr = itertools.count(1)
        self._requests: dict[int, asyncio.Future[Any]] = {}
        self._outbox = Outbox(self._corr, self.config.max_frame_bytes)
        self._publish_slots = asyncio.Semaphore(self.config.max_pending_publishes)
        self._writer: asyncio.Task[None] | None = None
        self._flush_scheduled = False
        self._subs: dict[tuple[str, str], ClientSubscription] = {}
        self._runner: asyncio.Task[None] | None = None

    # -- lifecycle ---------------------------------------------------------

    async def __aenter__(self) -> WebSocketBusClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def state(self) -> ClientState:
        return self._state

    @property
    def connected(self) -> bool:
        return self._state is ClientState.CONNECTED

    @property
    def closed(self) -> bool:
        return self._state is ClientState.CLOSED

    async def connect(self) -> None:
        """Open the first connection. Raises `ConnectionLostError` when the
        broker cannot be reached, `PrometheanError` (code ``unauthorized``)
        when it refuses the token. Later losses are repaired in the background."""
        if self.closed:
            raise self._fatal or ConnectionLostError(MSG_CLOSED)
        if self._runner is not None:
            return
        self._session = aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=self.config.connect_timeout_s)
        )
        first: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._runner = asyncio.create_task(self._run(first), name="bus-client")
        try:
            await first
        except BaseException:
            self._state = ClientState.CLOSED
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
            await self._session.close()
            raise

    async def _open(self) -> aiohttp.ClientWebSocketResponse:
        assert self._session is not None
        ws = await self._session.ws_connect(
            self.url, max_msg_size=0, autoping=True, heartbeat=self.config.heartbeat_s
        )
        try:
            if self.config.token is not None:
                await self._authenticate(ws)
        except BaseException:
            await ws.close()
            raise
        self._ws = ws
        self._epoch += 1
        self._state = ClientState.CONNECTED
        self._connected.set()
        for sub in self._subs.values():
            self._outbox.frames.append(encode(sub.subscribe_frame(None)))
        # Then everything not yet acknowledged goes out again, with its id.
        self._flush()
        return ws

    async def _authenticate(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        frame = bf.Auth(token=self.config.token or "", corr="auth")
        await ws.send_frame(encode(frame), aiohttp.WSMsgType.TEXT)
        msg = await ws.receive(timeout=self.config.request_timeout_s)
        if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
            raise ConnectionResetError("the broker closed the connection during AUTH")
        reply = parse_broker_reply(msg.data)
        if isinstance(reply, bf.Err):
            raise PrometheanError(f"AUTH refused: {reply.msg}", code=reply.code)
        if not isinstance(reply, bf.Ok):
            raise PrometheanError(f"unexpected reply to AUTH: {type(reply).__name__}")

    def _backoff_s(self, failures: int) -> float:
        cap = min(self.config.reconnect_max_s, self.config.reconnect_base_s * 2.0**failures)
        return cap * random.uniform(0.5, 1.0)

    async def _run(self, first: asyncio.Future[None]) -> None:
        failures = 0
        while not self.closed:
            try:
                ws = await self._open()
            except PrometheanError as exc:
                self._give_up(exc, first)
                return
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                if not first.done():
                    error = MSG_UNREACHABLE.format(url=self.url, error=exc)
                    first.set_exception(ConnectionLostError(error))
                    return
                failures += 1
                delay = self._backoff_s(failures)
                log.warning(
                    "reconnect failed; retrying",
                    extra={"attempt": failures, "retry_in_s": round(delay, 3), "error": str(exc)},
                )
                await asyncio.sleep(delay)
                continue
            failures = 0
            if not first.done():
                first.set_result(None)
            try:
                await self._read(ws)
            except Exception:
                log.exception("reading from the broker failed")
            self._lost()
            if not self.closed:
                log.warning("connection to the broker lost; reconnecting", extra={"url": self.url})

    def _give_up(self, error: PrometheanError, first: asyncio.Future[None]) -> None:
        """The broker refused us (bad token): fail everything, stay closed."""
        if not first.done():
            first.set_exception(error)
            return
        log.error("the broker refused the client; giving up", extra={"error": str(error)})
        self._fatal = error
        self._state = ClientState.CLOSED
        self._outbox.fail_all(error)
        for sub in self._subs.values():
            sub.end()

    def _lost(self) -> None:
        if not self.closed:
            self._state = ClientState.RECONNECTING
        self._connected.clear()
        self._ws = None
        if self._writer is not None:
            self._writer.cancel()
            self._writer = None
        self._outbox.connection_lost()
        for future in self._requests.values():
            if not future.done():
                future.set_exception(ConnectionLostError(MSG_LOST))
        self._requests.clear()
        for sub in self._subs.values():
            sub.drop_pending(self._epoch + 1)

    async def close(self) -> None:
        """Stop every subscription (running handlers finish and ack), send
        what is queued, close. Publishes still waiting fail with
        `ConnectionLostError`."""
        if self.closed:
            if self._session is not None and not self._session.closed:
                await self._shutdown_transport()
            return
        for sub in list(self._subs.values()):
            await sub.shutdown(self.config.stop_grace_s)
        self._subs.clear()
        if self.connected:
            self._flush()
            writer = self._writer
            if writer is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(writer), self.config.request_timeout_s)
        self._state = ClientState.CLOSED
        await self._shutdown_transport()

    async def _shutdown_transport(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        self._lost()
        self._outbox.fail_all(self._fatal or ConnectionLostError(MSG_CLOSED))
        if self._session is not None:
            await self._session.close()

    # -- reading -----------------------------------------------------------

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                break
            try:
                frame = parse_broker_reply(msg.data)
            except PrometheanError:
                log.exception("unparseable frame from the broker")
                continue
            self._on_frame(frame)

    def _on_frame(self, frame: bf.BrokerReply) -> None:
        if isinstance(frame, bf.Message):
            self._on_message(frame)
        elif isinstance(frame, bf.MessageBatch):
            for delivery in frame.messages:
                self._on_message(delivery)
        elif isinstance(frame, bf.PublishedBatch | bf.Published):
            results = frame.results if isinstance(frame, bf.PublishedBatch) else [frame]
            if self._outbox.resolve(frame.corr, results):
                self._schedule_flush()
        elif isinstance(frame, bf.Err):
            self._on_error(frame)
        else:
            future = self._requests.pop(frame.corr, None) if isinstance(frame.corr, int) else None
            if future is not None and not future.done():
                future.set_result(frame)

    def _on_message(self, frame: bf.Message | bf.Delivery) -> None:
        sub = self._subs.get((frame.topic, frame.group))
        if sub is None:
            return  # unsubscribed meanwhile; the broker takes it back
        env = frame.envelope
        message = Message(
            topic=frame.topic,
            group=frame.group,
            partition=frame.partition,
            offset=frame.offset,
            attempt=frame.attempt,
            id=env.id,
            ts=env.ts,
            raw_payload=bytes(env.payload),
            key=env.key,
            headers=env.headers,
            caused_by=env.caused_by,
            tags=env.tags,
            sid=env.sid,
            ack_deadline_ms=frame.ack_deadline_ms,
            epoch=self._epoch,
            settle=self._settle,
        )
        if not sub.offer(message):
            log.error("subscription inbox full; dropping a delivery (it will be redelivered)")

    def _on_error(self, frame: bf.Err) -> None:
        corr = frame.corr
        if isinstance(corr, int) and self._outbox.awaits(corr):
            loop = asyncio.get_running_loop()
            pause = self._outbox.refuse(corr, frame, loop.time())
            if pause is not None:
                loop.call_later(pause, self._schedule_flush)
            return
        future = self._requests.pop(corr, None) if isinstance(corr, int) else None
        if future is not None and not future.done():
            future.set_exception(PrometheanError(frame.msg, code=frame.code))
        else:
            log.warning("broker error", extra={"code": frame.code, "error": frame.msg})

    # -- writing -----------------------------------------------------------

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        if self.connected:
            self._outbox.fill(asyncio.get_running_loop().time())
            self._kick_writer()

    def _send_ordered(self, data: bytes) -> None:
        """Queue one frame behind every ack and publish issued before it."""
        self._outbox.push(data, asyncio.get_running_loop().time())
        self._kick_writer()

    def _kick_writer(self) -> None:
        if self._outbox.frames and self._ws is not None and self._writer is None:
            self._writer = asyncio.create_task(self._write(self._ws), name="bus-client-writer")

    async def _write(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        frames = self._outbox.frames
        try:
            while frames:
                await ws.send_frame(frames.popleft(), aiohttp.WSMsgType.TEXT)
        except (ConnectionError, RuntimeError) as exc:
            # The reader notices the loss; unanswered publishes are re-sent.
            log.debug("send failed", extra={"error": str(exc)})
        finally:
            if self._writer is asyncio.current_task():
                self._writer = None

    async def _wait_connected(self) -> None:
        self._check_usable()
        if not self.connected:
            try:
                await asyncio.wait_for(self._connected.wait(), self.config.request_timeout_s)
            except TimeoutError:
                raise ConnectionLostError(MSG_LOST) from None

    async def _request(self, make_frame: Callable[[int], bf.BrokerFrame]) -> Any:
        """Send a frame that expects a reply; returns the reply."""
        await self._wait_connected()
        corr = next(self._corr)
        frame = make_frame(corr)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._requests[corr] = future
        self._send_ordered(encode(frame))
        try:
            return await asyncio.wait_for(future, self.config.request_timeout_s)
        except TimeoutError:
            self._requests.pop(corr, None)
            timeout = self.config.request_timeout_s
            error = MSG_NO_REPLY.format(frame=type(frame).__name__, timeout=timeout)
            raise ConnectionLostError(error) from None

    # -- public API --------------------------------------------------------

    async def publish(
        self,
        topic: str,
        payload: Any,
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        id: str | None = None,
    ) -> Published:
        """Append one event; returns once it is durable. Invalid names or
        sizes raise `FrameError` at once; after a lost connection the event
        is re-sent with the same id until ``publish_timeout_s`` passes."""
        if self._state is not ClientState.CONNECTED:
            self._check_usable()
        raw = msgspec.Raw(_json.encode(payload))
        event_id = id if id is not None else uuid.uuid4().hex
        check_name(topic, "topic")
        check_payload(raw, "payload")
        check_event_fields("", key=key, headers=headers, id=event_id)
        item = bf.PublishItem(topic=topic, payload=raw, key=key, headers=headers, id=event_id)
        try:
            async with asyncio.timeout(self.config.publish_timeout_s):
                await self._publish_slots.acquire()
                future: asyncio.Future[Published] = asyncio.get_running_loop().create_future()
                future.add_done_callback(self._release_slot)
                self._outbox.add_publish(PendingPublish(item, encoded_size(item), future))
                self._schedule_flush()
                return await future
        except TimeoutError:
            timeout = self.config.publish_timeout_s
            error = MSG_PUBLISH_TIMEOUT.format(id=event_id, timeout=timeout)
            raise ConnectionLostError(error) from None

    def _check_usable(self) -> None:
        if self.closed:
            raise self._fatal or ConnectionLostError(MSG_CLOSED)
        if self._state is ClientState.IDLE:
            raise ConnectionLostError(MSG_NOT_CONNECTED)

    def _release_slot(self, _: asyncio.Future[Published]) -> None:
        self._publish_slots.release()

    async def subscribe(
        self,
        topic: str,
        group: str,
        handler: Handler | None = None,
        *,
        options: SubscribeOptions | None = None,
        manual_ack: bool = False,
        concurrency: int = 1,
    ) -> ClientSubscription:
        """Join ``group`` on ``topic``. The subscription outlives lost
        connections: it is renewed on every reconnect."""
        check_topic_group(topic, group)
        options = options or SubscribeOptions()
        if options.filter_key is not None or options.filter_header is not None:
            check_filter(Filter(key=options.filter_key, header=options.filter_header), "filter")
        if (topic, group) in self._subs:
            raise ValueError(f"already subscribed to {topic} as {group}")
        await self._wait_connected()
        sub = ClientSubscription(
            topic,
            group,
            options,
            handler=handler,
            manual_ack=manual_ack,
            concurrency=max(1, concurrency),
            inbox_size=max(options.max_inflight or 0, 100_000),
            on_stop=self._stop_subscription,
        )
        # Registered before SUBSCRIBE leaves, so no MESSAGE that follows
        # SUBSCRIBED finds it missing.
        self._subs[(topic, group)] = sub
        try:
            await self._request(sub.subscribe_frame)
        except ConnectionLostError:
            if self._state is ClientState.RECONNECTING:
                return sub  # renewed with the other subscriptions on reconnect
            await self._abandon(sub)
            raise
        except BaseException:
            await self._abandon(sub)
            raise
        return sub

    async def _abandon(self, sub: ClientSubscription) -> None:
        self._subs.pop((sub.topic, sub.group), None)
        await sub.shutdown(0)
        if self.connected:
            frame = bf.Unsubscribe(topic=sub.topic, group=sub.group)
            self._send_ordered(encode(frame))  # in case the broker did subscribe us

    async def _stop_subscription(self, sub: ClientSubscription) -> None:
        await self.unsubscribe(sub.topic, sub.group)

    async def unsubscribe(self, topic: str, group: str) -> None:
        """Stop delivery: running handlers finish (and ack) first; messages
        not yet handled go back to the group."""
        sub = self._subs.pop((topic, group), None)
        if sub is None:
            return
        await sub.shutdown(self.config.stop_grace_s)
        if not self.connected:
            return  # the broker forgot the subscription with the connection
        try:
            await self._request(lambda corr: bf.Unsubscribe(corr=corr, topic=topic, group=group))
        except ConnectionLostError:
            pass
        except PrometheanError as exc:
            if exc.code != ErrorCode.NOT_SUBSCRIBED:
                raise

    async def _settle(self, message: Message, action: str, arg: Any) -> None:
        if message.epoch != self._epoch or not self.connected:
            return  # that delivery died with its connection; it will come again
        if action == "ack":
            self._outbox.add_ack(message.topic, message.group, message.partition, message.offset)
            self._schedule_flush()
            return
        frame: bf.Nack | bf.Modack
        if action == "nack":
            frame = bf.Nack(
                topic=message.topic,
                group=message.group,
                partition=message.partition,
                offset=message.offset,
                reason=arg,
            )
        else:
            frame = bf.Modack(
                topic=message.topic,
                group=message.group,
                partition=message.partition,
                offset=message.offset,
                extend_ms=int(arg),
            )
        self._send_ordered(encode(frame))
