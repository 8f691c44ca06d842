"""Fenced leadership over one store lease: at most one holder leads.

A holder takes the lease (`Leadership.acquire`, or one `Leadership.step` at
a time), renews it within its TTL (`keep`, or `step`), confirms it with the
store right before a destructive step (`confirm`), and gives it up when it
stops (`release`), so a standby takes over at once instead of after the TTL.
Every takeover raises the lease's fencing token; writes carry it (`fence`),
so the store refuses a holder that lost the lease while paused or cut off.

Every store call is bounded (``call_timeout_s``): a MongoDB client would
otherwise wait its 30 s server selection before saying anything. A call that
fails or times out is a store failure, reported to `StoreHealth` when given,
never a lost lease: the holder keeps its token and tries again, its writes
still fenced by that token, so once the store answers either the token is
still current (renewal succeeds) or the store refuses it and the holder
steps down (`Role.LOST`, `lost` set).

One `Leadership` holds one lease name; a process may hold several.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

from promethean.errors import PrometheanError, StoreUnavailableError
from promethean.runtime.health import StoreHealth
from promethean.store.port import LeaseStore
from promethean.store.records import Fence, Lease

log = logging.getLogger("promethean.leadership")

RENEW_EVERY_S: Final = 0.5
"""`keep` renews this often (or every third of the TTL, if shorter)."""
STORE_CALL_TIMEOUT_S: Final = 1.0
NOT_LEADER: Final = "does not hold the lease {name!r}"
LEASE_LOST: Final = "lost the lease {name!r}"
NO_ANSWER: Final = "the store did not answer within {timeout_s:g} s"

T = TypeVar("T")


class Role(enum.StrEnum):
    STANDBY = "standby"
    LEADER = "leader"
    LOST = "lost"
    """The store refused this holder's token: another holder took over."""


class LeadershipLostError(PrometheanError):
    """The lease moved on (or was never ours): stop the work, stand by."""


class Leadership:
    def __init__(
        self,
        store: LeaseStore,
        name: str,
        holder: str,
        ttl_ms: int,
        now_ms: Callable[[], int],
        *,
        health: StoreHealth | None = None,
        on_change: Callable[[Role], None] | None = None,
        call_timeout_s: float = STORE_CALL_TIMEOUT_S,
    ) -> None:
        """``health``: where store failures and successes of lease calls go
        (the lease renewal doubles as the store's health probe)."""
        self._store = store
        self.name = name
        self.holder = holder
        self.ttl_ms = ttl_ms
        self._now_ms = now_ms
        self._health = health
        self._on_change = on_change
        self.call_timeout_s = call_timeout_s
        self.role = Role.STANDBY
        self.lease: Lease | None = None
        self.observed: Lease | None = None
        """The lease as last seen while standing by (who leads)."""
        self.lost = asyncio.Event()

    # -- state ----------------------------------------------------------------

    @property
    def token(self) -> int:
        """This holder's fencing token; `LeadershipLostError` when not leading."""
        if self.lease is None:
            raise LeadershipLostError(f"{self.holder} " + NOT_LEADER.format(name=self.name))
        return self.lease.token

    @property
    def fence(self) -> Fence:
        """What writes carry so the store refuses them once the lease moved on."""
        return Fence(self.name, self.token)

    @property
    def renew_every_s(self) -> float:
        return min(RENEW_EVERY_S, self.ttl_ms / 3000)

    # -- one round ------------------------------------------------------------

    async def step(self) -> Role:
        """Renew when leading, else try to take the lease; the role after.
        A store failure is reported and raised (a timeout as
        `StoreUnavailableError`); the lease, if held, is kept."""
        try:
            if self.lease is not None:
                lease = self.lease
                self._set(
                    await self._bounded(
                        self._store.renew_lease(
                            self.name, self.holder, lease.token, self.ttl_ms, self._now_ms()
                        )
                    )
                )
            else:
                acquired = await self._bounded(
                    self._store.acquire_lease(self.name, self.holder, self.ttl_ms, self._now_ms())
                )
                if acquired is None:
                    self._observe(await self._bounded(self._store.get_lease(self.name)))
                self._set(acquired)
        except Exception as exc:
            self._failed(exc)
            raise
        if self._health is not None:
            self._health.succeeded()
        return self.role

    async def confirm(self) -> None:
        """Renew now; `LeadershipLostError` when the lease is no longer ours."""
        if self.lease is None:
            raise LeadershipLostError(f"{self.holder} " + NOT_LEADER.format(name=self.name))
        await self.step()
        if self.lease is None:
            raise LeadershipLostError(f"{self.holder} " + LEASE_LOST.format(name=self.name))

    # -- loops ----------------------------------------------------------------

    async def acquire(self) -> Lease:
        """Wait until this holder leads, trying every third of the TTL; a
        store that fails meanwhile is reported and tried again."""
        while True:
            with contextlib.suppress(Exception):  # reported by `step`
                await self.step()
            if self.lease is not None:
                return self.lease
            await asyncio.sleep(self.ttl_ms / 3000)

    async def keep(self) -> None:
        """Renew every `renew_every_s` while leading; returns once the lease
        is lost (``lost`` set) or released. Store failures are not fatal."""
        while self.lease is not None:
            await asyncio.sleep(self.renew_every_s)
            if self.role is not Role.LEADER:  # released meanwhile
                return
            with contextlib.suppress(Exception):  # reported by `step`
                await self.step()

    async def release(self) -> None:
        """Give the lease up now, if held, so a standby takes over at once."""
        lease = self.lease
        if lease is None:
            return
        await self._bounded(self._store.release_lease(self.name, self.holder, lease.token))
        log.info("lease released", extra={"lease": self.name, "holder": self.holder})
        self._set(None, released=True)

    # -- helpers --------------------------------------------------------------

    async def _bounded(self, call: Awaitable[T]) -> T:
        try:
            return await asyncio.wait_for(call, self.call_timeout_s)
        except TimeoutError:
            raise StoreUnavailableError(NO_ANSWER.format(timeout_s=self.call_timeout_s)) from None

    def _failed(self, exc: Exception) -> None:
        reason = str(exc) or type(exc).__name__
        if self._health is not None:
            self._health.failed(f"lease: {reason}")
        else:
            log.warning("lease call failed", extra={"lease": self.name, "error": reason})

    def _observe(self, current: Lease | None) -> None:
        before = self.observed.holder if self.observed is not None else None
        self.observed = current
        if current is not None and current.holder != before:
            log.info(
                "standby: another holder has the lease",
                extra={"lease": self.name, "holder": self.holder, "leader": current.holder},
            )

    def _set(self, lease: Lease | None, *, released: bool = False) -> None:
        before = self.role
        self.lease = lease
        if lease is not None:
            after = Role.LEADER
        elif before is Role.LEADER and not released:
            after = Role.LOST
        else:
            after = Role.STANDBY
        if after is before:
            return
        self.role = after
        extra = {"lease": self.name, "holder": self.holder}
        if after is Role.LEADER and lease is not None:
            self.lost.clear()
            log.info("leading", extra={**extra, "token": lease.token})
        elif after is Role.LOST:
            self.lost.set()
            log.warning("lease lost; stepping down", extra=extra)
        if self._on_change is not None:
            self._on_change(after)
