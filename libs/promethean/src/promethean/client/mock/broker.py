"""`InMemoryBroker`: the bus engine driven inline on a fake clock.

The broker service and this mock run the same `BusEngine` over the storage
port; here the store is `MemoryStore`, the engine runs with
``background=False`` (nothing moves by itself), and time is a `FakeClock`
the test owns. The broker is itself a `BusClient` (its primary connection);
``new_client()`` opens more connections, e.g. for competing consumers.

Everything the engine hands out goes through the `Transport` (faults,
latency, ordering) into the subscribers' buffers. The *pump* dispatches and,
in inline mode, also releases arrivals and runs handlers, one message at a
time, until nothing moves; ``tick()``, ``advance()`` and ``drain()`` do the
same for the scheduled mode and for anything waiting on the clock.
"""

from __future__ import annotations

import asyncio
import contextvars
import itertools
from collections.abc import Callable
from typing import Any, Final

from promethean.bus import BusEngine
from promethean.bus.coordinator import Coordinator
from promethean.client.mock.assertions import Probe, expect_delivered
from promethean.client.mock.client import MockClient
from promethean.client.mock.config import DeliveryMode, MockConfig, Overflow
from promethean.client.mock.errors import MockBrokerError
from promethean.client.mock.faults import FaultPlan
from promethean.client.mock.helpers import RecordingSubscriber
from promethean.client.mock.record import BusEvent, Counters, EventKind, Recorder, RecorderHooks
from promethean.client.mock.subscription import MockSubscription
from promethean.client.mock.transport import Transport, next_timer_after
from promethean.client.partitioned import PartitionedSubscription
from promethean.client.port import PartitionHook
from promethean.client.types import Handler, Message, Published, SubscribeOptions
from promethean.clock import FakeClock
from promethean.errors import PrometheanError
from promethean.store.memory import MemoryStore

YIELDS_FOR_OTHERS: Final = 8
MOCK_HEARTBEAT_MS: Final = 3_000
MOCK_SESSION_TIMEOUT_MS: Final = 10_000
"""Event-loop turns ``drain``/``advance`` give other tasks (iterating consumers)."""

RUNAWAY = (
    "the mock broker did not settle after {rounds} rounds: a handler keeps "
    "publishing or failing without end"
)
NESTED = "{call}() cannot run inside a handler the mock broker is running"

_broker_ids = itertools.count(1)


class InMemoryBroker:
    """A deterministic in-memory broker that is also a `BusClient`."""

    def __init__(self, config: MockConfig | None = None) -> None:
        self.config = config or MockConfig()
        self.name = f"mock-broker-{next(_broker_ids)}"
        self.clock = FakeClock(self.config.start_ms)
        self.store = MemoryStore(f"memory://{self.name}")
        self.recorder = Recorder(self.clock, self.config.event_log_max)
        self.faults = FaultPlan(
            seed=self.config.seed, latency=self.config.latency, drop_rate=self.config.drop_rate
        )
        self.transport = Transport(
            self.clock,
            self.faults,
            self.recorder,
            ordering=self.config.ordering,
            seed=self.config.seed,
        )
        self.engine = BusEngine(
            self.store,
            self.config.engine_config(),
            self.clock,
            hooks=RecorderHooks(self.recorder),
            background=False,
        )
        self.coordinator = Coordinator(
            self.engine,
            heartbeat_ms=MOCK_HEARTBEAT_MS,
            session_timeout_ms=MOCK_SESSION_TIMEOUT_MS,
        )
        self.activity = 0
        """Bumped by every client operation; ``drain`` watches it."""
        self._clients: list[MockClient] = []
        self._client_ids = itertools.count(1)
        self._primary = self.new_client()
        self._observer: MockClient | None = None
        self._probes: dict[str, Probe] = {}
        self._lock = asyncio.Lock()
        self._pump_run: object | None = None
        self._in_run: contextvars.ContextVar[object | None] = contextvars.ContextVar(
            f"{self.name}-run", default=None
        )
        self._release_later: list[str] = []
        self._errors: list[PrometheanError] = []
        self._unreported: list[PrometheanError] = []
        self._opened = False
        self._closed = False

    def __repr__(self) -> str:
        mode = self.config.mode.value
        return f"InMemoryBroker({self.name!r}, mode={mode}, now_ms={self.clock.now_ms()})"

    async def __aenter__(self) -> InMemoryBroker:
        await self.ensure_open()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.close()

    # -- connections -------------------------------------------------------

    def new_client(self, name: str | None = None) -> MockClient:
        """Another connection to this broker (its own subscriptions and faults)."""
        number = next(self._client_ids)
        client = MockClient(self, name or f"client-{number}", uid=f"c{number}")
        self._clients.append(client)
        return client

    def forget(self, client: MockClient) -> None:
        """A closed client leaves the broker's list."""
        if client in self._clients:
            self._clients.remove(client)

    @property
    def clients(self) -> list[MockClient]:
        return [c for c in self._clients if not c.internal]

    @property
    def is_open(self) -> bool:
        return self._opened and not self._closed

    async def ensure_open(self) -> None:
        if self._closed:
            raise MockBrokerError(f"{self.name} is closed")
        if not self._opened:
            await self.store.open()
            self._opened = True

    # -- BusClient, through the primary connection ---------------------------

    async def publish(
        self,
        topic: str,
        payload: Any,
        *,
        key: str | None = None,
        headers: dict[str, str] | None = None,
        id: str | None = None,
    ) -> Published:
        return await self._primary.publish(topic, payload, key=key, headers=headers, id=id)

    async def subscribe(
        self,
        topic: str,
        group: str,
        handler: Handler | None = None,
        *,
        options: SubscribeOptions | None = None,
        manual_ack: bool = False,
        concurrency: int = 1,
        buffer_size: int | None = None,
        overflow: Overflow | str | None = None,
    ) -> MockSubscription:
        return await self._primary.subscribe(
            topic,
            group,
            handler,
            options=options,
            manual_ack=manual_ack,
            concurrency=concurrency,
            buffer_size=buffer_size,
            overflow=overflow,
        )

    async def subscribe_partitioned(
        self,
        topic: str,
        group: str,
        handler: Handler,
        *,
        instance_id: str | None = None,
        on_assigned: PartitionHook | None = None,
        on_revoked: PartitionHook | None = None,
    ) -> PartitionedSubscription:
        return await self._primary.subscribe_partitioned(
            topic,
            group,
            handler,
            instance_id=instance_id,
            on_assigned=on_assigned,
            on_revoked=on_revoked,
        )

    async def unsubscribe(self, topic: str, group: str) -> None:
        await self._primary.unsubscribe(topic, group)

    async def disconnect_now(self) -> None:
        await self._primary.disconnect_now()

    def disconnect_after(self, operations: int) -> None:
        self._primary.disconnect_after(operations)

    async def reconnect(self) -> None:
        await self._primary.reconnect()

    async def close(self) -> None:
        """Close every connection and the engine. Safe to call twice."""
        if self._closed:
            return
        for client in list(self._clients):
            await client.close()
        self._closed = True
        if self._opened:
            await self.engine.close()
            await self.store.close()

    # -- time and delivery -------------------------------------------------

    async def pump(self) -> None:
        """Dispatch (and in inline mode deliver) until nothing moves. Called
        by every client operation; a call from inside a running pump (a
        handler that publishes or acks) returns at once, the outer loop goes on."""
        if self._closed:
            return
        if self._pump_run is not None and self._in_run.get() is self._pump_run:
            return
        inline = self.config.mode is DeliveryMode.INLINE
        await self._run(release=inline, expire=inline)

    async def tick(self) -> int:
        """Handle everything due at the current fake time: expired ack
        deadlines, arrivals, handlers. The clock does not move. Returns how
        many steps were taken (hand-outs, arrivals, handler calls)."""
        self._refuse_nested("tick")
        await self.ensure_open()
        moved = await self._run(release=True, expire=True)
        self._raise_unreported()
        return moved

    async def advance(self, ms: int) -> None:
        """Move the fake clock ``ms`` forward, stopping at every ack deadline,
        redelivery and arrival on the way, as real time would."""
        if ms < 0:
            raise ValueError("the clock never runs backwards")
        self._refuse_nested("advance")
        target = self.clock.now_ms() + ms
        while True:
            await self.tick()
            await self._let_others_run()
            now = self.clock.now_ms()
            upcoming = next_timer_after(now, self.engine, self.transport.scheduler)
            if upcoming is None or upcoming > target:
                break
            self.clock.advance(upcoming - now)
        if self.clock.now_ms() < target:
            self.clock.advance(target - self.clock.now_ms())
            await self.tick()
            await self._let_others_run()

    async def drain(self) -> None:
        """Deliver everything in transit, moving the clock to each scheduled
        arrival, until nothing is left to do. Never moves the clock to an ack
        deadline or a redelivery backoff: use ``advance`` for those."""
        self._refuse_nested("drain")
        for _ in range(self.config.max_rounds):
            before = self.activity
            moved = await self.tick()
            await self._let_others_run()
            if moved or self.activity != before:
                continue
            now = self.clock.now_ms()
            arrival = self.transport.scheduler.next_due_after(now)
            if arrival is None:
                return
            self.clock.advance(arrival - now)
        raise MockBrokerError(RUNAWAY.format(rounds=self.config.max_rounds))

    async def _run(self, *, release: bool, expire: bool) -> int:
        async with self._lock:
            run = object()
            self._pump_run = run
            token = self._in_run.set(run)
            try:
                if expire:
                    await self.engine.expire_due()
                return await self._cycle(release=release)
            finally:
                self._in_run.reset(token)
                self._pump_run = None

    async def _cycle(self, *, release: bool) -> int:
        total = 0
        for _ in range(self.config.max_rounds):
            moved = await self._release_dropped_consumers()
            moved += await self.engine.settle()
            if release:
                moved += await self.transport.release_due()
                moved += await self._run_next_handler()
            if not moved:
                break
            total += moved
        else:
            raise MockBrokerError(RUNAWAY.format(rounds=self.config.max_rounds))
        await self.engine.flush_commits()
        return total

    async def _run_next_handler(self) -> int:
        """Run the handler of the message that arrived first, if any."""
        chosen: MockSubscription | None = None
        first: int | None = None
        for client in self._clients:
            for sub in client.subscriptions:
                seq = sub.head_seq() if sub.handler is not None else None
                if seq is not None and (first is None or seq < first):
                    chosen, first = sub, seq
        if chosen is None:
            return 0
        message = chosen.take()
        if message is None:
            return 0
        await chosen.run_handler(message)
        return 1

    async def _release_dropped_consumers(self) -> int:
        released = 0
        while self._release_later:
            await self.engine.release_consumer(self._release_later.pop(0), "slow consumer")
            released += 1
        return released

    async def _let_others_run(self) -> None:
        for _ in range(YIELDS_FOR_OTHERS):
            await asyncio.sleep(0)

    def _refuse_nested(self, call: str) -> None:
        if self._pump_run is not None and self._in_run.get() is self._pump_run:
            raise MockBrokerError(NESTED.format(call=call))

    # -- errors of subscribers ----------------------------------------------

    def release_later(self, consumer_id: str) -> None:
        """Drop a consumer at the next pump round (from synchronous code)."""
        self._release_later.append(consumer_id)

    def report(self, error: PrometheanError) -> None:
        """An error the test must see: raised by the next tick/advance/drain,
        or by ``check()`` (the ``bus`` fixture calls it at teardown)."""
        self._errors.append(error)
        self._unreported.append(error)

    @property
    def errors(self) -> list[PrometheanError]:
        return list(self._errors)

    def _raise_unreported(self) -> None:
        if self._unreported:
            error = self._unreported[0]
            self._unreported.clear()
            raise error

    def check(self) -> None:
        """Raise the first subscriber error no call has raised yet."""
        self._raise_unreported()

    # -- assertions --------------------------------------------------------

    @property
    def counters(self) -> Counters:
        return self.recorder.counters

    @property
    def events(self) -> list[BusEvent]:
        return self.recorder.events

    def events_of(self, kind: EventKind | str) -> list[BusEvent]:
        wanted = EventKind(kind)
        return [e for e in self.recorder.events if e.kind is wanted]

    @property
    def in_transit(self) -> int:
        return self.transport.in_transit

    def expect_delivered(
        self,
        topic: str,
        *,
        times: int | None = None,
        predicate: Callable[[Message], bool] | None = None,
        group: str | None = None,
    ) -> list[Message]:
        """The messages on ``topic`` that reached subscriber code; fails
        unless there are exactly ``times`` of them (at least one if None)."""
        return expect_delivered(self, topic, times=times, predicate=predicate, group=group)

    async def next_message(self, topic: str) -> Message:
        """The next message published to ``topic`` that this method has not
        returned yet, from the topic's start; fails if there is none by now."""
        probe = self._probes.get(topic)
        if probe is None:
            probe = await Probe.open(self._observer_client(), topic, len(self._probes))
            self._probes[topic] = probe
        await self.tick()
        return await probe.take(self)

    def recording_subscriber(
        self, *, fail_when: Callable[[Message], bool] | None = None
    ) -> RecordingSubscriber:
        return RecordingSubscriber(fail_when=fail_when)

    def _observer_client(self) -> MockClient:
        if self._observer is None:
            self._observer = MockClient(self, "observer", uid="observer", internal=True)
            self._clients.append(self._observer)
        return self._observer
