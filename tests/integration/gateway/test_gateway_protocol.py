"""Every gateway op against a real broker and gateway process."""

from __future__ import annotations

import asyncio
import json

from tests.integration.gateway.support import (
    ALL_SCOPES,
    GatewayClient,
    authed_client,
    make_token,
)


async def test_publish_answers_ok_with_the_id_after_the_broker_stored_it(gateway, broker):
    client = await authed_client(gateway)
    try:
        reply = await client.request(
            {
                "op": "PUBLISH",
                "topic": "proto.pub",
                "payload": {"a": 1},
                "corr": "p1",
                "opts": {"id": "given-id", "key": "k1", "headers": {"h": "v"}},
            }
        )
        assert reply == {"op": "OK", "corr": "p1", "id": "given-id"}
        status, body = broker.get("/latest-by-key?topic=proto.pub&key=k1")
        assert status == 200, body
        assert "given-id" in json.dumps(body)
        second = await client.request(
            {"op": "PUBLISH", "topic": "proto.pub", "payload": 2, "corr": 2}
        )
        assert second["op"] == "OK"
        assert second["id"]
        assert second["id"] != "given-id"
    finally:
        await client.close()


async def test_subscribe_event_ack_nack_modack_unsubscribe(gateway):
    sub = await authed_client(gateway)
    pub = await authed_client(gateway)
    try:
        assert await sub.request(
            {
                "op": "SUBSCRIBE",
                "topic": "proto.flow",
                "group": "g1",
                "corr": 1,
                "opts": {"from": "earliest", "max_inflight": 8, "ackTimeoutMs": 20000},
            }
        ) == {"op": "OK", "corr": 1}
        payload = {"order": "A-1", "$set": {"a.b": 1}}
        published = await pub.request(
            {
                "op": "PUBLISH",
                "topic": "proto.flow",
                "payload": payload,
                "corr": 2,
                "opts": {"key": "c-42", "headers": {"source": "web"}},
            }
        )
        event = await sub.event()
        assert event["topic"] == "proto.flow"
        assert event["group"] == "g1"
        body = event["event"]
        assert body["id"] == published["id"]
        assert body["payload"] == payload
        assert body["key"] == "c-42"
        assert body["headers"]["source"] == "web"
        assert body["headers"]["traceparent"].startswith("00-")
        assert "partition" not in body
        assert event["ctx"]["attempt"] == 1
        assert event["ctx"]["ack_deadline_ms"] > 0

        ref = {"topic": "proto.flow", "group": "g1", "id": body["id"]}
        assert await sub.request({"op": "MODACK", **ref, "extend_ms": 30000, "corr": 3}) == {
            "op": "OK",
            "corr": 3,
        }
        assert await sub.request({"op": "NACK", **ref, "reason": "later", "corr": 4}) == {
            "op": "OK",
            "corr": 4,
        }
        again = await sub.event()
        assert again["event"]["id"] == body["id"]
        assert again["ctx"]["attempt"] == 2
        assert await sub.request({"op": "ACK", **ref, "corr": 5}) == {"op": "OK", "corr": 5}
        acked_again = await sub.request({"op": "ACK", **ref, "corr": 6})
        assert acked_again["code"] == "unknown_delivery"
        assert await sub.request(
            {"op": "UNSUBSCRIBE", "topic": "proto.flow", "group": "g1", "corr": 7}
        ) == {"op": "OK", "corr": 7}
        gone = await sub.request(
            {"op": "UNSUBSCRIBE", "topic": "proto.flow", "group": "g1", "corr": 8}
        )
        assert gone["code"] == "not_subscribed"
    finally:
        await sub.close()
        await pub.close()


async def test_ack_without_corr_is_not_answered(gateway):
    sub = await authed_client(gateway)
    try:
        await sub.request({"op": "SUBSCRIBE", "topic": "proto.quiet", "group": "g", "corr": 1})
        await sub.request({"op": "PUBLISH", "topic": "proto.quiet", "payload": 1, "corr": 2})
        event = await sub.event()
        await sub.send(
            {"op": "ACK", "topic": "proto.quiet", "group": "g", "id": event["event"]["id"]}
        )
        # The next reply is the one to this PUBLISH, not to the ACK.
        reply = await sub.request(
            {"op": "PUBLISH", "topic": "proto.other", "payload": 1, "corr": 3}
        )
        assert reply["corr"] == 3
    finally:
        await sub.close()


async def test_disconnect_releases_in_flight_events_to_the_group_at_once(gateway):
    first = await authed_client(gateway)
    second = await authed_client(gateway)
    try:
        opts = {"ackTimeoutMs": 60000}
        for client in (first, second):
            await client.request(
                {
                    "op": "SUBSCRIBE",
                    "topic": "proto.release",
                    "group": "shared",
                    "opts": opts,
                    "corr": 1,
                }
            )
        ids = set()
        for n in range(6):
            reply = await first.request(
                {"op": "PUBLISH", "topic": "proto.release", "payload": n, "corr": n}
            )
            ids.add(reply["id"])
        await asyncio.sleep(0.5)
        held = {e["event"]["id"] for e in first.events}
        await first.close()
        # The lease is 60 s: only release-on-disconnect brings them here quickly.
        seen: set[str] = set()
        while not ids <= seen:
            event = await second.event(wait_s=5)
            seen.add(event["event"]["id"])
            await second.send(
                {
                    "op": "ACK",
                    "topic": "proto.release",
                    "group": "shared",
                    "id": event["event"]["id"],
                }
            )
        assert held <= seen
    finally:
        await second.close()


async def test_subscribe_twice_is_refused(gateway):
    client = await authed_client(gateway)
    try:
        frame = {"op": "SUBSCRIBE", "topic": "proto.twice", "group": "g", "corr": 1}
        assert (await client.request(frame))["op"] == "OK"
        assert (await client.request(frame))["code"] == "bad_frame"
    finally:
        await client.close()


async def test_frame_errors_leave_the_connection_usable(gateway):
    client = await authed_client(gateway)
    cases = [
        ("{not json", "bad_json"),
        ("[1, 2]", "bad_frame"),
        (json.dumps({"topic": "x", "corr": 9}), "missing_type"),
        (json.dumps({"op": "FLY", "corr": 9}), "unknown_type"),
        (json.dumps({"op": "PUBLISH", "payload": 1, "corr": 9}), "missing_field"),
        (json.dumps({"op": "PUBLISH", "topic": 5, "payload": 1, "corr": 9}), "bad_field"),
        (json.dumps({"op": "PUBLISH", "topic": "a..b", "payload": 1, "corr": 9}), "bad_name"),
        (
            json.dumps({"op": "PUBLISH", "topic": "a", "payload": "x" * 600_000, "corr": 9}),
            "payload_too_large",
        ),
        (
            json.dumps(
                {
                    "op": "PUBLISH",
                    "topic": "a",
                    "payload": 1,
                    "corr": 9,
                    "opts": {"headers": {f"h{i}": "v" for i in range(65)}},
                }
            ),
            "headers_too_large",
        ),
        ("x" * (1024 * 1024 + 10), "frame_too_large"),
        (
            json.dumps({"op": "ACK", "topic": "proto.none", "group": "g", "id": "i", "corr": 9}),
            "not_subscribed",
        ),
    ]
    try:
        for text, code in cases:
            reply = await client.request(text)
            assert (reply["op"], reply["code"]) == ("ERR", code), reply
        ok = await client.request(
            {"op": "PUBLISH", "topic": "proto.after", "payload": 1, "corr": 1}
        )
        assert ok["op"] == "OK"
    finally:
        await client.close()


async def test_forbidden_publish_subscribe_and_policy_groups(gateway):
    token = make_token(
        scopes=["publish:allowed.*"],
        policy={
            "rules": [
                {"effect": "deny", "action": "publish", "topics": ["allowed.secret"]},
                {
                    "effect": "allow",
                    "action": "subscribe",
                    "topics": ["watch.**"],
                    "groups": ["mine"],
                },
            ]
        },
    )
    client = await GatewayClient.open(gateway.url)
    try:
        assert (await client.auth(token))["op"] == "OK"
        ok = await client.request({"op": "PUBLISH", "topic": "allowed.x", "payload": 1, "corr": 1})
        assert ok["op"] == "OK"
        for topic in ("allowed.secret", "allowed.x.y", "other"):
            reply = await client.request({"op": "PUBLISH", "topic": topic, "payload": 1, "corr": 2})
            assert reply["code"] == "forbidden", topic
        good = await client.request(
            {"op": "SUBSCRIBE", "topic": "watch.a.b", "group": "mine", "corr": 3}
        )
        assert good["op"] == "OK"
        bad = await client.request(
            {"op": "SUBSCRIBE", "topic": "watch.a", "group": "theirs", "corr": 4}
        )
        assert bad["code"] == "forbidden"
    finally:
        await client.close()


async def test_token_expiring_while_connected_stops_operations_until_reauth(gateway):
    client = await GatewayClient.open(gateway.url)
    try:
        # The gateway allows 5 s of leeway on exp.
        assert (await client.auth(make_token(scopes=ALL_SCOPES, exp_in=-3)))["op"] == "OK"
        await client.request({"op": "SUBSCRIBE", "topic": "proto.exp", "group": "g", "corr": 1})
        notice = await client.reply(wait_s=8)
        assert notice["code"] == "token_expired"
        refused = await client.request(
            {"op": "PUBLISH", "topic": "proto.exp", "payload": 1, "corr": 2}
        )
        assert refused == {**refused, "op": "ERR", "code": "token_expired", "corr": 2}
        assert (await client.auth(make_token(scopes=ALL_SCOPES)))["op"] == "OK"
        ok = await client.request({"op": "PUBLISH", "topic": "proto.exp", "payload": 1, "corr": 3})
        assert ok["op"] == "OK"
        # Subscriptions ended with the old token.
        gone = await client.request(
            {"op": "UNSUBSCRIBE", "topic": "proto.exp", "group": "g", "corr": 4}
        )
        assert gone["code"] == "not_subscribed"
    finally:
        await client.close()


def test_http_publish(gateway, broker):
    token = make_token(scopes=["publish:http.*"])
    auth = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    status, body = gateway.post(
        "/publish/http.orders?key=k9&id=http-1",
        b'{"total": {"$gt": 1}}',
        {**auth, "X-Promethean-Header-Region": "eu"},
    )
    assert (status, body) == (200, {"id": "http-1"})
    status, latest = broker.get("/latest-by-key?topic=http.orders&key=k9")
    assert status == 200
    assert "http-1" in json.dumps(latest)
    assert "region" in json.dumps(latest)
    assert gateway.post("/publish/http.orders", b"{}", {})[0] == 401
    assert gateway.post("/publish/http.orders", b"{}", {"Authorization": "Bearer nope"})[0] == 401
    status, body = gateway.post("/publish/other", b"{}", auth)
    assert (status, body["error"]["code"]) == (403, "forbidden")
    status, body = gateway.post("/publish/http.bad", b"{nope", auth)
    assert (status, body["error"]["code"]) == (400, "bad_json")
    status, body = gateway.post("/publish/http..bad", b"{}", auth)
    assert (status, body["error"]["code"]) == (400, "bad_name")


def test_health_and_metrics(gateway):
    assert gateway.get("/healthz/live")[0] == 200
    status, body = gateway.get("/healthz/ready")
    assert status == 200
    assert body["ready"] is True
    status, text = gateway.get("/metrics")
    assert status == 200
    for name in (
        "promethean_gateway_connections",
        "promethean_gateway_frames_total",
        "promethean_gateway_relay_latency_seconds",
    ):
        assert name in text
