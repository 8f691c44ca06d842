"""connect_bus(): mock or real from the argument or BROKER_IMPL."""

from __future__ import annotations

import pytest

from promethean.client import BusClient
from promethean.client.factory import DEFAULT_BUS_URL, chosen_impl, connect_bus
from promethean.errors import SettingsError
from promethean.testing import InMemoryBroker


async def test_explicit_mock_returns_a_ready_in_memory_broker() -> None:
    bus = await connect_bus(impl="mock", environ={"BROKER_IMPL": "real"})
    try:
        assert isinstance(bus, InMemoryBroker)
        assert isinstance(bus, BusClient)
        assert (await bus.publish("t", 1)).offset == 0
    finally:
        await bus.close()


async def test_environment_selects_the_mock() -> None:
    bus = await connect_bus(environ={"BROKER_IMPL": " Mock "})
    try:
        assert isinstance(bus, InMemoryBroker)
    finally:
        await bus.close()


def test_real_is_the_default() -> None:
    assert chosen_impl(None, {}) == "real"
    assert chosen_impl(None, {"BROKER_IMPL": ""}) == "real"
    assert chosen_impl("REAL", {"BROKER_IMPL": "mock"}) == "real"
    assert DEFAULT_BUS_URL == "ws://127.0.0.1:7070/ws"


def test_unknown_choice_names_its_source() -> None:
    with pytest.raises(SettingsError) as from_env:
        chosen_impl(None, {"BROKER_IMPL": "fake"})
    assert from_env.value.variable == "BROKER_IMPL"
    assert "mock or real" in str(from_env.value)
    with pytest.raises(SettingsError) as from_arg:
        chosen_impl("kafka", {})
    assert from_arg.value.variable == "impl"
