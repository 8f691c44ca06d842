"""Who the broker's admin API lets in (`promethean_broker.access`), without
sockets: the broker token, JWT scopes admin:* / read:*, and an open dev broker."""

from __future__ import annotations

import time
from collections.abc import Callable

import jwt
import pytest

from promethean.auth import JwtConfig
from promethean.settings.secret import Secret
from promethean_broker.access import Access, DeniedError, Role, is_public
from promethean_broker.views import RateMeter

SECRET = "unit-test-secret-0123456789abcdef"
CONFIG = JwtConfig(secret=Secret(SECRET), algorithms=frozenset({"HS256"}))


def bearer(scopes: object, **claims: object) -> str:
    body = {"sub": "ana", "scopes": scopes, "exp": int(time.time()) + 60, **claims}
    return "Bearer " + jwt.encode(body, SECRET, algorithm="HS256")


@pytest.mark.parametrize(
    ("scopes", "role"),
    [
        (["admin:*"], Role.ADMIN),
        ("openid read:*", Role.READ),
        (["read:**", "admin:**"], Role.ADMIN),
    ],
)
async def test_scopes_give_a_role(scopes: object, role: Role) -> None:
    caller = await Access(None, CONFIG).caller(bearer(scopes))
    assert (caller.role, caller.subject) == (role, "ana")
    assert caller.can_write is (role is Role.ADMIN)


async def test_the_broker_token_is_an_admin() -> None:
    caller = await Access(Secret("tok"), CONFIG).caller("Bearer tok")
    assert (caller.role, caller.subject) == (Role.ADMIN, "broker-token")


@pytest.mark.parametrize(
    ("authorization", "status"),
    [
        (lambda: None, 401),
        (lambda: "Basic abc", 401),
        (lambda: "Bearer not-a-jwt", 401),
        (lambda: bearer(["publish:*"]), 403),
        (lambda: bearer(["admin:*"], exp=int(time.time()) - 600), 401),
    ],
)
async def test_refusals(authorization: Callable[[], str | None], status: int) -> None:
    """(Tokens are minted when the test runs: they expire a minute later.)"""
    with pytest.raises(DeniedError) as denied:
        await Access(Secret("tok"), CONFIG).caller(authorization())
    assert denied.value.status == status


async def test_a_broker_without_token_or_secret_is_open() -> None:
    access = Access(None, JwtConfig())
    assert access.open
    assert (await access.caller(None)).role is Role.ADMIN


def test_public_paths() -> None:
    assert is_public("/healthz/ready")
    assert is_public("/console/static/console.js")
    assert is_public("/ws")
    assert not is_public("/console/api/overview")
    assert not is_public("/dlq/x")
    assert not is_public("/healthz")


def test_rate_meter_waits_a_second_between_samples() -> None:
    meter = RateMeter()
    assert meter.sample(100, 10.0) == 0.0
    assert meter.sample(150, 10.5) == 0.0
    assert meter.sample(300, 12.0) == 100.0
    assert meter.sample(250, 13.0) == 0.0
