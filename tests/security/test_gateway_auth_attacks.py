"""Tokens that must not get in, and tokens that must."""

from __future__ import annotations

import jwt

from tests.integration.gateway.support import GatewayClient
from tests.security.conftest import JWKS_KID
from tests.security.support import (
    assert_refused,
    assert_still_serving,
    default_body,
    hand_made,
    hs_token,
)


async def test_frames_before_auth_are_refused_and_close(gateway, broker):
    for first in (
        {"op": "PUBLISH", "topic": "sec.x", "payload": 1, "corr": 1},
        {"op": "SUBSCRIBE", "topic": "sec.x", "group": "g", "corr": 1},
        "{not json",
    ):
        client = await GatewayClient.open(gateway.url)
        try:
            await client.send(first)
            reply = await client.recv()
            assert reply["op"] == "ERR"
            assert reply["code"] == "unauthorized"
            assert await client.closed_with() == 4401
        finally:
            await client.close()
    await assert_still_serving(gateway)


async def test_alg_none_is_refused(gateway, broker):
    await assert_refused(
        gateway, broker, hand_made({"alg": "none", "typ": "JWT"}, default_body(), None)
    )


async def test_hs256_signed_with_the_rsa_public_key_is_refused(gateway, broker, keys):
    token = hand_made({"alg": "HS256", "typ": "JWT"}, default_body(), keys.rsa_public_pem.encode())
    await assert_refused(gateway, broker, token)


async def test_expired_token(gateway, broker):
    await assert_refused(
        gateway, broker, hs_token(scopes=["publish:**"], exp_in=-60), "token_expired"
    )


async def test_not_yet_valid_token(gateway, broker):
    import time

    await assert_refused(
        gateway, broker, hs_token(scopes=["publish:**"], nbf=int(time.time()) + 120)
    )


async def test_wrong_audience_and_issuer(gateway, broker):
    await assert_refused(gateway, broker, hs_token(scopes=["publish:**"], aud="someone-else"))
    await assert_refused(gateway, broker, hs_token(scopes=["publish:**"], iss="https://evil.test"))


async def test_missing_exp_is_refused(gateway, broker):
    await assert_refused(
        gateway,
        broker,
        hand_made(
            {"alg": "HS256"},
            {k: v for k, v in default_body().items() if k != "exp"},
            b"gateway-test-secret-0123456789abcdef",
        ),
    )


async def test_tampered_signature_and_payload(gateway, broker):
    token = hs_token(scopes=["subscribe:**"])
    head, body, sig = token.split(".")
    flipped = sig[:-2] + ("AA" if sig[-2:] != "AA" else "BB")
    await assert_refused(gateway, broker, f"{head}.{body}.{flipped}")
    forged_body = hand_made({"alg": "HS256"}, default_body(), b"wrong-secret").split(".")[1]
    await assert_refused(gateway, broker, f"{head}.{forged_body}.{sig}")


async def test_unknown_kid_is_refused_and_refetches_are_rate_limited(gateway, broker, keys):
    for n in range(5):
        token = jwt.encode(
            default_body(),
            keys.other_ec_private,
            algorithm="ES256",
            headers={"kid": f"unknown-{n}"},
        )
        await assert_refused(gateway, broker, token)
    # One fetch at the first unknown kid; later ones fall inside the refresh interval.
    assert 1 <= len(keys.jwks_requests) <= 2


async def test_jwks_key_with_wrong_signer_is_refused(gateway, broker, keys):
    token = jwt.encode(
        default_body(), keys.other_ec_private, algorithm="ES256", headers={"kid": JWKS_KID}
    )
    await assert_refused(gateway, broker, token)


async def test_valid_jwks_and_pem_tokens_get_in(gateway, keys):
    es = jwt.encode(default_body(), keys.ec_private, algorithm="ES256", headers={"kid": JWKS_KID})
    rs = jwt.encode(default_body(), keys.rsa_private, algorithm="RS256")
    for token in (es, rs, hs_token(scopes=["publish:**"])):
        client = await GatewayClient.open(gateway.url)
        try:
            assert (await client.auth(token))["op"] == "OK"
        finally:
            await client.close()


async def test_rs256_token_cannot_use_an_algorithm_outside_the_allow_list(gateway, broker, keys):
    token = jwt.encode(default_body(), keys.rsa_private, algorithm="RS512")
    await assert_refused(gateway, broker, token)


async def test_garbage_tokens(gateway, broker):
    for token in ("", "abc", "a.b.c", "x" * 20_000, "eyJhbGciOiJIUzI1NiJ9..."):
        await assert_refused(gateway, broker, token)
