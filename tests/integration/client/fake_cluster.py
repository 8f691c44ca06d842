"""A scripted cluster of brokers for the SDK's routing tests.

Each `FakeBroker` is an aiohttp WebSocket server on a free loopback port
speaking just enough of the broker protocol: ``METADATA`` (or ``ERR
unknown_type`` when the cluster plays one old broker), ``PUBLISH`` and
``PUBLISH_BATCH`` (stored once per id, refused with ``not_owner`` for a
partition it does not own), ``SUBSCRIBE``/``UNSUBSCRIBE`` and acks, which it
records. Ownership lives in the shared `Cluster`, so a test moves a
partition by assigning it, and can tell the brokers to answer from an
older view (``stale``) to make the SDK retry.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import aiohttp
import msgspec
from aiohttp import web

from promethean.frames import broker as bf
from promethean.frames.codec import encode, parse_broker_request
from promethean.frames.envelope import Envelope
from promethean.frames.routing import BrokerAddress, PartitionOwnerRef, PartitionRoute, TopicRoutes
from promethean.partitioning import partition_for


@dataclass
class StoredEvent:
    topic: str
    partition: int
    offset: int
    id: str
    broker: str


@dataclass
class Cluster:
    """What every fake broker agrees on."""

    answers_metadata: bool = True
    names_owner: bool = True
    """Whether ``ERR not_owner`` carries the owner (else the SDK must refresh)."""
    epoch: int = 1
    topics: dict[str, list[str]] = field(default_factory=dict)
    """topic → owning broker id per partition."""
    partition_epochs: dict[tuple[str, int], int] = field(default_factory=dict)
    brokers: dict[str, FakeBroker] = field(default_factory=dict)
    down: set[str] = field(default_factory=set)
    """Broker ids left out of ``METADATA_RESPONSE.brokers``."""
    moving: set[tuple[str, int]] = field(default_factory=set)
    """(topic, partition) shown without an owner."""
    events: dict[tuple[str, str], StoredEvent] = field(default_factory=dict)
    """(topic, id) → where it was stored."""
    received: list[tuple[str, str]] = field(default_factory=list)
    """(broker id, event id) for every publish a broker was sent."""
    metadata_requests: int = 0
    joins: list[tuple[str, str]] = field(default_factory=list)
    """(broker id, member id) of every JOIN a coordinator took."""
    fetches: list[tuple[str, int, list[int]]] = field(default_factory=list)
    """(broker id, generation, partitions) of every FETCH."""
    fetched: asyncio.Event = field(default_factory=asyncio.Event)

    def assign(self, topic: str, partition: int, broker_id: str) -> None:
        self.topics[topic][partition] = broker_id
        key = (topic, partition)
        self.partition_epochs[key] = self.partition_epochs.get(key, 1) + 1
        self.epoch += 1

    def owner_ref(self, topic: str, partition: int) -> PartitionOwnerRef:
        owner = self.brokers[self.topics[topic][partition]]
        return PartitionOwnerRef(
            id=owner.id, address=owner.url, epoch=self.partition_epochs.get((topic, partition), 1)
        )

    def metadata(self) -> bf.MetadataResponse:
        return bf.MetadataResponse(
            epoch=self.epoch,
            brokers=[
                BrokerAddress(id=b.id, address=b.url)
                for b in self.brokers.values()
                if b.id not in self.down
            ],
            topics=[
                TopicRoutes(
                    topic=topic,
                    partitions=[
                        PartitionRoute(
                            partition=p,
                            epoch=self.partition_epochs.get((topic, p), 1),
                            owner=None
                            if (topic, p) in self.moving
                            else BrokerAddress(id=o, address=self.brokers[o].url),
                        )
                        for p, o in enumerate(owners)
                    ],
                )
                for topic, owners in self.topics.items()
            ],
        )

    def stored_on(self, topic: str, partition: int) -> list[StoredEvent]:
        return [e for e in self.events.values() if e.topic == topic and e.partition == partition]


class FakeBroker:
    def __init__(self, cluster: Cluster, broker_id: str) -> None:
        self.cluster = cluster
        self.id = broker_id
        self.port = 0
        self.silent = False
        """Take publishes without answering (they stay in flight)."""
        self.refuse_all = False
        self.sockets: set[web.WebSocketResponse] = set()
        self.subscribed: set[tuple[str, str]] = set()
        self.acks: list[tuple[str, int, int]] = []
        """(topic, partition, offset) acked here."""
        self.connected = asyncio.Event()
        self.subscribed_any = asyncio.Event()
        self.acked = asyncio.Event()
        self.held = asyncio.Event()
        """Set when a silent broker took a publish."""
        self._runner: web.AppRunner | None = None

    @property
    def url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/ws", self._serve)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("127.0.0.1", self.port))
        self.port = sock.getsockname()[1]
        await web.SockSite(self._runner, sock).start()

    async def drop_connections(self) -> None:
        """Close every client connection (the server stays up)."""
        for ws in list(self.sockets):
            await ws.close()
        self.connected.clear()

    async def stop(self) -> None:
        await self.drop_connections()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    async def deliver(self, topic: str, group: str, partition: int, offset: int) -> None:
        envelope = Envelope(
            id=f"{self.id}-{partition}-{offset}",
            ts=0,
            topic=topic,
            partition=partition,
            payload=msgspec.Raw(b'{"from": "%s"}' % self.id.encode()),
        )
        frame = bf.Message(
            topic=topic,
            partition=partition,
            group=group,
            offset=offset,
            attempt=1,
            envelope=envelope,
            ack_deadline_ms=None,
        )
        for ws in list(self.sockets):
            await ws.send_bytes(encode(frame))

    async def _serve(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.add(ws)
        self.connected.set()
        try:
            async for msg in ws:
                if msg.type is not aiohttp.WSMsgType.TEXT:
                    break
                for reply in self._answer(parse_broker_request(msg.data)):
                    await ws.send_bytes(encode(reply))
        finally:
            self.sockets.discard(ws)
        return ws

    def _answer(self, frame: bf.BrokerFrame) -> list[bf.BrokerFrame]:
        cluster = self.cluster
        if isinstance(frame, bf.Metadata):
            cluster.metadata_requests += 1
            if not cluster.answers_metadata:
                return [bf.Err(code="unknown_type", msg="Metadata", corr=frame.corr)]
            return [msgspec.structs.replace(cluster.metadata(), corr=frame.corr)]
        if isinstance(frame, bf.Publish | bf.PublishBatch) and self.silent:
            items = frame.items if isinstance(frame, bf.PublishBatch) else [frame]
            cluster.received.extend((self.id, item.id or "") for item in items)
            self.held.set()
            return []
        if isinstance(frame, bf.Publish):
            item = bf.PublishItem(
                topic=frame.topic, payload=frame.payload, key=frame.key, id=frame.id
            )
            result = self._publish(item)
            if isinstance(result, bf.PublishedItem):
                return [bf.Published(corr=frame.corr, **msgspec.structs.asdict(result))]
            partition = self._partition(item)
            owner = cluster.owner_ref(item.topic, partition) if cluster.names_owner else None
            return [bf.Err(code=result.code, msg=result.msg, owner=owner, corr=frame.corr)]
        if isinstance(frame, bf.PublishBatch):
            results = [self._publish(item) for item in frame.items]
            return [bf.PublishedBatch(results=results, corr=frame.corr)]
        if isinstance(frame, bf.Subscribe):
            self.subscribed.add((frame.topic, frame.group))
            self.subscribed_any.set()
            return [
                bf.Subscribed(topic=frame.topic, group=frame.group, partitions=1, corr=frame.corr)
            ]
        if isinstance(frame, bf.Unsubscribe):
            self.subscribed.discard((frame.topic, frame.group))
            return [bf.Ok(corr=frame.corr)]
        if isinstance(frame, bf.Ack):
            self.acks.append((frame.topic, frame.partition, frame.offset))
            self.acked.set()
            return []
        if isinstance(frame, bf.AckBatch):
            self.acks.extend((frame.topic, p, o) for p, o in frame.items)
            self.acked.set()
            return []
        if isinstance(frame, bf.Join | bf.Heartbeat | bf.Revoked | bf.Leave | bf.Fetch):
            return self._membership(frame)
        return [bf.Err(code="unknown_type", msg=type(frame).__name__, corr=frame.corr)]

    def _membership(
        self, frame: bf.Join | bf.Heartbeat | bf.Revoked | bf.Leave | bf.Fetch
    ) -> list[bf.BrokerFrame]:
        """One member owning every partition, coordinated by the owner of
        partition 0 of its topic; FETCHes are recorded and confirmed."""
        cluster = self.cluster
        if isinstance(frame, bf.Fetch):
            cluster.fetches.append((self.id, frame.generation, frame.partitions))
            cluster.fetched.set()
            return [bf.Ok(corr=frame.corr)]
        if not isinstance(frame, bf.Join):
            return [bf.Ok(corr=frame.corr)] if frame.corr is not None else []
        topic = frame.topics[0]
        if cluster.topics[topic][0] != self.id:
            owner = cluster.owner_ref(topic, 0)
            return [
                bf.Err(code="not_owner", msg="not the coordinator", owner=owner, corr=frame.corr)
            ]
        cluster.joins.append((self.id, frame.member_id))
        return [
            bf.Assignment(
                group=frame.group,
                member_id=frame.member_id,
                generation=1,
                partitions={topic: list(range(len(cluster.topics[topic])))},
                heartbeat_ms=100,
                corr=frame.corr,
            )
        ]

    def _partition(self, item: bf.PublishItem) -> int:
        return partition_for(item.key, item.id or "", len(self.cluster.topics[item.topic]))

    def _publish(self, item: bf.PublishItem) -> bf.PublishResult:
        cluster = self.cluster
        cluster.received.append((self.id, item.id or ""))
        partition = self._partition(item)
        if cluster.topics[item.topic][partition] != self.id or self.refuse_all:
            return bf.ItemError(code="not_owner", msg=f"partition {partition} is not mine")
        stored = cluster.events.get((item.topic, item.id or ""))
        if stored is not None:
            return bf.PublishedItem(
                topic=item.topic,
                partition=stored.partition,
                offset=stored.offset,
                id=stored.id,
                duplicate=True,
            )
        offset = len(cluster.stored_on(item.topic, partition))
        cluster.events[(item.topic, item.id or "")] = StoredEvent(
            item.topic, partition, offset, item.id or "", self.id
        )
        return bf.PublishedItem(
            topic=item.topic, partition=partition, offset=offset, id=item.id or ""
        )


@asynccontextmanager
async def fake_cluster(brokers: int, topics: dict[str, int]) -> AsyncIterator[Cluster]:
    """``brokers`` fake brokers ``b0``…; each topic's partitions owned round
    robin."""
    cluster = Cluster()
    for n in range(brokers):
        broker = FakeBroker(cluster, f"b{n}")
        cluster.brokers[broker.id] = broker
        await broker.start()
    ids = list(cluster.brokers)
    for topic, partitions in topics.items():
        cluster.topics[topic] = [ids[p % brokers] for p in range(partitions)]
    try:
        yield cluster
    finally:
        for broker in cluster.brokers.values():
            await broker.stop()
