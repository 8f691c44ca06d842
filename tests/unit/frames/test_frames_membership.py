"""Group-membership frames: what the codec refuses, with the code and field."""

from __future__ import annotations

import json
from typing import Any

import pytest

from promethean.frames import (
    Assignment,
    ErrorCode,
    InvalidFrameError,
    Join,
    encode,
    parse_broker_reply,
    parse_broker_request,
)
from promethean.frames.broker import MAX_JOIN_TOPICS, MAX_MEMBER_ID_CHARS


def _join(**fields: Any) -> str:
    frame = {"type": "JOIN", "group": "g", "topics": ["t"], "member_id": "m", "corr": 4}
    frame.update(fields)
    return json.dumps({k: v for k, v in frame.items() if v is not None})


@pytest.mark.parametrize(
    ("fields", "code"),
    [
        ({"member_id": None}, ErrorCode.MISSING_FIELD),
        ({"topics": None}, ErrorCode.MISSING_FIELD),
        ({"topics": []}, ErrorCode.BAD_FIELD),
        ({"topics": ["t"] * (MAX_JOIN_TOPICS + 1)}, ErrorCode.BAD_FIELD),
        ({"member_id": ""}, ErrorCode.BAD_FIELD),
        ({"member_id": "m" * (MAX_MEMBER_ID_CHARS + 1)}, ErrorCode.BAD_FIELD),
        ({"instance_id": 5}, ErrorCode.BAD_FIELD),
        ({"topics": ["ok", "$where"]}, ErrorCode.BAD_NAME),
        ({"group": "a..b"}, ErrorCode.BAD_NAME),
        ({"max_inflight": 0}, ErrorCode.BAD_FIELD),
    ],
)
def test_bad_join_is_refused_with_its_code(fields: dict[str, Any], code: ErrorCode) -> None:
    with pytest.raises(InvalidFrameError) as info:
        parse_broker_request(_join(**fields))
    assert info.value.code == code
    assert info.value.corr == 4


@pytest.mark.parametrize(
    "frame",
    [
        {"type": "HEARTBEAT", "group": "g", "member_id": "m", "generation": -1},
        {"type": "HEARTBEAT", "group": "g", "member_id": "m"},
        {"type": "REVOKED", "group": "g", "member_id": "m", "generation": 1, "partitions": [1]},
        {
            "type": "REVOKED",
            "group": "g",
            "member_id": "m",
            "generation": 1,
            "partitions": {"t": [-1]},
        },
        {
            "type": "REVOKED",
            "group": "g",
            "member_id": "m",
            "generation": 1,
            "partitions": {"bad name": [1]},
        },
        {"type": "LEAVE", "group": "g"},
        {"type": "LEAVE", "group": "$g", "member_id": "m"},
    ],
)
def test_bad_membership_frames_are_refused(frame: dict[str, Any]) -> None:
    with pytest.raises(InvalidFrameError) as info:
        parse_broker_request(json.dumps(frame))
    assert info.value.code in {ErrorCode.BAD_FIELD, ErrorCode.MISSING_FIELD, ErrorCode.BAD_NAME}


def test_membership_replies_are_not_requests() -> None:
    wire = encode(Assignment(group="g", member_id="m", generation=1, partitions={"t": [0]}))
    with pytest.raises(InvalidFrameError) as info:
        parse_broker_request(wire)
    assert info.value.code == ErrorCode.UNKNOWN_TYPE
    with pytest.raises(InvalidFrameError):
        parse_broker_reply(encode(Join(group="g", topics=["t"], member_id="m")))


def test_assignment_omits_what_it_does_not_carry() -> None:
    wire = json.loads(
        encode(Assignment(group="g", member_id="m", generation=0, partitions={"t": []}))
    )
    assert wire == {
        "type": "ASSIGNMENT",
        "group": "g",
        "member_id": "m",
        "generation": 0,
        "partitions": {"t": []},
    }
