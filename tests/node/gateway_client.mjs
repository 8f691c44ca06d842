// Authenticates with a jsonwebtoken-made token, publishes, subscribes and
// acks through the gateway with the @promethean/client SDK (clients/js).
// Prints one JSON summary line.
//   GATEWAY_URL=ws://127.0.0.1:8090/ws JWT_SECRET=... node gateway_client.mjs
import { BusError, connect } from "@promethean/client";
import jwt from "jsonwebtoken";

const token = jwt.sign(
  { sub: "node-client", scopes: ["publish:node.*", "subscribe:node.**"] },
  process.env.JWT_SECRET,
  { algorithm: "HS256", expiresIn: "5m" },
);

function expect(cond, what) {
  if (!cond) {
    console.error(`FAILED: ${what}`);
    process.exit(1);
  }
}

const timer = setTimeout(() => {
  console.error("FAILED: timed out");
  process.exit(1);
}, 20000);

const client = await connect(process.env.GATEWAY_URL, { token, connectTimeoutMs: 10000 });
const stream = await client.subscribe("node.orders", "node-app", {
  from: "earliest",
  ackTimeoutMs: 30000,
  confirmAcks: true,
});
const pub = await client.publish("node.orders", { total: 42 }, { key: "c-1", headers: { from: "node" } });
expect(typeof pub.id === "string", `PUBLISH: ${JSON.stringify(pub)}`);
const { value: event } = await stream[Symbol.asyncIterator]().next();
expect(event.id === pub.id && event.payload.total === 42, `EVENT: ${JSON.stringify(event)}`);
expect(event.key === "c-1" && event.headers.from === "node", `EVENT key/headers: ${JSON.stringify(event)}`);
await event.ack(); // confirmed: resolves on the gateway's OK
// The delivery is settled: the gateway no longer knows it.
const again = await event.modack(1000).then(() => "OK", (err) => err);
expect(again instanceof BusError && again.code === "unknown_delivery", `MODACK after ACK: ${again}`);
const denied = await client.publish("other.topic", 1).then(() => "OK", (err) => err);
expect(denied instanceof BusError && denied.code === "forbidden", `forbidden: ${denied}`);
console.log(JSON.stringify({ ok: true, id: pub.id, attempt: event.attempt }));
clearTimeout(timer);
await client.close();
