"""`LinkPool`: the few broker connections every subscribing client shares.

At most ``size`` links (``PROMETHEAN_GATEWAY_BROKER_LINKS``) are opened, on
demand. Each client subscription joins the `SharedSubscription` of its
topic, group and options, creating it (one broker ``SUBSCRIBE``) on the
least busy link that does not already hold that topic and group. When a
client leaves, what it held and did not settle is given back at once
(``MODACK 0``: the broker redelivers it now, not after the ack deadline);
when the last one leaves, the broker subscription ends.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from typing import Final

import aiohttp

from promethean.client import ClientConfig, SubscribeOptions, WebSocketBusClient, new_session
from promethean.errors import PrometheanError
from promethean.frames.codes import ErrorCode
from promethean.runtime.broker_link import close_within
from promethean_gateway.deliveries import DeliveryTracker
from promethean_gateway.errors import RefusalError, broker_down
from promethean_gateway.metrics import GatewayMetrics
from promethean_gateway.shared_subscription import SharedSubscription, SubscriptionKey

log = logging.getLogger("promethean.gateway.links")

GIVE_BACK_NOW_MS: Final = 0
"""``MODACK 0``: the delivery goes back to the group at once."""


class PooledLink:
    """One broker connection and the subscriptions it carries."""

    def __init__(self, client: WebSocketBusClient) -> None:
        self.client = client
        self.shared: dict[tuple[str, str], SharedSubscription] = {}
        self.lock = asyncio.Lock()
        """Held across a SUBSCRIBE or UNSUBSCRIBE, so one (topic, group) is
        never being added and removed at once on this link."""


class LinkPool:
    def __init__(
        self,
        url: str,
        config: ClientConfig,
        *,
        size: int,
        broker_max_inflight: int,
        metrics: GatewayMetrics,
    ) -> None:
        """``broker_max_inflight``: each broker subscription's ``max_inflight``,
        which bounds the deliveries waiting in the gateway for a client."""
        self.url = url
        self.size = size
        self.broker_max_inflight = broker_max_inflight
        self._config = config
        self._metrics = metrics
        self._links: list[PooledLink] = []
        self._by_key: dict[SubscriptionKey, SharedSubscription] = {}
        self._opening = asyncio.Lock()
        self._session: aiohttp.ClientSession | None = None

    @property
    def links(self) -> int:
        return len(self._links)

    @property
    def subscriptions(self) -> int:
        """Broker subscriptions held for clients."""
        return len(self._by_key)

    async def join(self, member: DeliveryTracker, options: SubscribeOptions) -> None:
        """Subscribe ``member`` (a client subscription) through a shared
        broker subscription; raises what the broker answered, if not ``OK``."""
        key = SubscriptionKey(
            member.topic, member.group, dataclasses.replace(options, max_inflight=None)
        )
        shared = self._by_key.get(key)
        if shared is None:
            shared = self._by_key[key] = SharedSubscription(key)
            try:
                await self._open(shared)
            except BaseException as exc:
                if self._by_key.get(key) is shared:
                    del self._by_key[key]
                fail(shared.opened, exc)
                raise
            shared.opened.set_result(None)
        else:
            await asyncio.shield(shared.opened)
        if member.closed:
            await self._end_if_unused(shared)  # its client left meanwhile
            return
        shared.join(member)

    async def _open(self, shared: SharedSubscription) -> None:
        topic, group = shared.key.topic, shared.key.group
        options = dataclasses.replace(shared.key.options, max_inflight=self.broker_max_inflight)
        for link in await self._candidates():
            async with link.lock:
                if (topic, group) in link.shared:
                    continue
                link.shared[(topic, group)] = shared
                try:
                    shared.handle = await link.client.subscribe(
                        topic, group, shared.on_message, options=options, manual_ack=True
                    )
                except BaseException:
                    link.shared.pop((topic, group), None)
                    raise
                return
        raise RefusalError(
            ErrorCode.OVERLOADED,
            f"every broker link already holds another subscription of {topic} as {group}",
        )

    async def _candidates(self) -> list[PooledLink]:
        """The links to try, least busy first; a new one while the pool has room."""
        async with self._opening:
            if len(self._links) < self.size:
                if self._session is None or self._session.closed:
                    self._session = new_session(self._config, connection_limit=0)
                client = WebSocketBusClient(self.url, self._config, session=self._session)
                try:
                    await client.connect()
                except PrometheanError:
                    raise broker_down() from None
                self._links.append(PooledLink(client))
                self._metrics.broker_links.inc()
                return [self._links[-1]]
        return sorted(self._links, key=lambda link: len(link.shared))

    async def leave(self, member: DeliveryTracker) -> None:
        """``member`` is done: what it held goes back to the group at once."""
        shared = member.shared
        if shared is None:
            member.closed = True
            return
        member.shared = None
        for message in shared.leave(member):
            await message.modack(GIVE_BACK_NOW_MS)
        await self._end_if_unused(shared)

    async def _end_if_unused(self, shared: SharedSubscription) -> None:
        """The last client left: end the broker subscription (the broker
        takes back the deliveries still waiting here)."""
        if shared.members or self._by_key.get(shared.key) is not shared:
            return
        del self._by_key[shared.key]
        shared.close()
        await self._unsubscribe(shared)

    async def _unsubscribe(self, shared: SharedSubscription) -> None:
        key = (shared.key.topic, shared.key.group)
        for link in self._links:
            if link.shared.get(key) is not shared:
                continue
            async with link.lock:
                try:
                    await link.client.unsubscribe(*key)
                except Exception:
                    # The broker forgets it with the connection in any case.
                    log.warning("unsubscribing %s as %s failed", *key, exc_info=True)
                finally:
                    link.shared.pop(key, None)
            return

    async def close(self) -> None:
        links, self._links = self._links, []
        for link in links:
            self._metrics.broker_links.dec()
            with contextlib.suppress(Exception):
                await close_within(link.client)
        if self._session is not None:
            await self._session.close()


def fail(opened: asyncio.Future[None], exc: BaseException) -> None:
    """Clients waiting for a broker subscription that failed to open fail too."""
    # A cancelled opener (its client left) must not cancel the others.
    opened.set_exception(broker_down() if isinstance(exc, asyncio.CancelledError) else exc)
    opened.exception()  # retrieved here, so an unawaited failure logs nothing
