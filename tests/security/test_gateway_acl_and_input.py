"""Scopes that must not match, acks of foreign ids, hostile names and frames."""

from __future__ import annotations

import json

from tests.integration.gateway.support import GatewayClient, broker_event_count
from tests.security.support import assert_still_serving, hs_token


async def authed(gateway, scopes):
    client = await GatewayClient.open(gateway.url)
    assert (await client.auth(hs_token(scopes=scopes)))["op"] == "OK"
    return client


async def test_scopes_that_must_not_match(gateway, broker):
    before = broker_event_count(broker)
    client = await authed(gateway, ["publish:a.*", "subscribe:a.**"])
    try:
        for topic in ("a.b.c", "a", "ab.c", "b.a"):
            reply = await client.request({"op": "PUBLISH", "topic": topic, "payload": 1, "corr": 1})
            assert reply["code"] == "forbidden", topic
        for topic in ("ab.c", "b.a", "ab"):
            reply = await client.request(
                {"op": "SUBSCRIBE", "topic": topic, "group": "g", "corr": 2}
            )
            assert reply["code"] == "forbidden", topic
        assert (
            await client.request({"op": "SUBSCRIBE", "topic": "a.b.c", "group": "g", "corr": 3})
        )["op"] == "OK"
    finally:
        await client.close()
    assert broker_event_count(broker) == before


async def test_ack_of_an_id_never_delivered(gateway, broker):
    client = await authed(gateway, ["subscribe:sec.**", "publish:sec.**"])
    other = await authed(gateway, ["subscribe:sec.**", "publish:sec.**"])
    try:
        await client.request({"op": "SUBSCRIBE", "topic": "sec.mine", "group": "g", "corr": 1})
        await other.request({"op": "SUBSCRIBE", "topic": "sec.acks", "group": "h", "corr": 1})
        published = await other.request(
            {"op": "PUBLISH", "topic": "sec.acks", "payload": 1, "corr": 2}
        )
        delivered = await other.event()
        assert delivered["event"]["id"] == published["id"]
        for op in ("ACK", "NACK"):
            reply = await client.request(
                {"op": op, "topic": "sec.mine", "group": "g", "id": "never-sent", "corr": 3}
            )
            assert reply["code"] == "unknown_delivery"
        # An id delivered to another connection is not this one's to ack.
        stolen = await client.request(
            {"op": "ACK", "topic": "sec.acks", "group": "h", "id": published["id"], "corr": 4}
        )
        assert stolen["code"] == "not_subscribed"
        reply = await client.request(
            {
                "op": "MODACK",
                "topic": "sec.mine",
                "group": "g",
                "id": published["id"],
                "extend_ms": 0,
                "corr": 5,
            }
        )
        assert reply["code"] == "unknown_delivery", reply
    finally:
        await client.close()
        await other.close()


HOSTILE_NAMES = ["$where", '{"$gt":1}', "a..b", "a\x00b", "x" * 201, ".a", "-a", "", "a b", "ä"]


async def test_hostile_topic_and_group_names(gateway, broker):
    before = broker_event_count(broker)
    client = await authed(gateway, ["publish:**", "subscribe:**"])
    try:
        for name in HOSTILE_NAMES:
            reply = await client.request({"op": "PUBLISH", "topic": name, "payload": 1, "corr": 1})
            assert reply["code"] == "bad_name", (name, reply)
            reply = await client.request(
                {"op": "SUBSCRIBE", "topic": "ok", "group": name, "corr": 2}
            )
            assert reply["code"] == "bad_name", (name, reply)
        status, body = gateway.post(
            "/publish/%24where",
            b"1",
            {"Authorization": f"Bearer {hs_token(scopes=['publish:**'])}"},
        )
        assert (status, body["error"]["code"]) == (400, "bad_name")
    finally:
        await client.close()
    assert broker_event_count(broker) == before


async def test_ten_mib_frame_closes_the_socket(gateway, broker):
    before = broker_event_count(broker)
    huge = json.dumps({"op": "PUBLISH", "topic": "sec.big", "payload": "x" * (10 * 1024 * 1024)})
    for authenticated in (False, True):
        client = await GatewayClient.open(gateway.url)
        try:
            if authenticated:
                assert (await client.auth(hs_token(scopes=["publish:**"])))["op"] == "OK"
            cut_off = False
            try:
                await client.send(huge)
            except ConnectionError:
                cut_off = True  # the gateway closed the socket while the frame was still going
            code = await client.closed_with()
            assert code == 1009 or (cut_off and code in (None, 1006, 1009)), code
        finally:
            await client.close()
    await assert_still_serving(gateway)
    assert broker_event_count(broker) == before


async def test_malformed_json_after_auth_keeps_the_connection(gateway, broker):
    client = await authed(gateway, ["publish:**"])
    try:
        for text in ("{", '"unterminated', '{"op": "PUBLISH", }', "\x00", "nul\x00l"):
            reply = await client.request(text)
            assert reply["code"] == "bad_json", (text, reply)
        reply = await client.request(b"\xff\xfe{}")
        assert reply["code"] == "bad_json"
    finally:
        await client.close()
