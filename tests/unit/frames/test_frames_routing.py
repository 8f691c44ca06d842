"""Routing frames: METADATA / METADATA_RESPONSE and ``ERR not_owner``; what
the codec refuses, with the code and field, and how errors become frames."""

from __future__ import annotations

import json
from typing import Any

import pytest

from promethean.errors import FencedError, NotOwnerError
from promethean.frames import (
    CONNECTION_CLOSING,
    REROUTE,
    RETRYABLE,
    ErrorCode,
    InvalidFrameError,
    Metadata,
    MetadataResponse,
    PartitionOwnerRef,
    encode,
    error_frame,
    parse_broker_reply,
    parse_broker_request,
)
from promethean.frames.routing import MAX_ADDRESS_CHARS, MAX_BROKER_ID_CHARS, MAX_METADATA_TOPICS


def _metadata(**fields: Any) -> str:
    frame: dict[str, Any] = {"type": "METADATA", "corr": 6}
    frame.update(fields)
    return json.dumps(frame)


def _response(partition: dict[str, Any], **fields: Any) -> str:
    frame: dict[str, Any] = {
        "type": "METADATA_RESPONSE",
        "epoch": 1,
        "brokers": [{"id": "b0", "address": "ws://b0:7070/ws"}],
        "topics": [{"topic": "orders", "partitions": [partition]}],
        "corr": 6,
    }
    frame.update(fields)
    return json.dumps(frame)


def test_a_metadata_request_without_topics_asks_for_every_topic() -> None:
    assert parse_broker_request('{"type":"METADATA"}') == Metadata()
    assert parse_broker_request(_metadata(topics=["a", "b.c"])) == Metadata(
        topics=["a", "b.c"], corr=6
    )


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"topics": "orders"}, ErrorCode.BAD_FIELD, "topics"),
        ({"topics": [1]}, ErrorCode.BAD_FIELD, "topics[0]"),
        ({"topics": ["ok", "$where"]}, ErrorCode.BAD_NAME, "topics[1]"),
        ({"topics": ["a..b"]}, ErrorCode.BAD_NAME, "topics[0]"),
        ({"topics": ["t"] * (MAX_METADATA_TOPICS + 1)}, ErrorCode.BAD_FIELD, "topics"),
        ({"topics": {"$ne": None}}, ErrorCode.BAD_FIELD, "topics"),
    ],
)
def test_bad_metadata_requests_are_refused_with_their_code(
    fields: dict[str, Any], code: ErrorCode, field: str
) -> None:
    with pytest.raises(InvalidFrameError) as info:
        parse_broker_request(_metadata(**fields))
    assert info.value.code == code
    assert info.value.field == field
    assert info.value.corr == 6


@pytest.mark.parametrize(
    ("partition", "code"),
    [
        ({"partition": -1, "epoch": 1}, ErrorCode.BAD_FIELD),
        ({"partition": 0}, ErrorCode.MISSING_FIELD),
        ({"partition": 0, "epoch": 2**63}, ErrorCode.BAD_FIELD),
        ({"partition": 0, "epoch": 1, "owner": {"id": "b0"}}, ErrorCode.MISSING_FIELD),
        ({"partition": 0, "epoch": 1, "owner": {"id": "", "address": "a"}}, ErrorCode.BAD_FIELD),
        (
            {"partition": 0, "epoch": 1, "owner": {"id": "b", "address": "a" * 513}},
            ErrorCode.BAD_FIELD,
        ),
        ({"partition": 0, "epoch": 1, "owner": "b0"}, ErrorCode.BAD_FIELD),
    ],
)
def test_bad_metadata_responses_are_refused(partition: dict[str, Any], code: ErrorCode) -> None:
    with pytest.raises(InvalidFrameError) as info:
        parse_broker_reply(_response(partition))
    assert info.value.code == code
    assert info.value.corr == 6


def test_limits_are_the_documented_ones() -> None:
    assert (MAX_BROKER_ID_CHARS, MAX_ADDRESS_CHARS, MAX_METADATA_TOPICS) == (256, 512, 1_024)


def test_metadata_frames_keep_to_their_direction() -> None:
    with pytest.raises(InvalidFrameError) as request:
        parse_broker_request(_response({"partition": 0, "epoch": 1}))
    with pytest.raises(InvalidFrameError) as reply:
        parse_broker_reply(_metadata())
    assert request.value.code == reply.value.code == ErrorCode.UNKNOWN_TYPE


def test_a_route_without_owner_leaves_the_field_out() -> None:
    frame = parse_broker_reply(_response({"partition": 4, "epoch": 9}))
    assert isinstance(frame, MetadataResponse)
    assert frame.topics[0].partitions[0].owner is None
    assert "owner" not in json.loads(encode(frame))["topics"][0]["partitions"][0]


def test_not_owner_error_names_the_current_owner() -> None:
    error = NotOwnerError(
        "partition 3 of 'orders' is owned by broker-1",
        owner_id="broker-1",
        owner_address="ws://b1:7070/ws",
        epoch=7,
    )

    frame = error_frame(error, corr="p-1")
    wire = json.loads(encode(frame))

    assert frame.owner == PartitionOwnerRef(id="broker-1", address="ws://b1:7070/ws", epoch=7)
    assert wire == {
        "type": "ERR",
        "code": "not_owner",
        "msg": "partition 3 of 'orders' is owned by broker-1",
        "owner": {"id": "broker-1", "address": "ws://b1:7070/ws", "epoch": 7},
        "corr": "p-1",
    }
    assert parse_broker_reply(encode(frame)) == frame


def test_not_owner_while_the_partition_moves_carries_no_owner() -> None:
    frame = error_frame(NotOwnerError("partition 3 of 'orders' is moving", owner_id="broker-1"))
    assert frame.code == "not_owner"
    assert "owner" not in json.loads(encode(frame))


def test_other_errors_never_carry_an_owner() -> None:
    assert error_frame(FencedError("moved")).owner is None


def test_not_owner_reroutes_rather_than_retrying_in_place() -> None:
    assert ErrorCode.NOT_OWNER in REROUTE
    assert not REROUTE & RETRYABLE
    assert not REROUTE & CONNECTION_CLOSING
