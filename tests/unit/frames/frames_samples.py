"""Example frames and hypothesis strategies shared by the frame tests."""

from __future__ import annotations

from typing import Any

import msgspec
from hypothesis import strategies as st

from promethean import names
from promethean.frames import (
    Ack,
    AckBatch,
    Assignment,
    Auth,
    BrokerAddress,
    Delivery,
    Envelope,
    Err,
    EventBody,
    Fetch,
    Filter,
    Flow,
    FromSpec,
    GwAck,
    GwAuth,
    GwErr,
    GwEvent,
    GwEventCtx,
    GwModack,
    GwNack,
    GwOk,
    GwPublish,
    GwPublishOpts,
    GwSubscribe,
    GwSubscribeOpts,
    GwUnsubscribe,
    Heartbeat,
    ItemError,
    Join,
    Leave,
    Message,
    MessageBatch,
    Metadata,
    MetadataResponse,
    Modack,
    Nack,
    Ok,
    PartitionOwnerRef,
    PartitionRoute,
    Ping,
    Pong,
    Publish,
    PublishBatch,
    Published,
    PublishedBatch,
    PublishedItem,
    PublishItem,
    Revoke,
    Revoked,
    Subscribe,
    Subscribed,
    TopicRoutes,
    Unsubscribe,
)

TRICKY_PAYLOAD = b'{"$gt":1, "a.b":[1,2]}'


def raw(text: bytes | str) -> msgspec.Raw:
    return msgspec.Raw(text.encode() if isinstance(text, str) else text)


ENVELOPE = Envelope(
    id="ev-1",
    ts=1_700_000_000_000,
    topic="orders.created",
    partition=2,
    payload=raw(TRICKY_PAYLOAD),
    key="customer-42",
    headers={"traceparent": "00-abc-def-01"},
    caused_by=["ev-0"],
    tags=["vip"],
    sid="session-9",
)

# Per class, frames covering required-only and all-optional-fields shapes.
BROKER_REQUESTS: dict[type[Any], list[Any]] = {
    Auth: [Auth(token="secret"), Auth(token="t", corr=1)],
    Publish: [
        Publish(topic="orders", payload=raw(b"null")),
        Publish(
            topic="orders.created",
            payload=raw(TRICKY_PAYLOAD),
            key="k",
            headers={"a": "1", "b": ""},
            id="id-1",
            caused_by=["c1", "c2"],
            tags=["t1"],
            sid="s",
            corr="c-1",
        ),
    ],
    PublishBatch: [
        PublishBatch(
            items=[
                PublishItem(topic="a", payload=raw(b"1")),
                PublishItem(topic="b", payload=raw(TRICKY_PAYLOAD), key="k", id="x", tags=[]),
            ],
            corr=7,
        )
    ],
    Subscribe: [
        Subscribe(topic="orders", group="billing"),
        Subscribe(
            topic="orders",
            group="billing",
            from_=FromSpec(kind="offset", value=10),
            max_inflight=100_000,
            filter=Filter(key="k", header=("region", "eu")),
            ack_timeout_ms=100,
            credits=0,
            corr="s-1",
        ),
        Subscribe(topic="o", group="g", from_=FromSpec(kind="latest"), filter=Filter()),
    ],
    Ack: [
        Ack(topic="o", partition=0, group="g", offset=0),
        Ack(topic="o", partition=3, group="g", offset=2**63 - 1, generation=4, corr=9),
    ],
    Nack: [
        Nack(topic="o", partition=0, group="g", offset=5),
        Nack(topic="o", partition=1, group="g", offset=5, reason="boom", generation=1),
    ],
    Modack: [Modack(topic="o", partition=0, group="g", offset=5, extend_ms=3_600_000)],
    AckBatch: [AckBatch(topic="o", group="g", items=[(0, 1), (1, 7)], generation=2)],
    Flow: [Flow(credits=10), Flow(credits=0, topic="o", group="g", corr="f")],
    Unsubscribe: [Unsubscribe(topic="o", group="g")],
    Ping: [Ping(), Ping(corr="p")],
    Metadata: [Metadata(), Metadata(topics=[]), Metadata(topics=["orders", "users"], corr=3)],
    Join: [
        Join(group="g", topics=["o"], member_id="m-1"),
        Join(
            group="workers",
            topics=["orders", "users"],
            member_id="m-2",
            instance_id="worker-0",
            max_inflight=64,
            ack_timeout_ms=5_000,
            corr=11,
        ),
    ],
    Heartbeat: [Heartbeat(group="g", member_id="m-1", generation=0, corr="h")],
    Revoked: [
        Revoked(group="g", member_id="m-1", generation=3, partitions={"o": [0, 5]}),
        Revoked(group="g", member_id="m-1", generation=3, partitions={}),
    ],
    Leave: [Leave(group="g", member_id="m-1"), Leave(group="g", member_id="m", corr=2)],
    Fetch: [
        Fetch(topic="o", group="g", member_id="m-1", generation=2, partitions=[1, 4], corr=5),
        Fetch(topic="o", group="g", member_id="m-1", generation=2, partitions=[], max_inflight=8),
    ],
}

BROKER_REPLIES: dict[type[Any], list[Any]] = {
    Ok: [Ok(), Ok(corr=1)],
    Published: [
        Published(topic="o", partition=0, offset=0, id="x"),
        Published(topic="o", partition=1, offset=9, id="x", duplicate=True, corr="c"),
    ],
    PublishedBatch: [
        PublishedBatch(
            results=[
                PublishedItem(topic="a", partition=0, offset=1, id="i1"),
                ItemError(code="forbidden", msg="not allowed"),
                PublishedItem(topic="b", partition=2, offset=0, id="i2", duplicate=True),
            ],
            corr=3,
        )
    ],
    Subscribed: [Subscribed(topic="o", group="g", partitions=8)],
    Message: [
        Message(
            topic="orders.created",
            partition=2,
            group="g",
            offset=41,
            attempt=1,
            envelope=ENVELOPE,
            ack_deadline_ms=1_700_000_030_000,
        ),
        Message(
            topic="o",
            partition=0,
            group="g",
            offset=0,
            attempt=3,
            envelope=Envelope(id="e", ts=0, topic="o", partition=0, payload=raw(b"{}")),
            ack_deadline_ms=None,
        ),
    ],
    MessageBatch: [
        MessageBatch(
            messages=[
                Delivery(
                    topic="orders.created",
                    partition=2,
                    group="g",
                    offset=41,
                    attempt=1,
                    envelope=ENVELOPE,
                    ack_deadline_ms=5,
                )
            ]
        )
    ],
    Err: [
        Err(code="bad_name", msg="no"),
        Err(code="overloaded", msg="busy", retry_after_ms=250),
        Err(
            code="not_owner",
            msg="partition 3 of 'orders' is owned by broker-1",
            owner=PartitionOwnerRef(id="broker-1", address="ws://b1:7070/ws", epoch=7),
            corr="p-9",
        ),
        Err(code="not_owner", msg="partition 3 of 'orders' is moving", retry_after_ms=100),
    ],
    MetadataResponse: [
        MetadataResponse(epoch=0, brokers=[], topics=[]),
        MetadataResponse(
            epoch=42,
            brokers=[
                BrokerAddress(id="broker-0", address="ws://b0:7070/ws"),
                BrokerAddress(id="broker-1", address="ws://b1:7070/ws"),
            ],
            topics=[
                TopicRoutes(
                    topic="orders",
                    partitions=[
                        PartitionRoute(
                            partition=0,
                            epoch=3,
                            owner=BrokerAddress(id="broker-0", address="ws://b0:7070/ws"),
                        ),
                        PartitionRoute(partition=1, epoch=5),
                    ],
                )
            ],
            corr=3,
        ),
    ],
    Pong: [Pong(corr=5)],
    Assignment: [
        Assignment(group="g", member_id="m-1", generation=1, partitions={"o": []}),
        Assignment(
            group="g",
            member_id="m-1",
            generation=7,
            partitions={"o": [0, 1, 2], "p": [4]},
            revoke={"o": [3]},
            heartbeat_ms=3_000,
            session_timeout_ms=10_000,
            corr=11,
        ),
    ],
    Revoke: [Revoke(group="g", member_id="m-1", generation=2, partitions={"o": [3, 4]})],
}

GATEWAY_REQUESTS: dict[type[Any], list[Any]] = {
    GwAuth: [GwAuth(token="jwt")],
    GwPublish: [
        GwPublish(topic="orders", payload=raw(TRICKY_PAYLOAD)),
        GwPublish(
            topic="orders",
            payload=raw(b'"text"'),
            opts=GwPublishOpts(key="k", headers={"h": "v"}, id="id-1"),
            corr="p1",
        ),
    ],
    GwSubscribe: [
        GwSubscribe(topic="o", group="g"),
        GwSubscribe(
            topic="o",
            group="g",
            opts=GwSubscribeOpts(
                from_=FromSpec(kind="timestamp", value=1_700_000_000_000),
                max_inflight=1,
                ack_timeout_ms=3_600_000,
                filter=Filter(header=("a", "b")),
            ),
        ),
        GwSubscribe(topic="o", group="g", opts=GwSubscribeOpts(from_="earliest")),
    ],
    GwAck: [GwAck(topic="o", group="g", id="ev-1", corr=1)],
    GwNack: [
        GwNack(topic="o", group="g", id="ev-1"),
        GwNack(topic="o", group="g", id="e", reason="r"),
    ],
    GwModack: [GwModack(topic="o", group="g", id="ev-1", extend_ms=0)],
    GwUnsubscribe: [GwUnsubscribe(topic="o", group="g")],
}

GATEWAY_REPLIES: dict[type[Any], list[Any]] = {
    GwOk: [GwOk(), GwOk(id="ev-1", corr="p1")],
    GwEvent: [
        GwEvent(
            topic="orders.created",
            group="g",
            event=EventBody(
                id="ev-1",
                ts=1,
                topic="orders.created",
                payload=raw(TRICKY_PAYLOAD),
                key="k",
                headers={"a": "b"},
                caused_by=["x"],
                tags=["t"],
                sid="s",
            ),
            ctx=GwEventCtx(attempt=1, ack_deadline_ms=1_700_000_030_000),
        ),
        GwEvent(
            topic="o",
            group="g",
            event=EventBody(id="e", ts=0, topic="o", payload=raw(b"null")),
            ctx=GwEventCtx(attempt=2, ack_deadline_ms=None),
        ),
    ],
    GwErr: [
        GwErr(code="forbidden", msg="no", corr=4),
        GwErr(code="rate_limited", msg="slow", retry_after_ms=0),
    ],
}


# --- hypothesis strategies -----------------------------------------------------

json_scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
)
json_values = st.recursive(
    json_scalars,
    lambda children: (
        st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=20,
)

valid_names = st.from_regex(names.NAME_RE, fullmatch=True).filter(names.is_valid_name)
short_text = st.text(max_size=16)
plain_chars = st.characters(exclude_categories=["Cc", "Cs"])
"""Ids and keys hold no control characters (`promethean.names.is_plain_id`)."""
plain_text = st.text(plain_chars, max_size=16)
ids = st.text(plain_chars, min_size=1, max_size=16)
optional_plain = st.none() | plain_text
int64 = st.integers(min_value=0, max_value=2**63 - 1)
corrs = st.none() | st.text(max_size=8) | st.integers(min_value=-(2**63), max_value=2**63 - 1)
payloads = json_values.map(lambda value: msgspec.Raw(msgspec.json.encode(value)))
headers = st.none() | st.dictionaries(short_text, short_text, max_size=4)
from_specs = st.none() | st.one_of(
    st.builds(FromSpec, kind=st.sampled_from(["latest", "earliest"]), value=st.none() | int64),
    st.builds(FromSpec, kind=st.sampled_from(["offset", "timestamp"]), value=int64),
)
filters = st.none() | st.builds(
    Filter, key=optional_plain, header=st.none() | st.tuples(short_text, short_text)
)
max_inflights = st.none() | st.integers(min_value=1, max_value=100_000)
ack_timeouts = st.none() | st.integers(min_value=100, max_value=3_600_000)
extend_ms = st.integers(min_value=0, max_value=3_600_000)
generations = st.none() | int64
optional_text = st.none() | short_text
optional_ids = st.none() | ids
id_lists = st.none() | st.lists(ids, max_size=3)
text_lists = st.none() | st.lists(short_text, max_size=3)
partition_maps = st.dictionaries(valid_names, st.lists(int64, max_size=4), max_size=3)


def _publish_kwargs() -> dict[str, Any]:
    return {
        "topic": valid_names,
        "payload": payloads,
        "key": optional_plain,
        "headers": headers,
        "id": optional_ids,
        "caused_by": id_lists,
        "tags": text_lists,
        "sid": optional_plain,
    }


def _ref_kwargs() -> dict[str, Any]:
    return {"topic": valid_names, "group": valid_names, "corr": corrs}


def _delivery_kwargs() -> dict[str, Any]:
    return {
        "topic": valid_names,
        "partition": int64,
        "group": valid_names,
        "offset": int64,
        "attempt": int64,
        "envelope": envelopes,
        "ack_deadline_ms": st.none() | int64,
    }


envelopes = st.builds(
    Envelope,
    id=ids,
    ts=int64,
    topic=valid_names,
    partition=int64,
    payload=payloads,
    key=optional_plain,
    headers=headers,
    caused_by=id_lists,
    tags=text_lists,
    sid=optional_plain,
)

broker_requests = st.one_of(
    st.builds(Auth, token=short_text, corr=corrs),
    st.builds(Publish, corr=corrs, **_publish_kwargs()),
    st.builds(
        PublishBatch,
        items=st.lists(st.builds(PublishItem, **_publish_kwargs()), min_size=1, max_size=3),
        corr=corrs,
    ),
    st.builds(
        Subscribe,
        from_=from_specs,
        max_inflight=max_inflights,
        filter=filters,
        ack_timeout_ms=ack_timeouts,
        credits=st.none() | int64,
        **_ref_kwargs(),
    ),
    st.builds(Ack, partition=int64, offset=int64, generation=generations, **_ref_kwargs()),
    st.builds(
        Nack,
        partition=int64,
        offset=int64,
        generation=generations,
        reason=optional_text,
        **_ref_kwargs(),
    ),
    st.builds(
        Modack,
        partition=int64,
        offset=int64,
        extend_ms=extend_ms,
        generation=generations,
        **_ref_kwargs(),
    ),
    st.builds(
        AckBatch,
        items=st.lists(st.tuples(int64, int64), min_size=1, max_size=4),
        generation=generations,
        **_ref_kwargs(),
    ),
    st.builds(Flow, credits=int64, corr=corrs),
    st.builds(Flow, credits=int64, **_ref_kwargs()),
    st.builds(Unsubscribe, **_ref_kwargs()),
    st.builds(Ping, corr=corrs),
    st.builds(
        Join,
        group=valid_names,
        topics=st.lists(valid_names, min_size=1, max_size=3),
        member_id=ids,
        instance_id=optional_ids,
        max_inflight=max_inflights,
        ack_timeout_ms=ack_timeouts,
        corr=corrs,
    ),
    st.builds(Heartbeat, group=valid_names, member_id=ids, generation=int64, corr=corrs),
    st.builds(
        Revoked,
        group=valid_names,
        member_id=ids,
        generation=int64,
        partitions=partition_maps,
        corr=corrs,
    ),
    st.builds(Leave, group=valid_names, member_id=ids, corr=corrs),
    st.builds(
        Fetch,
        topic=valid_names,
        group=valid_names,
        member_id=ids,
        generation=int64,
        partitions=st.lists(st.integers(min_value=0, max_value=2**31), max_size=4),
        corr=corrs,
    ),
    st.builds(Metadata, topics=st.none() | st.lists(valid_names, max_size=3), corr=corrs),
)

broker_addresses = st.builds(BrokerAddress, id=ids, address=ids)
owner_refs = st.none() | st.builds(PartitionOwnerRef, id=ids, address=ids, epoch=int64)
topic_routes = st.builds(
    TopicRoutes,
    topic=valid_names,
    partitions=st.lists(
        st.builds(PartitionRoute, partition=int64, epoch=int64, owner=st.none() | broker_addresses),
        max_size=3,
    ),
)

publish_results = st.one_of(
    st.builds(
        PublishedItem,
        topic=valid_names,
        partition=int64,
        offset=int64,
        id=ids,
        duplicate=st.booleans(),
    ),
    st.builds(ItemError, code=short_text, msg=short_text),
)

broker_replies = st.one_of(
    st.builds(Ok, corr=corrs),
    st.builds(
        Published,
        topic=valid_names,
        partition=int64,
        offset=int64,
        id=ids,
        duplicate=st.booleans(),
        corr=corrs,
    ),
    st.builds(PublishedBatch, results=st.lists(publish_results, max_size=4), corr=corrs),
    st.builds(Subscribed, topic=valid_names, group=valid_names, partitions=int64, corr=corrs),
    st.builds(Message, corr=corrs, **_delivery_kwargs()),
    st.builds(
        MessageBatch,
        messages=st.lists(st.builds(Delivery, **_delivery_kwargs()), max_size=3),
        corr=corrs,
    ),
    st.builds(
        Err,
        code=short_text,
        msg=short_text,
        retry_after_ms=st.none() | int64,
        owner=owner_refs,
        corr=corrs,
    ),
    st.builds(
        MetadataResponse,
        epoch=int64,
        brokers=st.lists(broker_addresses, max_size=3),
        topics=st.lists(topic_routes, max_size=2),
        corr=corrs,
    ),
    st.builds(Pong, corr=corrs),
    st.builds(
        Assignment,
        group=valid_names,
        member_id=ids,
        generation=int64,
        partitions=partition_maps,
        revoke=st.none() | partition_maps,
        heartbeat_ms=st.none() | int64,
        session_timeout_ms=st.none() | int64,
        corr=corrs,
    ),
    st.builds(
        Revoke,
        group=valid_names,
        member_id=ids,
        generation=int64,
        partitions=partition_maps,
        corr=corrs,
    ),
)

gateway_requests = st.one_of(
    st.builds(GwAuth, token=short_text, corr=corrs),
    st.builds(
        GwPublish,
        topic=valid_names,
        payload=payloads,
        opts=st.none()
        | st.builds(GwPublishOpts, key=optional_plain, headers=headers, id=optional_ids),
        corr=corrs,
    ),
    st.builds(
        GwSubscribe,
        opts=st.none()
        | st.builds(
            GwSubscribeOpts,
            from_=from_specs | st.sampled_from(["latest", "earliest"]),
            max_inflight=max_inflights,
            ack_timeout_ms=ack_timeouts,
            filter=filters,
        ),
        **_ref_kwargs(),
    ),
    st.builds(GwAck, id=ids, **_ref_kwargs()),
    st.builds(GwNack, id=ids, reason=optional_text, **_ref_kwargs()),
    st.builds(GwModack, id=ids, extend_ms=extend_ms, **_ref_kwargs()),
    st.builds(GwUnsubscribe, **_ref_kwargs()),
)

gateway_replies = st.one_of(
    st.builds(GwOk, id=optional_ids, corr=corrs),
    st.builds(
        GwEvent,
        topic=valid_names,
        group=valid_names,
        event=st.builds(
            EventBody,
            id=ids,
            ts=int64,
            topic=valid_names,
            payload=payloads,
            key=optional_text,
            headers=headers,
            caused_by=id_lists,
            tags=text_lists,
            sid=optional_text,
        ),
        ctx=st.builds(GwEventCtx, attempt=int64, ack_deadline_ms=st.none() | int64),
        corr=corrs,
    ),
    st.builds(GwErr, code=short_text, msg=short_text, retry_after_ms=st.none() | int64, corr=corrs),
)
