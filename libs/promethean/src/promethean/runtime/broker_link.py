"""One reconnecting link to the broker, the same for every service.

`connect_bus` makes the client, so ``BROKER_IMPL=mock`` gives the in-memory
broker. The first connection is retried with one `Backoff` policy until it
succeeds (the watchdog ends the wait after ``PROMETHEAN_DISCONNECT_KILL_MS``);
after that the client repairs lost connections itself, re-subscribing and
re-joining its groups, and `BrokerLink.follow` watches its state: it keeps
the ``broker`` dependency (the watchdog's clock) and readiness condition in
one place, and calls the service's ``connected``/``lost`` hooks on every
change. A client the broker refused for good (a wrong token) is replaced
only under `Refusal.RETRY`; a service that keeps the client it got (its
subscriptions hang on it) uses `Refusal.RAISE`.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

from promethean.backoff import Backoff
from promethean.client.factory import connect_bus
from promethean.client.port import BusClient
from promethean.client.types import Published
from promethean.client.ws import ClientConfig
from promethean.errors import ConnectionLostError, PrometheanError
from promethean.runtime.health import Dependency, Progress, Readiness

log = logging.getLogger("promethean.broker_link")

BROKER: Final = "broker"
"""The dependency's name and the readiness condition's."""
NOT_CONNECTED: Final = "not connected to the broker"
LINK_CLOSED: Final = "the broker link is closed"
FOLLOW_EVERY_S: Final = 0.25
CLOSE_TIMEOUT_S: Final = 2.0
"""Closing waits this long at most: a broker that already went away never
answers the close handshake."""

Connector = Callable[[], Awaitable[BusClient]]
ConnectedHook = Callable[[BusClient], None]
LostHook = Callable[[], None]


class Refusal(enum.Enum):
    """What the link does when the broker refuses the client (wrong token)."""

    RAISE = "raise"
    """`connect` raises; a client refused later stays down (the watchdog decides)."""
    RETRY = "retry"
    """`connect` keeps trying; `follow` replaces a client refused later."""


class LinkState(enum.Enum):
    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"
    LOST = "lost"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class LinkHealth:
    """The health state a link keeps for its service."""

    dependency: Dependency
    readiness: Readiness
    progress: Progress | None = None
    """Ticked on every failed attempt: waiting for the broker is not a stall."""
    kill_after_ms: int | None = None
    """``PROMETHEAN_DISCONNECT_KILL_MS``, for the "exit_in_ms" of retry logs."""


def client_is_up(client: BusClient) -> bool:
    """The real client and the mock's clients say ``connected``; the mock
    broker itself says ``is_open``."""
    for attribute in ("connected", "is_open"):
        value = getattr(client, attribute, None)
        if value is not None:
            return bool(value)
    return True


def client_is_closed(client: BusClient) -> bool:
    if getattr(client, "closed", False):
        return True
    return getattr(client, "is_open", True) is False


class BrokerLink:
    """``link = BrokerLink(url, config, health=...)``; ``bus = await
    link.connect()``; ``follow()`` in a task (or `start` for both); `close`."""

    def __init__(
        self,
        url: str,
        config: ClientConfig,
        *,
        health: LinkHealth | None = None,
        backoff: Backoff | None = None,
        refusal: Refusal = Refusal.RAISE,
        environ: Mapping[str, str] | None = None,
        connector: Connector | None = None,
    ) -> None:
        """``connector`` replaces `connect_bus` (tests, or a service that
        needs its own kind of client)."""
        self.url = url
        self.config = config
        self.health = health
        self.backoff = backoff or Backoff(config.reconnect_base_s, config.reconnect_max_s)
        self.refusal = refusal
        self._connector = connector or (lambda: connect_bus(url, config=config, environ=environ))
        self.attempt_timeout_s = config.connect_timeout_s + config.request_timeout_s
        """One attempt (connect and AUTH) takes at most this long."""
        self.state = LinkState.IDLE
        self._client: BusClient | None = None
        self._on_connected: list[ConnectedHook] = []
        self._on_lost: list[LostHook] = []
        self._closing = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        if health is not None:
            health.readiness.fail(BROKER, NOT_CONNECTED)

    # -- state ----------------------------------------------------------------

    @property
    def connected(self) -> bool:
        return self._client is not None and client_is_up(self._client)

    @property
    def client(self) -> BusClient:
        """The current client; `ConnectionLostError` before the first connection."""
        if self._client is None:
            raise ConnectionLostError(LINK_CLOSED if self._closing.is_set() else NOT_CONNECTED)
        return self._client

    def on_connected(self, hook: ConnectedHook) -> None:
        """Called with the client on the first connection and on every
        return of the broker after a loss."""
        self._on_connected.append(hook)

    def on_lost(self, hook: LostHook) -> None:
        self._on_lost.append(hook)

    async def publish(self, topic: str, payload: Any, *, key: str | None = None) -> Published:
        """Publish through the current client (heartbeats follow a replaced client)."""
        return await self.client.publish(topic, payload, key=key)

    # -- connecting -----------------------------------------------------------

    async def connect(self) -> BusClient:
        """The first connection, retried with `backoff` while the broker is
        unreachable. Raises `ConnectionLostError` once the link is closed,
        and a refusal under `Refusal.RAISE`."""
        attempt = 0
        self._set_state(LinkState.CONNECTING)
        while True:
            attempt += 1
            try:
                client = await self._attempt()
            except (PrometheanError, OSError, TimeoutError) as error:
                if self._closing.is_set():
                    raise ConnectionLostError(LINK_CLOSED) from error
                if self._gives_up_on(error):
                    raise
                await self._wait_to_retry(attempt, error)
                continue
            self._client = client
            log.info("connected to the broker", extra={"url": self.url, "attempt": attempt})
            self.observe()
            return client

    def _gives_up_on(self, error: BaseException) -> bool:
        refused = isinstance(error, PrometheanError) and not isinstance(error, ConnectionLostError)
        return refused and self.refusal is Refusal.RAISE

    async def _attempt(self) -> BusClient:
        """One bounded attempt, abandoned at once when the link closes."""
        if self._closing.is_set():
            raise ConnectionLostError(LINK_CLOSED)
        attempt = asyncio.ensure_future(asyncio.wait_for(self._connector(), self.attempt_timeout_s))
        closing = asyncio.ensure_future(self._closing.wait())
        try:
            await asyncio.wait({attempt, closing}, return_when=asyncio.FIRST_COMPLETED)
        finally:  # closed, or the caller cancelled: no attempt outlives the call
            closing.cancel()
            if not attempt.done():
                attempt.cancel()
                await asyncio.gather(attempt, return_exceptions=True)
        if attempt.cancelled():
            raise ConnectionLostError(LINK_CLOSED)
        client = attempt.result()
        if self._closing.is_set():
            await close_within(client)
            raise ConnectionLostError(LINK_CLOSED)
        return client

    async def _wait_to_retry(self, attempt: int, error: BaseException) -> None:
        delay = self.backoff.delay_s(attempt)
        extra: dict[str, object] = {
            "url": self.url,
            "attempt": attempt,
            "retry_in_s": round(delay, 3),
            "error": str(error) or type(error).__name__,
        }
        health = self.health
        if health is not None:
            health.dependency.down()
            if health.kill_after_ms is not None:
                extra["exit_in_ms"] = max(0, health.kill_after_ms - health.dependency.down_for_ms)
            if health.progress is not None:
                health.progress.tick()
        log.warning("broker unreachable; retrying", extra=extra)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), delay)

    # -- following ------------------------------------------------------------

    def observe(self) -> None:
        """Bring the health state up to date; call the hooks on a change."""
        up = self.connected
        health = self.health
        if health is not None:
            if up:
                health.dependency.up()
                health.readiness.clear(BROKER)
            else:
                health.dependency.down()
                health.readiness.fail(BROKER, NOT_CONNECTED)
        if up and self.state is not LinkState.CONNECTED:
            self._set_state(LinkState.CONNECTED)
            for connected in self._on_connected:
                connected(self.client)
        elif not up and self.state is LinkState.CONNECTED:
            self._set_state(LinkState.LOST)
            log.warning("lost the broker; the client reconnects", extra={"url": self.url})
            for lost in self._on_lost:
                lost()

    async def follow(self, every_s: float = FOLLOW_EVERY_S) -> None:
        """Observe the client every ``every_s`` until cancelled; under
        `Refusal.RETRY` replace a client the broker closed for good."""
        while not self._closing.is_set():
            client = self._client
            if client is not None and client_is_closed(client) and self.refusal is Refusal.RETRY:
                self._client = None
                self.observe()
                await self.connect()
            self.observe()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), every_s)

    def start(self) -> None:
        """Connect, then follow, in a background task of the link's own."""
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._connect_and_follow(), name="broker-link")

    async def _connect_and_follow(self) -> None:
        try:
            await self.connect()
            await self.follow()
        except ConnectionLostError:
            if not self._closing.is_set():
                raise

    # -- closing --------------------------------------------------------------

    async def close(self) -> None:
        """Stop connecting and following, close the client within
        `CLOSE_TIMEOUT_S`. Idempotent."""
        self._closing.set()
        self._set_state(LinkState.CLOSED)
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        client, self._client = self._client, None
        if client is not None:
            await close_within(client)

    def _set_state(self, state: LinkState) -> None:
        if self.state is not LinkState.CLOSED:
            self.state = state


async def close_within(client: BusClient, timeout_s: float = CLOSE_TIMEOUT_S) -> None:
    """Close ``client``, waiting ``timeout_s`` at most; never raises."""
    try:
        await asyncio.wait_for(client.close(), timeout_s)
    except TimeoutError:
        log.warning("closing a broker connection timed out")
    except Exception as exc:  # closing what already failed is not worth failing for
        log.warning("closing a broker connection failed", extra={"error": repr(exc)})
