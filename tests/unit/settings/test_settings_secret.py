"""Secret: never printed, compared by value."""

from __future__ import annotations

from promethean.settings import Secret


def test_repr_and_str_are_masked() -> None:
    secret = Secret("hunter2")
    assert repr(secret) == "***"
    assert str(secret) == "***"
    assert f"{secret}" == "***"
    assert "hunter2" not in repr([secret, {"k": secret}])


def test_reveal_returns_the_value() -> None:
    assert Secret("hunter2").reveal() == "hunter2"


def test_equality_and_hash_follow_the_value() -> None:
    assert Secret("a") == Secret("a")
    assert Secret("a") != Secret("b")
    assert Secret("a") != "a"
    assert len({Secret("a"), Secret("a"), Secret("b")}) == 2


def test_empty_secret_is_falsy() -> None:
    assert not Secret("")
    assert Secret("x")
