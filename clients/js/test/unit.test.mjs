// The pure parts, no I/O: backoff, token expiry, frame decoding, ids, start positions.
import assert from "node:assert/strict";
import { test } from "node:test";

import { backoffDelay, DEFAULT_BACKOFF } from "../dist/backoff.js";
import { BusError, fromErrFrame, protocolCode } from "../dist/errors.js";
import { decodeServerFrame } from "../dist/frames.js";
import { httpBase } from "../dist/http.js";
import { randomId } from "../dist/ids.js";
import { AsyncQueue } from "../dist/queue.js";
import { fromSpec } from "../dist/subscription.js";
import { jwtExpiresAt, refreshDelay } from "../dist/token.js";
import { makeTokenOffline } from "./support/jwt.mjs";

test("backoff doubles per attempt up to the max, jittered within [cap/2, cap]", () => {
  const options = { initialMs: 100, maxMs: 1_000 };
  assert.equal(backoffDelay(1, options, () => 0), 50);
  assert.equal(backoffDelay(1, options, () => 1), 100);
  assert.equal(backoffDelay(3, options, () => 1), 400);
  assert.equal(backoffDelay(30, options, () => 1), 1_000);
  assert.equal(backoffDelay(30, options, () => 0), 500);
  const delays = new Set(Array.from({ length: 50 }, () => backoffDelay(4, DEFAULT_BACKOFF)));
  assert.ok(delays.size > 10, "jitter spreads the delays");
  for (const delay of delays) assert.ok(delay >= 400 && delay <= 800, `${delay}`);
});

test("a JWT's exp is read in ms; a non-JWT has none", () => {
  const token = makeTokenOffline({ exp: 1_700_000_000 });
  assert.equal(jwtExpiresAt(token), 1_700_000_000_000);
  assert.equal(jwtExpiresAt("dev-token"), undefined);
  assert.equal(jwtExpiresAt("a.!!!.c"), undefined);
  assert.equal(jwtExpiresAt(makeTokenOffline({ sub: "no-exp" })), undefined);
});

test("refresh happens refreshBeforeMs before expiry, but not before half the remaining life", () => {
  assert.equal(refreshDelay(100_000, 0, 30_000), 70_000);
  assert.equal(refreshDelay(4_000, 0, 30_000), 2_000);
  assert.equal(refreshDelay(0, 5_000, 30_000), 0);
});

test("frames from the gateway decode, and malformed ones are bad_reply", () => {
  assert.deepEqual(decodeServerFrame('{"op":"OK","corr":"c1","id":"e"}'), { op: "OK", corr: "c1", id: "e" });
  const event = decodeServerFrame(
    '{"op":"EVENT","topic":"t","group":"g","event":{"id":"e","ts":1,"topic":"t","payload":null},"ctx":{"attempt":2,"ack_deadline_ms":null}}',
  );
  assert.equal(event.ctx.attempt, 2);
  for (const bad of ["not json", "[1]", '{"op":"NOPE"}', '{"op":"EVENT","topic":"t"}', '{"op":"ERR"}']) {
    assert.throws(() => decodeServerFrame(bad), (error) => error instanceof BusError && error.code === "bad_reply");
  }
});

test("ERR codes map to typed errors; an unknown code reads as internal", () => {
  const error = fromErrFrame("overloaded", "busy", 250);
  assert.equal(error.code, "overloaded");
  assert.equal(error.retryAfterMs, 250);
  assert.equal(error.retryable, true);
  assert.equal(fromErrFrame("forbidden", "no").retryable, false);
  assert.equal(protocolCode("brand_new_code"), "internal");
});

test("random ids are unique, short enough and sortable by time", () => {
  const ids = new Set(Array.from({ length: 1_000 }, randomId));
  assert.equal(ids.size, 1_000);
  for (const id of ids) assert.ok(id.length <= 256 && /^[0-9a-z]+-[0-9a-f]{32}$/.test(id), id);
});

test("start positions become the protocol's {kind, value}", () => {
  assert.deepEqual(fromSpec("earliest"), { kind: "earliest" });
  assert.deepEqual(fromSpec({ offset: 5 }), { kind: "offset", value: 5 });
  assert.deepEqual(fromSpec({ timestamp: new Date(1_000) }), { kind: "timestamp", value: 1_000 });
});

test("the HTTP base is derived from a WebSocket URL", () => {
  assert.equal(httpBase("ws://127.0.0.1:8090/ws"), "http://127.0.0.1:8090");
  assert.equal(httpBase("wss://bus.example.com/ws"), "https://bus.example.com");
  assert.equal(httpBase("http://gw:8090/"), "http://gw:8090");
});

test("the queue drops what matches", () => {
  const queue = new AsyncQueue(5);
  for (const item of [1, 2, 3, 4]) queue.push(item);
  assert.equal(queue.removeWhere((item) => item % 2 === 0), 2);
  assert.deepEqual(queue.end(), [1, 3]);
});

test("the iterator queue is bounded and hands items to waiting readers first", async () => {
  const queue = new AsyncQueue(2);
  const waiting = queue.next();
  assert.equal(queue.push("a"), true);
  assert.deepEqual(await waiting, { value: "a", done: false });
  assert.equal(queue.push("b"), true);
  assert.equal(queue.push("c"), true);
  assert.equal(queue.push("d"), false, "full");
  assert.equal(queue.replace((item) => item === "b", "b2"), true);
  assert.equal(queue.removeWhere((item) => item === "x"), 0);
  assert.deepEqual(queue.end(), ["b2", "c"]);
  assert.deepEqual(await queue.next(), { value: undefined, done: true });
});

test("an iterator subscription drops what a lost connection delivered when a new one opens", async () => {
  const { Subscription } = await import("../dist/subscription.js");
  const fakeSession = (id) => ({ id, open: true, request: async () => ({ op: "OK" }), send: () => true });
  let current = fakeSession(1);
  const host = {
    current: () => current,
    requestTimeoutMs: 1_000,
    reauthenticate: () => undefined,
    forget: () => undefined,
    reportError: () => undefined,
  };
  const sub = new Subscription("t", "g", host, undefined, { maxInflight: 4 });
  const event = (id) => ({
    op: "EVENT",
    topic: "t",
    group: "g",
    event: { id, ts: 1, topic: "t", payload: id },
    ctx: { attempt: 1, ack_deadline_ms: null },
  });
  sub.attach(current);
  sub.deliver(event("a"), current);
  sub.deliver(event("b"), current);
  current = fakeSession(2);
  sub.attach(current);
  sub.deliver(event("c"), current);
  const iterator = sub[Symbol.asyncIterator]();
  const { value } = await iterator.next();
  assert.equal(value.id, "c", "a delivery of the lost connection was still queued");
  await value.ack();
  // Settling a delivery of the lost connection is refused locally.
  await assert.rejects(sub.settle({ id: "a", sessionId: 1 }, { op: "ACK" }, {}), { code: "unknown_delivery" });
});
