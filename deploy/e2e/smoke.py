"""End-to-end checks against an installed release (run by
.github/workflows/e2e-kind.yml through `kubectl port-forward`).

    python deploy/e2e/smoke.py publish   --batch b1 --count 300
    python deploy/e2e/smoke.py ownership --members 3
    python deploy/e2e/smoke.py consume   --batches b1,b2,b3 --count 300

`publish` sends events through the gateway's WebSocket protocol and waits
for every `OK {id}`; `consume` reads the topic from the earliest offset with
a fresh group, acks everything and fails unless every published id arrived
and the group's lag drops to 0; `ownership` waits until the broker's
`GET /groups/{group}` shows the expected members, by pod name, owning every
partition of the topic exactly once.

Secrets come from the environment: JWT_SECRET (to sign the client's token)
and PROMETHEAN_BROKER_TOKEN (the broker's admin API).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import time
import uuid
from typing import Any

import aiohttp
import jwt

TOPIC = "e2e.orders"
KEYS = 16


def client_token(secret: str) -> str:
    now = int(time.time())
    claims = {
        "sub": "e2e-smoke",
        "scopes": ["publish:e2e.**", "subscribe:e2e.**"],
        "iat": now,
        "exp": now + 3600,
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def event_id(batch: str, index: int) -> str:
    return f"{batch}-{index:06d}"


async def authenticate(ws: aiohttp.ClientWebSocketResponse, secret: str) -> None:
    await ws.send_json({"op": "AUTH", "token": client_token(secret), "corr": "auth"})
    reply = await ws.receive_json(timeout=10)
    if reply.get("op") != "OK":
        raise SystemExit(f"AUTH refused: {reply}")


async def publish(args: argparse.Namespace) -> None:
    async with aiohttp.ClientSession() as session, session.ws_connect(args.gateway) as ws:
        await authenticate(ws, os.environ["JWT_SECRET"])
        pending = set()
        for index in range(args.count):
            ident = event_id(args.batch, index)
            pending.add(ident)
            await ws.send_json(
                {
                    "op": "PUBLISH",
                    "corr": ident,
                    "topic": TOPIC,
                    "payload": {"batch": args.batch, "index": index},
                    "opts": {"key": f"k{index % KEYS}", "id": ident},
                }
            )
        deadline = time.monotonic() + args.timeout
        while pending:
            reply = await ws.receive_json(timeout=max(0.1, deadline - time.monotonic()))
            if reply.get("op") == "ERR":
                raise SystemExit(f"publish refused: {reply}")
            if reply.get("op") == "OK":
                pending.discard(reply.get("id") or reply.get("corr"))
    print(f"published {args.count} events of batch {args.batch} to {TOPIC}")


async def consume(args: argparse.Namespace) -> None:
    expected = {event_id(b, i) for b in args.batches.split(",") for i in range(args.count)}
    group = f"e2e-check-{uuid.uuid4().hex[:8]}"
    seen: set[str] = set()
    async with aiohttp.ClientSession() as session, session.ws_connect(args.gateway) as ws:
        await authenticate(ws, os.environ["JWT_SECRET"])
        await ws.send_json(
            {
                "op": "SUBSCRIBE",
                "corr": "sub",
                "topic": TOPIC,
                "group": group,
                "opts": {"from": {"kind": "earliest"}, "max_inflight": 256},
            }
        )
        deadline = time.monotonic() + args.timeout
        while not expected <= seen:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                missing = sorted(expected - seen)
                raise SystemExit(f"{len(missing)} events never arrived, e.g. {missing[:10]}")
            frame = await ws.receive_json(timeout=remaining)
            if frame.get("op") == "ERR":
                raise SystemExit(f"subscription failed: {frame}")
            if frame.get("op") != "EVENT":
                continue
            ident = frame["event"]["id"]
            seen.add(ident)
            await ws.send_json({"op": "ACK", "topic": TOPIC, "group": group, "id": ident})
        await wait_for_zero_lag(args.broker, group, args.timeout)
    print(f"group {group} received and acked all {len(expected)} events; lag 0")


async def broker_get(session: aiohttp.ClientSession, base: str, path: str) -> Any:
    headers = {"Authorization": f"Bearer {os.environ['PROMETHEAN_BROKER_TOKEN']}"}
    async with session.get(f"{base}{path}", headers=headers) as response:
        body = await response.json(content_type=None)
        if response.status != 200:
            raise RuntimeError(f"GET {path}: {response.status} {body}")
        return body


async def wait_for_zero_lag(broker: str, group: str, limit_s: float) -> None:
    deadline = time.monotonic() + limit_s
    async with aiohttp.ClientSession() as session:
        while True:
            body = await broker_get(session, broker, f"/lag?topic={TOPIC}&group={group}")
            if body["lag"] == 0:
                return
            if time.monotonic() > deadline:
                raise SystemExit(f"lag of {group} stuck at {body['lag']}: {json.dumps(body)}")
            await asyncio.sleep(1)


def ownership_problem(
    body: dict[str, Any], topic: str, partitions: int, members: int, statefulset: str
) -> str:
    """Why the group is not yet as expected, or "" when it is: the members
    are the StatefulSet's pods by name, and they own every partition of the
    topic exactly once, balanced to within one partition."""
    instance_ids = sorted(m.get("instance_id") or "" for m in body["members"])
    wanted = [f"{statefulset}-{i}" for i in range(members)]
    if instance_ids != sorted(wanted):
        return f"members {instance_ids}, want {sorted(wanted)}"
    owned: list[int] = []
    for member_topics in body["assignment"].values():
        owned.extend(member_topics.get(topic, []))
    if sorted(owned) != list(range(partitions)):
        return f"owned partitions {sorted(owned)}, want 0..{partitions - 1} once each"
    counts = [len(t.get(topic, [])) for t in body["assignment"].values()]
    if len(counts) != members or max(counts) - min(counts) > 1:
        return f"unbalanced assignment {counts}"
    return ""


async def ownership(args: argparse.Namespace) -> None:
    deadline = time.monotonic() + args.timeout
    problem = "not asked yet"
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            try:
                offsets = await broker_get(session, args.broker, f"/topics/{args.topic}/offsets")
                body = await broker_get(session, args.broker, f"/groups/{args.group}")
            except (RuntimeError, aiohttp.ClientError) as exc:
                problem = str(exc)
            else:
                partitions = len(offsets["partitions"])
                problem = ownership_problem(
                    body, args.topic, partitions, args.members, args.statefulset
                )
                if not problem:
                    print(
                        f"{args.members} members own all {partitions} partitions of "
                        f"{args.topic} (generation {body['generation']})"
                    )
                    return
            await asyncio.sleep(1)
    raise SystemExit(f"group {args.group}: {problem}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gateway", default="ws://127.0.0.1:18090/ws")
    parser.add_argument("--broker", default="http://127.0.0.1:17070")
    parser.add_argument("--timeout", type=float, default=120.0)
    commands = parser.add_subparsers(dest="command", required=True)
    pub = commands.add_parser("publish")
    pub.add_argument("--batch", required=True)
    pub.add_argument("--count", type=int, default=300)
    con = commands.add_parser("consume")
    con.add_argument("--batches", required=True)
    con.add_argument("--count", type=int, default=300)
    own = commands.add_parser("ownership")
    own.add_argument("--members", type=int, required=True)
    own.add_argument("--group", default="promethean-worker")
    own.add_argument("--topic", default="heartbeat.received")
    own.add_argument("--statefulset", default="promethean-worker")
    args = parser.parse_args()
    command = {"publish": publish, "consume": consume, "ownership": ownership}[args.command]
    try:
        asyncio.run(command(args))
    except TimeoutError:
        sys.exit(f"{args.command}: timed out")


if __name__ == "__main__":
    main()
