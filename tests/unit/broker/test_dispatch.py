"""The broker's frame table: every request type has its handler, and the
handlers answer as the single ``match`` did."""

from __future__ import annotations

from collections.abc import AsyncIterator, Coroutine
from typing import Any

import msgspec
import pytest

from promethean.bus import BusEngine, Delivery
from promethean.bus.coordinator import Coordinator
from promethean.clock import FakeClock
from promethean.errors import FrameError, PrometheanError
from promethean.frames import broker as bf
from promethean.frames.codes import ErrorCode
from promethean.store.memory import MemoryStore
from promethean_broker.dispatch import HANDLERS, dispatch, on_unknown
from promethean_broker.metadata import ClusterView
from promethean_broker.publishing import PublishIntake
from tests.unit.bus.support import config


class FakeSession:
    """A connection without a socket: what the handlers send is kept."""

    def __init__(self, engine: BusEngine) -> None:
        self.engine = engine
        self.cluster = ClusterView(engine.store, engine.clock.now_ms)
        self.coordinator: Coordinator | None = None
        self.max_inflight_cap: int | None = 5
        self.publishes = PublishIntake(self, 10, None)
        self.sent: list[Any] = []
        self.errors: list[tuple[str, str | int | None]] = []

    @property
    def consumer_id(self) -> str:
        return "c-test"

    def send(self, frame: Any) -> None:
        self.sent.append(frame)

    def confirm(self, corr: str | int | None) -> None:
        if corr is not None:
            self.send(bf.Ok(corr=corr))

    def send_error(self, err: PrometheanError, corr: str | int | None) -> None:
        self.errors.append((err.code, corr))

    def spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        coro.close()

    def deliver(self, delivery: Delivery) -> bool:
        return True

    def drop_slow(self) -> None:
        pass

    def send_membership(self, frame: bf.Assignment | bf.Revoke) -> None:
        self.send(frame)


@pytest.fixture
async def session() -> AsyncIterator[FakeSession]:
    store = MemoryStore("memory://dispatch-tests")
    await store.open()
    engine = BusEngine(store, config(), FakeClock(), background=False)
    yield FakeSession(engine)
    await engine.close()
    await store.close()


def test_every_request_type_has_its_own_handler() -> None:
    assert set(HANDLERS) == set(bf.BROKER_REQUEST_TYPES)
    assert on_unknown not in HANDLERS.values()


async def test_ping_and_a_repeated_auth_are_answered(session: FakeSession) -> None:
    await dispatch(session, bf.Ping(corr=1))
    await dispatch(session, bf.Auth(token="t", corr=2))
    assert session.sent == [bf.Pong(corr=1), bf.Ok(corr=2)]


async def test_flow_is_confirmed_only_with_a_corr(session: FakeSession) -> None:
    await dispatch(session, bf.Flow(credits=3))
    await dispatch(session, bf.Flow(credits=3, corr="f"))
    assert session.sent == [bf.Ok(corr="f")]


async def test_subscribe_caps_max_inflight(session: FakeSession) -> None:
    await dispatch(session, bf.Subscribe(topic="orders", group="g", max_inflight=50, corr=7))
    assert session.sent == [bf.Subscribed(topic="orders", group="g", partitions=1, corr=7)]
    (sub,) = session.engine.subscriptions_of("c-test")
    assert sub.max_inflight == 5


async def test_unsubscribe_of_nothing_is_refused(session: FakeSession) -> None:
    with pytest.raises(FrameError) as caught:
        await dispatch(session, bf.Unsubscribe(topic="orders", group="g"))
    assert caught.value.code == ErrorCode.NOT_SUBSCRIBED


async def test_membership_without_a_coordinator_is_an_unknown_type(session: FakeSession) -> None:
    with pytest.raises(FrameError) as caught:
        await dispatch(session, bf.Leave(group="g", member_id="m1"))
    assert caught.value.code == ErrorCode.UNKNOWN_TYPE
    assert "Leave is not accepted here" in str(caught.value)


async def test_publishes_past_the_connection_bound_are_refused(session: FakeSession) -> None:
    items = [bf.PublishItem(topic="orders", payload=msgspec.Raw(b"{}")) for _ in range(11)]
    with pytest.raises(PrometheanError) as caught:
        await dispatch(session, bf.PublishBatch(items=items))
    assert caught.value.code == ErrorCode.OVERLOADED


async def test_metadata_names_each_partition_owner(session: FakeSession) -> None:
    store, now = session.engine.store, session.engine.clock.now_ms()
    await store.register_broker("b1", "ws://b1:7070", 10_000, now)
    await session.engine.topics.ensure("orders", now)
    await store.acquire_partition("orders", 0, "b1", 10_000, now)
    await dispatch(session, bf.Metadata(topics=["orders", "absent"], corr=4))
    (reply,) = session.sent
    assert isinstance(reply, bf.MetadataResponse)
    assert reply.corr == 4
    assert [b.id for b in reply.brokers] == ["b1"]
    (routes,) = reply.topics
    assert routes.topic == "orders"
    (route,) = routes.partitions
    assert (route.epoch, route.owner is not None and route.owner.address) == (1, "ws://b1:7070")
    assert reply.epoch == 2
