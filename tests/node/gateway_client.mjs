// Authenticates with a jsonwebtoken-made token, publishes, subscribes and
// acks through the gateway, using only `ws`. Prints one JSON summary line.
//   GATEWAY_URL=ws://127.0.0.1:8090/ws JWT_SECRET=... node gateway_client.mjs
import WebSocket from "ws";
import jwt from "jsonwebtoken";

const url = process.env.GATEWAY_URL;
const token = jwt.sign(
  { sub: "node-client", scopes: ["publish:node.*", "subscribe:node.**"] },
  process.env.JWT_SECRET,
  { algorithm: "HS256", expiresIn: "5m" },
);
const ws = new WebSocket(url);
const waiting = new Map();
const events = [];
let eventWaiter = null;

ws.on("message", (data) => {
  const frame = JSON.parse(data.toString());
  if (frame.op === "EVENT") {
    events.push(frame);
    if (eventWaiter) eventWaiter();
    return;
  }
  const resolve = waiting.get(frame.corr);
  if (resolve) {
    waiting.delete(frame.corr);
    resolve(frame);
  }
});

let corr = 0;
function request(frame) {
  const id = `n-${++corr}`;
  return new Promise((resolve) => {
    waiting.set(id, resolve);
    ws.send(JSON.stringify({ ...frame, corr: id }));
  });
}
function nextEvent() {
  return new Promise((resolve) => {
    const take = () => (events.length ? resolve(events.shift()) : (eventWaiter = take));
    take();
  });
}
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

ws.on("open", async () => {
  const auth = await request({ op: "AUTH", token });
  expect(auth.op === "OK", `AUTH: ${JSON.stringify(auth)}`);
  const sub = await request({
    op: "SUBSCRIBE", topic: "node.orders", group: "node-app", opts: { from: "earliest", ackTimeoutMs: 30000 },
  });
  expect(sub.op === "OK", `SUBSCRIBE: ${JSON.stringify(sub)}`);
  const pub = await request({
    op: "PUBLISH", topic: "node.orders", payload: { total: 42 }, opts: { key: "c-1", headers: { from: "node" } },
  });
  expect(pub.op === "OK" && typeof pub.id === "string", `PUBLISH: ${JSON.stringify(pub)}`);
  const event = await nextEvent();
  expect(event.event.id === pub.id && event.event.payload.total === 42, `EVENT: ${JSON.stringify(event)}`);
  const ack = await request({ op: "ACK", topic: "node.orders", group: "node-app", id: event.event.id });
  expect(ack.op === "OK", `ACK: ${JSON.stringify(ack)}`);
  const again = await request({ op: "ACK", topic: "node.orders", group: "node-app", id: event.event.id });
  expect(again.op === "ERR" && again.code === "unknown_delivery", `second ACK: ${JSON.stringify(again)}`);
  const denied = await request({ op: "PUBLISH", topic: "other.topic", payload: 1 });
  expect(denied.op === "ERR" && denied.code === "forbidden", `forbidden: ${JSON.stringify(denied)}`);
  console.log(JSON.stringify({ ok: true, id: pub.id, attempt: event.ctx.attempt }));
  clearTimeout(timer);
  ws.close();
});
ws.on("error", (err) => {
  console.error(`FAILED: ${err.message}`);
  process.exit(1);
});
