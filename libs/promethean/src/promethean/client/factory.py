"""``connect_bus()``: the one place that decides between the real client and
the in-memory mock broker, so services never branch on it.

``impl`` (or ``BROKER_IMPL`` when ``impl`` is None) is ``real`` (default) or
``mock``. The real client connects to ``url``, else ``BUS_URL``, else the
broker's default port on loopback.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Final

from promethean.client.port import BusClient
from promethean.client.ws import ClientConfig, WebSocketBusClient
from promethean.errors import SettingsError
from promethean.settings import DEFAULT_BUS_PORT

BROKER_IMPL_VAR: Final = "BROKER_IMPL"
BUS_URL_VAR: Final = "BUS_URL"
IMPL_REAL: Final = "real"
IMPL_MOCK: Final = "mock"
DEFAULT_BUS_URL: Final = f"ws://127.0.0.1:{DEFAULT_BUS_PORT}/ws"
ALLOWED_IMPLS: Final = f"{IMPL_MOCK} or {IMPL_REAL}"


def chosen_impl(impl: str | None, environ: Mapping[str, str]) -> str:
    """``impl`` if given, else ``BROKER_IMPL``, else ``real``; validated."""
    if impl is not None:
        source, value = "impl", impl
    else:
        source, value = BROKER_IMPL_VAR, environ.get(BROKER_IMPL_VAR, "").strip() or IMPL_REAL
    normalized = value.strip().lower()
    if normalized not in (IMPL_MOCK, IMPL_REAL):
        raise SettingsError(source, repr(value), ALLOWED_IMPLS)
    return normalized


async def connect_bus(
    url: str | None = None,
    *,
    impl: str | None = None,
    config: ClientConfig | None = None,
    environ: Mapping[str, str] | None = None,
) -> BusClient:
    """A connected `BusClient`: a `WebSocketBusClient` or an `InMemoryBroker`."""
    env = os.environ if environ is None else environ
    if chosen_impl(impl, env) == IMPL_MOCK:
        from promethean.client.mock.broker import InMemoryBroker

        broker = InMemoryBroker()
        await broker.ensure_open()
        return broker
    client = WebSocketBusClient(url or env.get(BUS_URL_VAR, "").strip() or DEFAULT_BUS_URL, config)
    await client.connect()
    return client
