"""`WebSocketBusClient`: the async SDK over the broker protocol.

Publishes issued in the same event-loop turn leave as one ``PUBLISH_BATCH``
frame, acks as one ``ACK_BATCH``: no added latency, far fewer frames. Every
publish carries an id chosen here, so after a lost connection the client
re-sends whatever was not yet ``PUBLISHED`` and the broker stores it once.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import random
import uuid
from dataclasses import dataclass
from typing import Any

import aiohttp
import msgspec

from promethean.client.subscription import ClientSubscription
from promethean.client.types import Handler, Message, Published, SubscribeOptions
from promethean.errors import ConnectionLostError, OverloadedError, PrometheanError
from promethean.frames import broker as bf
from promethean.frames.codec import encode, parse_broker_reply

log = logging.getLogger("promethean.client")

MAX_BATCH_ITEMS = 256
_json = msgspec.json.Encoder()


@dataclass(slots=True)
class _PendingPublish:
    item: bf.PublishItem
    future: asyncio.Future[Published]


@dataclass(frozen=True, slots=True)
class ClientConfig:
    token: str | None = None
    reconnect_base_s: float = 0.1
    reconnect_max_s: float = 5.0
    publish_timeout_s: float = 60.0
    request_timeout_s: float = 30.0
    max_pending_publishes: int = 10_000


class WebSocketBusClient:
    def __init__(self, url: str, config: ClientConfig | None = None) -> None:
        self.url = url
        self.config = config or ClientConfig()
        self._session: aiohttp.ClientSession | None = None
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._connected = asyncio.Event()
        self._epoch = 0
        self._corr = itertools.count(1)
        self._requests: dict[int, asyncio.Future[Any]] = {}
        self._unsent: list[_PendingPublish] = []
        self._awaiting: dict[int, list[_PendingPublish]] = {}
        self._publish_slots = asyncio.Semaphore(self.config.max_pending_publishes)
        self._acks: dict[tuple[str, str], list[tuple[int, int]]] = {}
        self._flush_scheduled = False
        self._subs: dict[tuple[str, str], ClientSubscription] = {}
        self._runner: asyncio.Task[None] | None = None
        self._closed = False

    # -- lifecycle ---------------------------------------------------------

    async def __aenter__(self) -> WebSocketBusClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    @property
    def connected(self) -> bool:
        return self._connected.is_set()

    async def connect(self) -> None:
        if self._runner is None:
            self._session = aiohttp.ClientSession()
            first = asyncio.get_running_loop().create_future()
            self._runner = asyncio.create_task(self._run(first), name="bus-client")
            await first

    async def _open(self) -> None:
        assert self._session is not None
        ws = await self._session.ws_connect(self.url, max_msg_size=0, autoping=True, heartbeat=20)
        self._ws = ws
        self._epoch += 1
        if self.config.token is not None:
            await self._handshake(ws, bf.Auth(token=self.config.token, corr="auth"))
        for sub in self._subs.values():
            await ws.send_bytes(encode(self._subscribe_frame(sub, None)))
        self._connected.set()
        # Everything not yet acknowledged goes out again, with its id.
        resend = [p for pending in self._awaiting.values() for p in pending] + self._unsent
        self._awaiting.clear()
        self._unsent = [p for p in resend if not p.future.done()]
        self._schedule_flush()

    async def _handshake(self, ws: aiohttp.ClientWebSocketResponse, frame: bf.Auth) -> None:
        await ws.send_bytes(encode(frame))
        reply = parse_broker_reply(await ws.receive_bytes(timeout=self.config.request_timeout_s))
        if isinstance(reply, bf.Err):
            raise PrometheanError(reply.msg, code=reply.code)

    async def _run(self, first: asyncio.Future[None]) -> None:
        attempt = 0
        while not self._closed:
            try:
                await self._open()
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                if not first.done():
                    first.set_exception(ConnectionLostError(f"cannot reach {self.url}: {exc}"))
                    return
                attempt += 1
                delay = min(self.config.reconnect_max_s, self.config.reconnect_base_s * 2**attempt)
                delay *= random.uniform(0.5, 1.0)
                log.warning("reconnect failed", extra={"attempt": attempt, "retry_in_s": delay})
                await asyncio.sleep(delay)
                continue
            except PrometheanError as exc:
                if not first.done():
                    first.set_exception(exc)
                return
            attempt = 0
            if not first.done():
                first.set_result(None)
            await self._read()
            self._lost()

    def _lost(self) -> None:
        self._connected.clear()
        self._ws = None
        for future in self._requests.values():
            if not future.done():
                future.set_exception(ConnectionLostError("connection to the broker lost"))
        self._requests.clear()
        self._acks.clear()
        for sub in self._subs.values():
            sub.drop_pending(self._epoch + 1)

    async def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for sub in list(self._subs.values()):
            await sub.shutdown()
        self._subs.clear()
        if self._ws is not None:
            self._flush()
            await self._ws.close()
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        self._lost()
        error = ConnectionLostError("client closed")
        for pending in self._unsent + [p for ps in self._awaiting.values() for p in ps]:
            if not pending.future.done():
                pending.future.set_exception(error)
        if self._session is not None:
            await self._session.close()

    # -- reading -----------------------------------------------------------

    async def _read(self) -> None:
        ws = self._ws
        assert ws is not None
        async for msg in ws:
            if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                break
            try:
                frame = parse_broker_reply(msg.data)
            except PrometheanError:
                log.exception("unparseable frame from broker")
                continue
            self._on_frame(frame)

    def _on_frame(self, frame: Any) -> None:
        if isinstance(frame, bf.Message):
            self._on_message(frame)
        elif isinstance(frame, bf.Published):
            self._resolve_publishes(frame.corr, [frame])
        elif isinstance(frame, bf.PublishedBatch):
            self._resolve_publishes(frame.corr, frame.results)
        elif isinstance(frame, bf.Err):
            self._on_error(frame)
        else:
            future = self._requests.pop(frame.corr, None) if isinstance(frame.corr, int) else None
            if future is not None and not future.done():
                future.set_result(frame)

    def _on_message(self, frame: bf.Message) -> None:
        sub = self._subs.get((frame.topic, frame.group))
        if sub is None:
            return
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
            log.error("subscription inbox full; dropping delivery (it will be redelivered)")

    def _on_error(self, frame: bf.Err) -> None:
        corr = frame.corr
        if isinstance(corr, int) and corr in self._awaiting:
            error: PrometheanError = (
                OverloadedError(frame.msg, frame.retry_after_ms or 100)
                if frame.code == "overloaded"
                else PrometheanError(frame.msg, code=frame.code)
            )
            for pending in self._awaiting.pop(corr):
                self._publish_slots.release()
                if not pending.future.done():
                    pending.future.set_exception(error)
            return
        future = self._requests.pop(corr, None) if isinstance(corr, int) else None
        if future is not None and not future.done():
            future.set_exception(PrometheanError(frame.msg, code=frame.code))
        else:
            log.warning("broker error", extra={"code": frame.code, "msg": frame.msg})

    def _resolve_publishes(self, corr: object, results: list[Any]) -> None:
        pending = self._awaiting.pop(corr, []) if isinstance(corr, int) else []
        for item, result in zip(pending, results, strict=False):
            self._publish_slots.release()
            if item.future.done():
                continue
            if isinstance(result, bf.ItemError):
                item.future.set_exception(PrometheanError(result.msg, code=result.code))
            else:
                item.future.set_result(
                    Published(result.topic, result.partition, result.offset, result.id, result.duplicate)
                )

    # -- writing -----------------------------------------------------------

    def _schedule_flush(self) -> None:
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_scheduled = False
        ws = self._ws
        if ws is None or ws.closed or not self._connected.is_set():
            return
        frames: list[bytes] = []
        acks, self._acks = self._acks, {}
        for (topic, group), items in acks.items():
            if len(items) == 1:
                partition, offset = items[0]
                frames.append(encode(bf.Ack(topic=topic, group=group, partition=partition, offset=offset)))
            else:
                frames.append(encode(bf.AckBatch(topic=topic, group=group, items=items)))
        unsent, self._unsent = self._unsent, []
        unsent = [p for p in unsent if not p.future.done()]
        for start in range(0, len(unsent), MAX_BATCH_ITEMS):
            chunk = unsent[start : start + MAX_BATCH_ITEMS]
            corr = next(self._corr)
            self._awaiting[corr] = chunk
            if len(chunk) == 1:
                item = chunk[0].item
                frames.append(
                    encode(
                        bf.Publish(
                            corr=corr, topic=item.topic, payload=item.payload, key=item.key,
                            headers=item.headers, id=item.id,
                        )
                    )
                )
            else:
                frames.append(encode(bf.PublishBatch(corr=corr, items=[p.item for p in chunk])))
        for data in frames:
            asyncio.ensure_future(self._send(ws, data))

    @staticmethod
    async def _send(ws: aiohttp.ClientWebSocketResponse, data: bytes) -> None:
        try:
            await ws.send_frame(data, aiohttp.WSMsgType.TEXT)
        except (ConnectionError, RuntimeError):
            pass  # the reader notices the loss and everything is re-sent

    async def _request(self, frame_factory: Any) -> Any:
        await asyncio.wait_for(self._connected.wait(), self.config.request_timeout_s)
        ws = self._ws
        assert ws is not None
        corr = next(self._corr)
        future: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        self._requests[corr] = future
        await ws.send_frame(encode(frame_factory(corr)), aiohttp.WSMsgType.TEXT)
        return await asyncio.wait_for(future, self.config.request_timeout_s)

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
        if self._closed:
            raise ConnectionLostError("client closed")
        item = bf.PublishItem(
            topic=topic,
            payload=msgspec.Raw(_json.encode(payload)),
            key=key,
            headers=headers,
            id=id if id is not None else uuid.uuid4().hex,
        )
        await self._publish_slots.acquire()
        future: asyncio.Future[Published] = asyncio.get_running_loop().create_future()
        self._unsent.append(_PendingPublish(item, future))
        self._schedule_flush()
        try:
            return await asyncio.wait_for(asyncio.shield(future), self.config.publish_timeout_s)
        except TimeoutError:
            raise ConnectionLostError(
                f"publish of {item.id} not acknowledged within {self.config.publish_timeout_s}s"
            ) from None

    def _subscribe_frame(self, sub: ClientSubscription, corr: int | None) -> bf.Subscribe:
        o = sub.options
        start = bf.FromSpec(kind=o.start, value=o.start_value) if o.start else None  # type: ignore[arg-type]
        flt = (
            bf.Filter(key=o.filter_key, header=o.filter_header)
            if o.filter_key is not None or o.filter_header is not None
            else None
        )
        return bf.Subscribe(
            corr=corr,
            topic=sub.topic,
            group=sub.group,
            from_=start,
            max_inflight=o.max_inflight,
            ack_timeout_ms=o.ack_timeout_ms,
            filter=flt,
        )

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
        if (topic, group) in self._subs:
            raise ValueError(f"already subscribed to {topic} as {group}")
        options = options or SubscribeOptions()
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
        self._subs[(topic, group)] = sub
        try:
            await self._request(lambda corr: self._subscribe_frame(sub, corr))
        except BaseException:
            self._subs.pop((topic, group), None)
            await sub.shutdown()
            raise
        return sub

    async def _stop_subscription(self, sub: ClientSubscription) -> None:
        await self.unsubscribe(sub.topic, sub.group)

    async def unsubscribe(self, topic: str, group: str) -> None:
        sub = self._subs.pop((topic, group), None)
        if sub is None:
            return
        await sub.shutdown()
        if self._connected.is_set():
            await self._request(lambda corr: bf.Unsubscribe(corr=corr, topic=topic, group=group))

    async def _settle(self, message: Message, action: str, arg: Any) -> None:
        if message.epoch != self._epoch or not self._connected.is_set():
            return  # that delivery died with its connection; it will come again
        if action == "ack":
            self._acks.setdefault((message.topic, message.group), []).append(
                (message.partition, message.offset)
            )
            self._schedule_flush()
            return
        ws = self._ws
        if ws is None:
            return
        if action == "nack":
            frame: Any = bf.Nack(
                topic=message.topic, group=message.group, partition=message.partition,
                offset=message.offset, reason=arg,
            )
        else:
            frame = bf.Modack(
                topic=message.topic, group=message.group, partition=message.partition,
                offset=message.offset, extend_ms=int(arg),
            )
        self._flush()  # keep acks issued before this frame ahead of it
        await self._send(ws, encode(frame))
