"""Retry policy for publishes refused with ``not_owner``: no wait after the
first refusal, jittered exponential backoff after, a bounded number of tries,
then a typed error."""

from __future__ import annotations

from promethean.client.reroute import (
    MAX_REROUTES,
    REROUTE_MAX_S,
    gave_up_error,
    gives_up,
    reroute_delay_s,
)
from promethean.errors import NotOwnerError, PrometheanError


def test_first_refusal_is_resent_at_once() -> None:
    assert reroute_delay_s(1) == 0.0


def test_backoff_grows_and_is_capped() -> None:
    upper = [max(reroute_delay_s(n) for _ in range(50)) for n in range(2, MAX_REROUTES + 1)]
    assert all(0.0 < delay <= REROUTE_MAX_S for delay in upper)
    assert upper[-1] > upper[0]
    assert reroute_delay_s(100) <= REROUTE_MAX_S


def test_retries_are_bounded() -> None:
    assert not any(gives_up(n) for n in range(1, MAX_REROUTES + 1))
    assert gives_up(MAX_REROUTES + 1)


def test_the_final_error_is_typed() -> None:
    error = gave_up_error("id-1", "orders", MAX_REROUTES + 1)
    assert isinstance(error, NotOwnerError)
    assert isinstance(error, PrometheanError)
    assert error.code == "not_owner"
    assert "id-1" in str(error)
    assert "orders" in str(error)
