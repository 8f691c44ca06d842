"""The client's transport: one WebSocket to the broker at a time, renewed
with jittered exponential backoff after every loss.

It authenticates each new connection, writes the `SendQueue` frames in order
from one writer task, and reads replies into ``on_frame``. It knows nothing
of publishes or subscriptions beyond the send queue: the client hears about
each new connection (``on_open``, to queue its SUBSCRIBEs first), each loss
(``on_lost``) and a final refusal (``on_refused``).
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import itertools
import logging
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Final

import aiohttp

from promethean import names
from promethean.backoff import Backoff
from promethean.client.send_queue import SendQueue
from promethean.errors import ConnectionLostError, PrometheanError
from promethean.frames import broker as bf
from promethean.frames.codec import encode, parse_broker_reply

log = logging.getLogger("promethean.client")

MSG_CLOSED: Final = "client closed"
MSG_NOT_CONNECTED: Final = "client is not connected: call connect() or use `async with`"
MSG_LOST: Final = "connection to the broker lost"
MSG_UNREACHABLE: Final = "cannot reach the broker at {url}: {error}"


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


def new_session(config: ClientConfig, *, connection_limit: int = 100) -> aiohttp.ClientSession:
    """An HTTP session for broker connections; one may serve many clients
    (``connection_limit=0`` for no limit), see `WebSocketBusClient`."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(limit=connection_limit),
        timeout=aiohttp.ClientTimeout(total=None, sock_connect=config.connect_timeout_s),
    )


class WebSocketTransport:
    def __init__(
        self,
        url: str,
        config: ClientConfig,
        send_queue: SendQueue,
        *,
        on_open: Callable[[], None],
        on_frame: Callable[[bf.BrokerReply], None],
        on_lost: Callable[[], None],
        on_refused: Callable[[PrometheanError], None],
        session: aiohttp.ClientSession | None = None,
        epochs: Iterator[int] | None = None,
    ) -> None:
        """``epochs``: numbers for new connections, shared by every transport
        of one client so a connection's epoch names it among all brokers'."""
        self.url = url
        self.config = config
        self._backoff = Backoff(config.reconnect_base_s, config.reconnect_max_s)
        self.send_queue = send_queue
        self._on_open = on_open
        self._on_frame = on_frame
        self._on_lost = on_lost
        self._on_refused = on_refused
        self.state = ClientState.IDLE
        self.fatal: PrometheanError | None = None
        """Why the broker refused us for good, if it did."""
        self.epoch = 0
        """Names the current connection; a delivery is settled only on its own."""
        self._epochs = epochs if epochs is not None else itertools.count(1)
        self._session: aiohttp.ClientSession | None = session
        self._owns_session = session is None
        """A session given by the caller is shared with other clients and
        outlives this one; only a session of our own is closed with us."""
        self._ws: aiohttp.ClientWebSocketResponse | None = None
        self._connected = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._flush_scheduled = False
        self._runner: asyncio.Task[None] | None = None

    @property
    def connected(self) -> bool:
        return self.state is ClientState.CONNECTED

    @property
    def closed(self) -> bool:
        return self.state is ClientState.CLOSED

    @property
    def session(self) -> aiohttp.ClientSession | None:
        """The HTTP session, once open; other connections of the client share it."""
        return self._session

    def check_usable(self) -> None:
        if self.closed:
            raise self.fatal or ConnectionLostError(MSG_CLOSED)
        if self.state is ClientState.IDLE:
            raise ConnectionLostError(MSG_NOT_CONNECTED)

    async def wait_connected(self) -> None:
        self.check_usable()
        if not self.connected:
            try:
                await asyncio.wait_for(self._connected.wait(), self.config.request_timeout_s)
            except TimeoutError:
                raise ConnectionLostError(MSG_LOST) from None

    # -- lifecycle ---------------------------------------------------------

    async def open(self) -> None:
        """Open the first connection, then keep one open in the background."""
        if self.closed:
            raise self.fatal or ConnectionLostError(MSG_CLOSED)
        if self._runner is not None:
            return
        if self._session is None:
            self._session = new_session(self.config)
        first: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._runner = asyncio.create_task(self._run(first), name="bus-client")
        try:
            await first
        except BaseException:
            self.state = ClientState.CLOSED
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
            if self._owns_session:
                await self._session.close()
            raise

    async def _connect(self) -> aiohttp.ClientWebSocketResponse:
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
        self.epoch = next(self._epochs)
        self.state = ClientState.CONNECTED
        self._connected.set()
        self._on_open()
        # Then everything not yet acknowledged goes out again, with its id.
        self.flush()
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

    async def _run(self, first: asyncio.Future[None]) -> None:
        failures = 0
        while not self.closed:
            try:
                ws = await self._connect()
            except PrometheanError as exc:
                self._refused(exc, first)
                return
            except (aiohttp.ClientError, OSError, TimeoutError) as exc:
                if not first.done():
                    error = MSG_UNREACHABLE.format(url=self.url, error=exc)
                    first.set_exception(ConnectionLostError(error))
                    return
                failures += 1
                # Attempt 1 was the connection that was lost: the first
                # failed reconnect already waits twice the base.
                delay = self._backoff.delay_s(failures + 1)
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

    def _refused(self, error: PrometheanError, first: asyncio.Future[None]) -> None:
        """The broker refused us (bad token): fail everything, stay closed."""
        if not first.done():
            first.set_exception(error)
            return
        log.error("the broker refused the client; giving up", extra={"error": str(error)})
        self.fatal = error
        self.state = ClientState.CLOSED
        self.send_queue.fail_all(error)
        self._on_refused(error)

    def _lost(self) -> None:
        if not self.closed:
            self.state = ClientState.RECONNECTING
        self._connected.clear()
        self._ws = None
        if self._writer is not None:
            self._writer.cancel()
            self._writer = None
        self.send_queue.connection_lost()
        self._on_lost()

    async def close(self) -> None:
        """Write what is queued (bounded by ``request_timeout_s``), close the
        connection and stop reconnecting. Idempotent."""
        if self.connected:
            self.flush()
            writer = self._writer
            if writer is not None:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(asyncio.shield(writer), self.config.request_timeout_s)
        self.state = ClientState.CLOSED
        if self._ws is not None:
            await self._ws.close()
        if self._runner is not None:
            self._runner.cancel()
            await asyncio.gather(self._runner, return_exceptions=True)
        self._lost()
        self.send_queue.fail_all(self.fatal or ConnectionLostError(MSG_CLOSED))
        if self._owns_session and self._session is not None and not self._session.closed:
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

    # -- writing -----------------------------------------------------------

    def schedule_flush(self) -> None:
        """Flush at the end of this loop turn, so everything issued in the
        turn shares its frames."""
        if not self._flush_scheduled:
            self._flush_scheduled = True
            asyncio.get_running_loop().call_soon(self.flush)

    def flush(self) -> None:
        self._flush_scheduled = False
        if self.connected:
            self.send_queue.fill(asyncio.get_running_loop().time())
            self._kick_writer()

    def send_ordered(self, data: bytes) -> None:
        """Queue one frame behind every ack and publish issued before it."""
        if self.connected:
            self.send_queue.push(data, asyncio.get_running_loop().time())
            self._kick_writer()

    def _kick_writer(self) -> None:
        if self.send_queue.frames and self._ws is not None and self._writer is None:
            self._writer = asyncio.create_task(self._write(self._ws), name="bus-client-writer")

    async def _write(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        frames = self.send_queue.frames
        try:
            while frames:
                await ws.send_frame(frames.popleft(), aiohttp.WSMsgType.TEXT)
        except (ConnectionError, RuntimeError) as exc:
            # The reader notices the loss; unanswered publishes are re-sent.
            log.debug("send failed", extra={"error": str(exc)})
        finally:
            if self._writer is asyncio.current_task():
                self._writer = None
