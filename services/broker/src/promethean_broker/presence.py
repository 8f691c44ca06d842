"""This broker's registration in the store: who it is and where clients
reach it, kept alive by a heartbeat. The controller spreads partitions over
the brokers registered here; one whose registration expired is presumed
dead and its partitions move once their grants expire too."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from promethean.runtime.health import StoreHealth
from promethean.store.port import OwnershipStore

log = logging.getLogger("promethean.broker.presence")


class BrokerPresence:
    def __init__(
        self,
        store: OwnershipStore,
        broker_id: str,
        address: str,
        ttl_ms: int,
        now_ms: Callable[[], int],
        *,
        health: StoreHealth | None = None,
    ) -> None:
        self._store = store
        self.broker_id = broker_id
        self.address = address
        self.ttl_ms = ttl_ms
        self._now_ms = now_ms
        self._health = health
        self.registered = asyncio.Event()
        self._lapsed = False
        """The registration expired and is not back yet: said once, not on
        every beat of a store outage."""

    @property
    def every_s(self) -> float:
        return self.ttl_ms / 3000

    async def beat(self) -> None:
        """Extend the registration, or register (again) when the store no
        longer knows this broker as live."""
        record = await self._store.heartbeat_broker(self.broker_id, self.ttl_ms, self._now_ms())
        if record is None:
            if self.registered.is_set() and not self._lapsed:
                log.warning("registration had expired; registering again")
            self._lapsed = True
            await self._store.register_broker(
                self.broker_id, self.address, self.ttl_ms, self._now_ms()
            )
            self._lapsed = False
            log.info("registered", extra={"broker": self.broker_id, "address": self.address})
        self.registered.set()

    async def run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self.beat(), self.every_s)
            except Exception as exc:
                reason = str(exc) or type(exc).__name__
                if self._health is not None:
                    self._health.failed(f"broker heartbeat: {reason}")
                else:
                    log.warning("broker heartbeat failed", extra={"error": reason})
            await asyncio.sleep(self.every_s)

    async def leave(self) -> None:
        """Deregister at once (graceful shutdown)."""
        await self._store.deregister_broker(self.broker_id)
