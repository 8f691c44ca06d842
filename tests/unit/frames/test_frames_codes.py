"""The stable error-code list and the ERR frames built from errors."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import pytest

from promethean.errors import (
    CapabilityError,
    FencedError,
    OverloadedError,
    PrometheanError,
    StaleGenerationError,
    StoreError,
    StoreUnavailableError,
)
from promethean.frames import (
    CONNECTION_CLOSING,
    KNOWN_CODES,
    RETRYABLE,
    Err,
    ErrorCode,
    GwErr,
    InvalidFrameError,
    encode,
    error_frame,
    gw_error_frame,
    parse_broker_reply,
    parse_gateway_reply,
)

STABLE_CODES = {
    "frame_too_large",
    "bad_json",
    "bad_frame",
    "missing_type",
    "unknown_type",
    "missing_field",
    "bad_field",
    "bad_name",
    "payload_too_large",
    "headers_too_large",
    "schema_invalid",
    "unauthorized",
    "forbidden",
    "token_expired",
    "overloaded",
    "rate_limited",
    "not_subscribed",
    "unknown_delivery",
    "stale_generation",
    "fenced",
    "not_leader",
    "not_owner",
    "store_unavailable",
    "too_many_connections",
    "slow_consumer",
    "internal",
}

MAKERS: list[tuple[Callable[..., Any], Callable[..., Any], type[Any]]] = [
    (error_frame, parse_broker_reply, Err),
    (gw_error_frame, parse_gateway_reply, GwErr),
]


def test_the_code_list_is_exactly_the_documented_one() -> None:
    assert {code.value for code in ErrorCode} == STABLE_CODES
    assert KNOWN_CODES == STABLE_CODES


def test_closing_and_retryable_codes_are_known_codes() -> None:
    assert set(ErrorCode) >= CONNECTION_CLOSING
    assert set(ErrorCode) >= RETRYABLE
    assert ErrorCode.BAD_FIELD not in CONNECTION_CLOSING
    assert ErrorCode.OVERLOADED in RETRYABLE


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (StoreUnavailableError("down"), "store_unavailable"),
        (FencedError("lease moved"), "fenced"),
        (StaleGenerationError("gen 3 < 4"), "stale_generation"),
        (PrometheanError("nope", code="forbidden"), "forbidden"),
        (PrometheanError("boom"), "internal"),
        (StoreError("refused"), "internal"),
        (CapabilityError("no transactions"), "internal"),
        (PrometheanError("odd", code="made_up"), "internal"),
    ],
)
@pytest.mark.parametrize(("make", "parse", "cls"), MAKERS)
def test_error_frames_carry_a_stable_code(
    error: PrometheanError,
    code: str,
    make: Callable[..., Any],
    parse: Callable[..., Any],
    cls: type[Any],
) -> None:
    frame = make(error, corr=11)
    assert isinstance(frame, cls)
    assert (frame.code, frame.msg, frame.corr, frame.retry_after_ms) == (code, error.msg, 11, None)
    assert parse(encode(frame)) == frame


@pytest.mark.parametrize(("make", "parse", "cls"), MAKERS)
def test_overloaded_carries_retry_after(
    make: Callable[..., Any], parse: Callable[..., Any], cls: type[Any]
) -> None:
    frame = make(OverloadedError("busy", retry_after_ms=750))
    wire = json.loads(encode(frame))
    assert wire["code"] == "overloaded"
    assert wire["retry_after_ms"] == 750
    assert "corr" not in wire
    assert parse(encode(frame)) == frame


@pytest.mark.parametrize(("make", "parse", "cls"), MAKERS)
def test_corr_comes_from_the_error_unless_given(
    make: Callable[..., Any], parse: Callable[..., Any], cls: type[Any]
) -> None:
    error = InvalidFrameError(ErrorCode.BAD_NAME, "bad", field="topic", corr="from-frame")
    assert make(error).corr == "from-frame"
    assert make(error, corr="explicit").corr == "explicit"
    assert make(InvalidFrameError(ErrorCode.BAD_JSON, "bad")).corr is None
