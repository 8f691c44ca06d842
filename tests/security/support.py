"""Tokens for the security suite and the checks every attack ends with."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from typing import Any

from tests.fixtures.broker import BrokerProcess
from tests.integration.gateway.support import (
    GatewayClient,
    GatewayProcess,
    broker_event_count,
    make_token,
)
from tests.security.conftest import AUDIENCE, ISSUER


def claims(**extra: Any) -> dict[str, Any]:
    return {"aud": AUDIENCE, "iss": ISSUER, **extra}


def hs_token(**extra: Any) -> str:
    return make_token(**claims(**extra))


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(header: dict[str, Any], body: dict[str, Any], key: bytes | None) -> str:
    """A JWT built by hand, HMAC-SHA256-signed with ``key`` (unsigned when None)."""
    signing_input = f"{b64(json.dumps(header).encode())}.{b64(json.dumps(body).encode())}"
    if key is None:
        return signing_input + "."
    signature = hmac.new(key, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(signature)}"


def default_body(**extra: Any) -> dict[str, Any]:
    return {
        "sub": "mallory",
        "exp": int(time.time()) + 600,
        "scopes": ["publish:**"],
        **claims(),
        **extra,
    }


async def assert_refused(
    gateway: GatewayProcess, broker: BrokerProcess, token: str, code: str = "unauthorized"
) -> None:
    """AUTH with ``token`` is answered ``ERR code`` and the socket is closed
    with 4401; a PUBLISH sent anyway stores nothing; others are still served."""
    before = broker_event_count(broker)
    client = await GatewayClient.open(gateway.url)
    try:
        await client.send({"op": "AUTH", "token": token, "corr": "a"})
        await client.send({"op": "PUBLISH", "topic": "sec.attack", "payload": 1, "corr": "p"})
        reply = await client.recv()
        assert (reply["op"], reply["code"], reply["corr"]) == ("ERR", code, "a"), reply
        assert await client.closed_with() == 4401
    finally:
        await client.close()
    await assert_still_serving(gateway)
    assert broker_event_count(broker) == before


async def assert_still_serving(gateway: GatewayProcess) -> None:
    client = await GatewayClient.open(gateway.url)
    try:
        reply = await client.auth(hs_token(scopes=["subscribe:sec.**"]))
        assert reply["op"] == "OK", reply
        ok = await client.request(
            {"op": "SUBSCRIBE", "topic": "sec.alive", "group": "g", "corr": 1}
        )
        assert ok == {"op": "OK", "corr": 1}
    finally:
        await client.close()
