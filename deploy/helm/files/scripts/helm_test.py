"""`helm test`: publish one event through the gateway and consume it back.

Mints a short-lived HS256 token from JWT_SECRET (scoped to the test topic),
subscribes a fresh group from the latest offset, publishes one event with a
unique id, and waits for that event to arrive, then acks it. Exits 0 on
success, 1 with the reason otherwise."""

from __future__ import annotations

import asyncio
import json
import os
import sys
import time
import uuid

import aiohttp
import jwt

TOPIC = os.environ.get("HELM_TEST_TOPIC", "promethean.helm-test")
TIMEOUT_S = float(os.environ.get("HELM_TEST_TIMEOUT_S", "60"))


def token(secret: str) -> str:
    now = int(time.time())
    claims = {
        "sub": "helm-test",
        "scopes": [f"publish:{TOPIC}", f"subscribe:{TOPIC}"],
        "iat": now,
        "exp": now + 300,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


async def request(ws: aiohttp.ClientWebSocketResponse, frame: dict[str, object]) -> None:
    await ws.send_str(json.dumps(frame))
    while True:
        reply = json.loads(await ws.receive_str())
        if reply.get("op") == "OK":
            return
        if reply.get("op") == "ERR":
            raise RuntimeError(f"{frame['op']} refused: {reply}")


async def run(url: str, secret: str) -> None:
    event_id = f"helm-test-{uuid.uuid4()}"
    group = f"helm-test-{uuid.uuid4().hex[:12]}"
    async with aiohttp.ClientSession() as session, session.ws_connect(url) as ws:
        await request(ws, {"op": "AUTH", "token": token(secret)})
        await request(
            ws,
            {
                "op": "SUBSCRIBE",
                "topic": TOPIC,
                "group": group,
                "opts": {"from": {"kind": "latest"}},
            },
        )
        print(f"subscribed {group} to {TOPIC}", flush=True)
        payload = {"check": "helm test"}
        await ws.send_str(
            json.dumps(
                {"op": "PUBLISH", "topic": TOPIC, "payload": payload, "opts": {"id": event_id}}
            )
        )
        while True:
            frame = json.loads(await ws.receive_str())
            if frame.get("op") == "ERR":
                raise RuntimeError(f"gateway error: {frame}")
            if frame.get("op") == "EVENT" and frame["event"]["id"] == event_id:
                await ws.send_str(
                    json.dumps({"op": "ACK", "topic": TOPIC, "group": group, "id": event_id})
                )
                print(f"published and consumed {event_id} through {url}", flush=True)
                return


def main() -> int:
    url = os.environ["GATEWAY_URL"]
    secret = os.environ.get("JWT_SECRET", "")
    if not secret:
        print("JWT_SECRET is not set (JWKS-only install): the test cannot mint a token")
        return 1
    try:
        asyncio.run(asyncio.wait_for(run(url, secret), TIMEOUT_S))
    except (TimeoutError, RuntimeError, aiohttp.ClientError) as exc:
        print(f"helm test failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
