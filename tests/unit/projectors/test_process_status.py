"""The status rules of the heartbeat projector, without a bus."""

from __future__ import annotations

import msgspec
import pytest

from promethean.projectors.process_status import (
    Heartbeat,
    ProcessStatus,
    decode_heartbeat,
    is_dead,
    status_of,
)
from tests.unit.projectors.support import POLICY, beat

NOW = 1_700_000_000_000


def heartbeat(**fields: object) -> Heartbeat:
    return msgspec.convert(beat(NOW, **fields), Heartbeat)


def test_a_fresh_connected_heartbeat_is_alive() -> None:
    assert status_of(heartbeat(), POLICY) is ProcessStatus.ALIVE


def test_progress_older_than_the_stall_limit_is_stalled() -> None:
    assert status_of(heartbeat(last_progress_ts=NOW - 30_000), POLICY) is ProcessStatus.ALIVE
    assert status_of(heartbeat(last_progress_ts=NOW - 30_001), POLICY) is ProcessStatus.STALLED


def test_a_disconnected_process_is_disconnected_even_when_stalled() -> None:
    record = heartbeat(connected=False, last_progress_ts=NOW - 90_000)
    assert status_of(record, POLICY) is ProcessStatus.DISCONNECTED


def test_dead_after_the_limit_since_the_last_receipt() -> None:
    assert not is_dead(NOW, NOW + 15_000, POLICY)
    assert is_dead(NOW, NOW + 15_001, POLICY)


def test_the_key_is_host_name_pid() -> None:
    assert heartbeat(pid=7, name="gateway", host="h1").key == "h1:gateway:7"


def test_decoding_refuses_a_record_missing_fields() -> None:
    assert decode_heartbeat(msgspec.json.encode(beat(NOW))).pid == 100
    with pytest.raises(msgspec.ValidationError):
        decode_heartbeat(b'{"pid": 1, "name": "x"}')
    with pytest.raises(msgspec.DecodeError):
        decode_heartbeat(b"not json")
