// What must survive: token expiry (refreshed before it, re-AUTH on the open
// connection), a gateway restarted mid-stream (publishes re-sent with their
// ids, the subscription resumed, nothing acknowledged lost) and `overloaded`
// (retried after retry_after_ms).
import assert from "node:assert/strict";
import { after, describe, test } from "node:test";

import { connect } from "../dist/index.js";
import { jwtExpiresAt } from "../dist/token.js";
import {
  Collector,
  Gateway,
  eventually,
  groupLag,
  makeToken,
  startGateway,
  storedEvents,
  unique,
  within,
} from "./support/stack.mjs";

const WAIT_MS = 30_000;
const gateways = [];
const clients = [];

async function gatewayWith(env = {}) {
  const gateway = await startGateway(env);
  gateways.push(gateway);
  return gateway;
}

async function clientOf(url, options) {
  const client = await connect(url, options);
  clients.push(client);
  return client;
}

after(async () => {
  await Promise.allSettled(clients.map((client) => client.close({ timeoutMs: 2_000 })));
  await Promise.allSettled(gateways.map((gateway) => gateway.kill()));
});

// No leeway on `exp` (the gateway's default is 5 s), so tokens expire when they say.
const STRICT_EXPIRY = { PROMETHEAN_JWT_LEEWAY_S: "0" };

describe("tokens", () => {
  test("getToken is called again before the token expires and the client re-AUTHs on the open connection", async () => {
    const gateway = await gatewayWith(STRICT_EXPIRY);
    const issued = [];
    const errors = [];
    const client = await clientOf(gateway.url, {
      getToken: () => {
        issued.push(makeToken({ expIn: 4 }));
        return issued.at(-1);
      },
      refreshBeforeMs: 2_000,
    });
    const firstExpiresAt = jwtExpiresAt(issued[0]);
    client.on("error", (error) => errors.push(error));
    const topic = unique("js.refresh");
    const received = new Collector();
    await client.subscribe(topic, "g", (message) => received.push(message.id), { from: "earliest" });
    // Past the first token's expiry, kept alive by refreshes on the same connection.
    await eventually(
      async () => client.stats.tokenRefreshes >= 2 && Date.now() > firstExpiresAt + 500,
      WAIT_MS,
      "two token refreshes and the first token expired",
    );
    assert.ok(issued.length >= 3, `getToken called ${issued.length} times`);
    const { id } = await client.publish(topic, "after expiry of the first token");
    await received.until((ids) => ids.includes(id), WAIT_MS, "the subscription still delivers");
    assert.equal(client.stats.reconnects, 0, "refreshing must not need a reconnect");
    assert.deepEqual(errors, []);
    assert.equal(client.state, "open");
  });

  test("when the token expires anyway (a slow getToken), the client reconnects with a fresh one and resubscribes", async () => {
    const gateway = await gatewayWith(STRICT_EXPIRY);
    let calls = 0;
    const client = await clientOf(gateway.url, {
      getToken: async () => {
        calls++;
        if (calls === 1) return makeToken({ expIn: 2 });
        if (calls === 2) {
          // The refresh before expiry answers only after the token expired.
          await new Promise((resolve) => setTimeout(resolve, 3_500));
        }
        return makeToken();
      },
      refreshBeforeMs: 1_000,
      backoff: { initialMs: 50, maxMs: 300 },
    });
    const states = [];
    client.on("state", (change) => states.push(change.state));
    const topic = unique("js.expired");
    const received = new Collector();
    await client.subscribe(topic, "g", (message) => received.push(message.id), { from: "earliest" });
    await eventually(async () => client.stats.reconnects >= 1, WAIT_MS, "a reconnect after token_expired");
    assert.ok(states.includes("connecting"), `states: ${states}`);
    const { id } = await client.publish(topic, "after the reconnect");
    await received.until((ids) => ids.includes(id), WAIT_MS, "the resubscribed subscription delivers");
    assert.ok(calls >= 3, `getToken called ${calls} times`);
    assert.equal(client.state, "open");
  });

  test("a fixed token that expires closes the client with token_expired", async () => {
    const gateway = await gatewayWith(STRICT_EXPIRY);
    const client = await clientOf(gateway.url, { token: makeToken({ expIn: 2 }) });
    const closed = new Promise((resolve) => client.on("state", (change) => change.state === "closed" && resolve(change)));
    const errors = new Collector();
    client.on("error", (error) => errors.push(error));
    const change = await within(closed, WAIT_MS, "the client closes");
    assert.equal(change.error.code, "token_expired");
    assert.equal(errors.items[0].code, "token_expired");
    await assert.rejects(client.publish("js.after", 1), { code: "closed" });
  });
});

describe("gateway restart", () => {
  test("killed and restarted mid-stream: every confirmed publish is delivered and the subscription resumes", async () => {
    const gateway = await gatewayWith();
    const topic = unique("js.restart");
    let tokens = 0;
    const subscriber = await clientOf(gateway.url, {
      getToken: () => {
        tokens++;
        return makeToken();
      },
      backoff: { initialMs: 50, maxMs: 500 },
    });
    const publisher = await clientOf(gateway.url, { token: makeToken(), backoff: { initialMs: 50, maxMs: 500 } });
    const states = [];
    subscriber.on("state", (change) => states.push(change.state));
    const received = new Collector();
    await subscriber.subscribe(topic, "restart", (message) => received.push(message.id), {
      from: "earliest",
      maxInflight: 32,
    });

    const total = 300;
    const confirmed = [];
    let killed;
    const publishing = (async () => {
      const inflight = new Set();
      for (let i = 0; i < total; i++) {
        const publish = publisher.publish(topic, { i }).then((result) => confirmed.push(result.id));
        inflight.add(publish);
        void publish.finally(() => inflight.delete(publish));
        if (inflight.size >= 16) await Promise.race(inflight);
        if (i === 100) killed = gateway.kill().then(() => gateway.start());
      }
      await Promise.all(inflight);
    })();
    await within(publishing, 60_000, "all publishes confirmed");
    await within(killed, WAIT_MS, "the gateway restarted");
    assert.equal(confirmed.length, total);
    await received.until(
      (ids) => {
        const seen = new Set(ids);
        return confirmed.every((id) => seen.has(id));
      },
      WAIT_MS,
      "every confirmed publish delivered",
    );
    await eventually(async () => (await groupLag(topic, "restart")) === 0, WAIT_MS, "everything acked");
    assert.ok(subscriber.stats.reconnects >= 1);
    assert.ok(publisher.stats.reconnects >= 1);
    assert.ok(publisher.stats.publishesResent > 0, "no publish was in flight at the kill");
    assert.ok(tokens >= 2, "getToken is called on the reconnect");
    assert.ok(states.includes("connecting") && states.at(-1) === "open", `states: ${states}`);
    // A new event after the restart reaches the resumed subscription.
    const { id } = await publisher.publish(topic, "after");
    await received.until((ids) => ids.includes(id), WAIT_MS, "the resumed subscription delivers");
    // Re-sent publishes kept their ids: the log holds each event once.
    assert.equal(new Set(received.items).size, total + 1);
    assert.equal(await storedEvents(topic), total + 1);
  });

  test("an iterator drops deliveries of the lost connection; their redeliveries can be acked", async () => {
    const gateway = await gatewayWith();
    const client = await clientOf(gateway.url, { token: makeToken(), backoff: { initialMs: 50, maxMs: 300 } });
    const topic = unique("js.iter.restart");
    const stream = await client.subscribe(topic, "g", { from: "earliest", confirmAcks: true });
    for (let i = 0; i < 3; i++) await client.publish(topic, { i });
    await eventually(async () => stream.delivered >= 3, WAIT_MS, "three deliveries buffered, not read");
    const reopened = new Promise((resolve) => client.on("state", (c) => c.state === "open" && resolve()));
    await gateway.kill();
    await gateway.start();
    await within(reopened, WAIT_MS, "reconnected");
    const iterator = stream[Symbol.asyncIterator]();
    const seen = new Set();
    while (seen.size < 3) {
      const { value: message } = await within(iterator.next(), WAIT_MS, "a redelivery");
      assert.ok(message.attempt >= 2, `attempt ${message.attempt}: a delivery of the lost connection was kept`);
      await message.ack(); // confirmed by the gateway, so it would reject for a stale delivery
      seen.add(message.payload.i);
    }
    await eventually(async () => (await groupLag(topic, "g")) === 0, WAIT_MS, "all acked");
  });

  test("publishes made while the gateway is down wait and are sent when it is back", async () => {
    const gateway = new Gateway();
    await gateway.start();
    gateways.push(gateway);
    const client = await clientOf(gateway.url, {
      token: makeToken(),
      backoff: { initialMs: 50, maxMs: 300 },
      maxPendingPublishes: 2,
    });
    const reconnecting = new Promise((resolve) => client.on("state", (c) => c.state === "connecting" && resolve()));
    await gateway.kill();
    await within(reconnecting, WAIT_MS, "the client notices");
    const topic = unique("js.offline");
    const gaveUp = client.publish(topic, 0, { timeoutMs: 300 });
    await assert.rejects(gaveUp, (error) => error.code === "timeout" && /not confirmed/.test(error.message));
    const pending = [client.publish(topic, 1), client.publish(topic, 2)];
    assert.equal(client.pendingPublishes, 2);
    // Both slots are taken: a third call waits for one, and gives up after its timeout.
    await assert.rejects(client.publish(topic, 3, { timeoutMs: 300 }), (error) =>
      error.name === "TimeoutError" && /waiting for a publish slot/.test(error.message),
    );
    await gateway.start();
    const results = await within(Promise.all(pending), WAIT_MS, "sent after the restart");
    assert.equal(new Set(results.map((r) => r.id)).size, 2);
    assert.equal(client.state, "open");
  });
});

describe("overload", () => {
  test("overloaded is retried after retry_after_ms until the publish is stored", async () => {
    const gateway = await gatewayWith({ PROMETHEAN_GATEWAY_MAX_INFLIGHT_PUBLISHES: "1" });
    const client = await clientOf(gateway.url, { token: makeToken() });
    const topic = unique("js.overload");
    const results = await within(
      Promise.all(Array.from({ length: 30 }, (_, i) => client.publish(topic, { i }))),
      WAIT_MS,
      "all 30 publishes",
    );
    assert.equal(new Set(results.map((r) => r.id)).size, 30);
    assert.ok(client.stats.publishRetries > 0, "the gateway never said overloaded");
    assert.ok((await gateway.metric("promethean_gateway_errors_total", 'code="overloaded"')) > 0);
    const stream = await client.subscribe(topic, "count", { from: "earliest", maxInflight: 64 });
    const seen = new Set();
    for await (const message of stream) {
      seen.add(message.id);
      await message.ack();
      if (seen.size === 30) break;
    }
    assert.deepEqual(seen, new Set(results.map((r) => r.id)));
  });

  test("too_many_connections: connect waits retry_after_ms and gets in once a connection closes", async () => {
    const gateway = await gatewayWith({ PROMETHEAN_GATEWAY_MAX_CONNECTIONS: "1" });
    const first = await connect(gateway.url, { token: makeToken() });
    const second = connect(gateway.url, { token: makeToken(), connectTimeoutMs: WAIT_MS });
    await eventually(
      async () => (await gateway.metric("promethean_gateway_connections_refused_total")) > 0,
      WAIT_MS,
      "the second connection refused",
    );
    await first.close();
    const client = await within(second, WAIT_MS, "the second connection gets in");
    clients.push(client);
    assert.equal(client.state, "open");
    assert.ok((await client.publish(unique("js.limit"), 1)).id);
  });

  test("rate_limited is honoured the same way", async () => {
    const gateway = await gatewayWith({ PROMETHEAN_GATEWAY_PUBLISH_RATE: "50", PROMETHEAN_GATEWAY_PUBLISH_BURST: "5" });
    const client = await clientOf(gateway.url, { token: makeToken() });
    const topic = unique("js.rate");
    const results = await within(
      Promise.all(Array.from({ length: 25 }, (_, i) => client.publish(topic, { i }))),
      WAIT_MS,
      "all 25 publishes",
    );
    assert.equal(results.length, 25);
    assert.ok(client.stats.publishRetries > 0);
    assert.ok((await gateway.metric("promethean_gateway_errors_total", 'code="rate_limited"')) > 0);
  });
});
