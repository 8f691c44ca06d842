// Publish, subscribe, ack / nack / modack, redelivery, errors and drain
// against a real gateway and broker.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";

import { WebSocket } from "ws";

import { BusError, ClosedError, connect, httpPublish } from "../dist/index.js";
import { Collector, eventually, groupLag, makeToken, startGateway, unique, within } from "./support/stack.mjs";

const WAIT_MS = 15_000;
let gateway;
let client;

before(async () => {
  gateway = await startGateway();
  client = await connect(gateway.url, { token: makeToken() });
});

after(async () => {
  await client?.close();
  await gateway?.kill();
});

describe("publish and subscribe", () => {
  test("a handler receives what was published, and its ack commits the group", async () => {
    const topic = unique("js.pub");
    const received = new Collector();
    const sub = await client.subscribe(topic, "app", (message) => received.push(message), { from: "earliest" });
    const published = await client.publish(topic, { total: 42 }, { key: "c-1", headers: { source: "node" } });
    assert.match(published.id, /^[0-9a-z]+-[0-9a-f]{32}$/);
    const [message] = await received.until((items) => items.length >= 1, WAIT_MS, "the event");
    assert.equal(message.id, published.id);
    assert.deepEqual(message.payload, { total: 42 });
    assert.equal(message.key, "c-1");
    assert.equal(message.headers.source, "node");
    assert.ok(message.headers.traceparent, "the gateway adds its traceparent");
    assert.equal(message.attempt, 1);
    assert.equal(message.topic, topic);
    assert.equal(message.group, "app");
    await eventually(async () => (await groupLag(topic, "app")) === 0, WAIT_MS, "the ack committed");
    await sub.unsubscribe();
    assert.equal(sub.active, false);
  });

  test("publishing the same id twice stores the event once", async () => {
    const topic = unique("js.idem");
    const first = await client.publish(topic, 1, { id: "same-id" });
    const second = await client.publish(topic, 2, { id: "same-id" });
    assert.equal(first.id, "same-id");
    assert.equal(second.id, "same-id");
    const stream = await client.subscribe(topic, "g", { from: "earliest" });
    const iterator = stream[Symbol.asyncIterator]();
    const { value } = await within(iterator.next(), WAIT_MS, "the event");
    assert.equal(value.payload, 1);
    await value.ack({});
    await stream.unsubscribe();
    const lag = await eventually(async () => (await groupLag(topic, "g")) === 0, WAIT_MS, "one event, acked");
    assert.ok(lag);
  });

  test("a handler that rejects nacks: redelivered with attempt 2", async () => {
    const topic = unique("js.nack");
    const attempts = new Collector();
    await client.subscribe(
      topic,
      "app",
      async (message) => {
        attempts.push(message);
        if (message.attempt === 1) throw new Error("inventory service timed out");
      },
      { from: "earliest" },
    );
    const { id } = await client.publish(topic, { n: 1 });
    const [first, second] = await attempts.until((items) => items.length >= 2, WAIT_MS, "the redelivery");
    assert.equal(first.id, id);
    assert.equal(second.id, id);
    assert.deepEqual([first.attempt, second.attempt], [1, 2]);
    await eventually(async () => (await groupLag(topic, "app")) === 0, WAIT_MS, "attempt 2 acked");
  });

  test("an unacked delivery comes back with attempt 2 after its ack timeout", async () => {
    const topic = unique("js.timeout");
    const stream = await client.subscribe(topic, "g", { from: "earliest", ackTimeoutMs: 300 });
    const { id } = await client.publish(topic, "x");
    const iterator = stream[Symbol.asyncIterator]();
    const first = (await within(iterator.next(), WAIT_MS, "attempt 1")).value;
    assert.equal(first.id, id);
    assert.equal(first.attempt, 1);
    assert.ok(first.ackDeadlineMs > Date.now() - 1000);
    const second = (await within(iterator.next(), WAIT_MS, "attempt 2")).value;
    assert.equal(second.id, id);
    assert.equal(second.attempt, 2);
    await second.ack();
    await eventually(async () => (await groupLag(topic, "g")) === 0, WAIT_MS, "attempt 2 acked");
    await stream.unsubscribe();
  });

  test("iterator: nack redelivers, modack(0) redelivers at once, modack(ms) holds it, ack settles", async () => {
    const topic = unique("js.iter");
    const stream = await client.subscribe(topic, "g", { from: "earliest", ackTimeoutMs: 400 });
    const { id } = await client.publish(topic, { step: "nack" });
    const next = async (what) => (await within(stream[Symbol.asyncIterator]().next(), WAIT_MS, what)).value;
    const first = await next("attempt 1");
    await first.nack("try again");
    assert.equal(first.settled, true);
    const second = await next("attempt 2 after nack");
    assert.deepEqual([second.id, second.attempt], [id, 2]);
    await second.modack(0);
    const third = await next("attempt 3 after modack(0)");
    assert.equal(third.attempt, 3);
    // Extended well past the 400 ms ack timeout: nothing comes back meanwhile.
    await third.modack(60_000);
    const early = await Promise.race([
      next("nothing"),
      new Promise((resolve) => setTimeout(() => resolve("none"), 1_500)),
    ]);
    assert.equal(early, "none", "a modacked delivery was redelivered before its new deadline");
    await third.ack();
    await eventually(async () => (await groupLag(topic, "g")) === 0, WAIT_MS, "attempt 3 acked");
    // The pending next() from the race is answered by the end of the stream.
    await stream.unsubscribe();
  });

  test("for await reads messages; breaking out unsubscribes", async () => {
    const topic = unique("js.forawait");
    const stream = await client.subscribe(topic, "g", { from: "earliest", confirmAcks: true });
    const ids = [];
    for (let i = 0; i < 3; i++) ids.push((await client.publish(topic, { i })).id);
    const seen = [];
    for await (const message of stream) {
      await message.ack();
      seen.push(message.id);
      if (seen.length === 3) break;
    }
    assert.deepEqual(new Set(seen), new Set(ids));
    assert.equal(stream.active, false);
  });

  test("httpPublish reaches subscribers through the same gateway", async () => {
    const topic = unique("js.http");
    const received = new Collector();
    await client.subscribe(topic, "g", (message) => received.push(message), { from: "earliest" });
    const { id } = await httpPublish(gateway.httpUrl, makeToken(), topic, { via: "http" }, {
      key: "k",
      headers: { Source: "http" },
    });
    const [message] = await received.until((items) => items.length >= 1, WAIT_MS, "the HTTP event");
    assert.equal(message.id, id);
    assert.deepEqual(message.payload, { via: "http" });
    assert.equal(message.headers.source, "http");
    const viaWsUrl = await httpPublish(gateway.url, () => makeToken(), topic, 2, { id: "http-2" });
    assert.equal(viaWsUrl.id, "http-2");
  });
});

describe("errors", () => {
  test("publishing to a topic the token does not allow is a BusError with code forbidden", async () => {
    const limited = await connect(gateway.url, { token: makeToken({ scopes: ["publish:js.allowed.*"] }) });
    try {
      await assert.rejects(limited.publish("js.other.topic", 1), (error) => {
        assert.ok(error instanceof BusError);
        assert.equal(error.code, "forbidden");
        assert.equal(error.retryable, false);
        return true;
      });
      await assert.rejects(limited.subscribe("js.allowed.x", "g", () => undefined), { code: "forbidden" });
      const ok = await limited.publish("js.allowed.x", 1);
      assert.ok(ok.id);
      await assert.rejects(
        httpPublish(gateway.httpUrl, makeToken({ scopes: ["publish:js.allowed.*"] }), "js.other.topic", 1),
        { code: "forbidden" },
      );
    } finally {
      await limited.close();
    }
  });

  test("a bad topic name is bad_name; a bad token fails connect with unauthorized", async () => {
    await assert.rejects(client.publish("bad..name", 1), { code: "bad_name" });
    await assert.rejects(connect(gateway.url, { token: makeToken({ secret: "wrong-secret-0123456789abcdef0123" }) }), {
      name: "BusError",
      code: "unauthorized",
    });
  });

  test("bad arguments are TypeError / RangeError, and the client stays usable", async () => {
    await assert.rejects(connect(gateway.httpUrl, { token: makeToken() }), TypeError);
    await assert.rejects(connect(gateway.url, {}), TypeError);
    await assert.rejects(connect(gateway.url, { token: makeToken(), maxPendingPublishes: 0 }), RangeError);
    await assert.rejects(client.publish(42, 1), TypeError);
    await assert.rejects(client.publish(unique("js.bigint"), { n: 1n }), TypeError);
    await assert.rejects(client.subscribe("t", () => undefined), TypeError);
    const topic = unique("js.twice");
    await client.subscribe(topic, "g", () => undefined);
    await assert.rejects(client.subscribe(topic, "g", () => undefined), { code: "bad_frame" });
    await assert.rejects(client.publish(topic, "x".repeat(600 * 1024)), { code: "payload_too_large" });
    assert.ok((await client.publish(topic, "still fine")).id);
  });

  test("an aborted signal rejects publish, subscribe and connect", async () => {
    const aborted = AbortSignal.abort();
    await assert.rejects(client.publish(unique("js.abort"), 1, { signal: aborted }), { name: "AbortError" });
    await assert.rejects(client.subscribe(unique("js.abort"), "g", { signal: aborted }), { name: "AbortError" });
    await assert.rejects(connect(gateway.url, { token: makeToken(), signal: aborted }), { name: "AbortError" });
    const stream = await client.subscribe(unique("js.abort.settle"), "g", { from: "earliest" });
    const { id } = await client.publish(stream.topic, 1);
    const { value: message } = await within(stream[Symbol.asyncIterator]().next(), WAIT_MS, "the event");
    assert.equal(message.id, id);
    await assert.rejects(message.modack(1_000, { signal: aborted }), { name: "AbortError" });
    await assert.rejects(stream.unsubscribe({ signal: aborted }), { name: "AbortError" });
    const reason = new Error("stop now");
    await assert.rejects(client.publish(unique("js.abort"), 1, { signal: AbortSignal.abort(reason) }), reason);
  });
});

describe("lifecycle", () => {
  test("a WebSocket class given in the options is used", async () => {
    const opened = [];
    class Counting extends WebSocket {
      constructor(url) {
        super(url, { perMessageDeflate: false });
        opened.push(url);
      }
    }
    const own = await connect(gateway.url, { token: makeToken(), WebSocket: Counting });
    assert.ok((await own.publish(unique("js.ctor"), 1)).id);
    await own.close();
    assert.deepEqual(opened, [gateway.url]);
  });

  test("an aborted close() stops at once, without waiting for a stuck handler", async () => {
    const own = await connect(gateway.url, { token: makeToken() });
    const topic = unique("js.abortclose");
    await own.subscribe(topic, "g", () => new Promise(() => undefined), { from: "earliest" }); // never settles
    await own.publish(topic, 1);
    const closing = own.close({ signal: AbortSignal.timeout(200) });
    await assert.rejects(closing, { name: "TimeoutError" });
    assert.equal(own.state, "closed");
    await assert.rejects(own.publish(topic, 2), ClosedError);
  });

  test("state events, bounded pending publishes, and close() drains", async () => {
    const states = [];
    const own = await connect(gateway.url, { token: makeToken(), maxPendingPublishes: 4 });
    own.on("state", (change) => states.push(change.state));
    assert.equal(own.state, "open");
    const topic = unique("js.drain");
    const handled = new Collector();
    await own.subscribe(
      topic,
      "g",
      async (message) => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        handled.push(message.id);
      },
      { from: "earliest" },
    );
    let peak = 0;
    const publishes = [];
    for (let i = 0; i < 40; i++) {
      publishes.push(own.publish(topic, { i }));
      peak = Math.max(peak, own.pendingPublishes);
    }
    assert.ok(peak <= 4, `pending publishes reached ${peak}`);
    const ids = (await Promise.all(publishes)).map((r) => r.id);
    await handled.until((items) => items.length >= 10, WAIT_MS, "some handled");
    // Publishes called before close() still go out, also those waiting for a slot.
    const late = Array.from({ length: 12 }, (_, i) => own.publish(topic, { late: i }));
    const closing = own.close();
    assert.equal(own.state, "closing");
    await assert.rejects(own.publish(topic, "after close()"), ClosedError);
    ids.push(...(await Promise.all(late)).map((r) => r.id));
    await closing;
    assert.deepEqual(states.slice(-2), ["closing", "closed"]);
    assert.equal(own.state, "closed");
    await assert.rejects(own.publish(topic, 1), (error) => error instanceof ClosedError && error.code === "closed");
    // Every handler that ran had its ack reach the gateway before the close:
    // what is not acked now was never handled.
    const expected = ids.length - handled.items.length;
    await eventually(async () => (await groupLag(topic, "g")) === expected, WAIT_MS, `lag ${expected}`);
  });
});
