// Compile-time checks of the public API: the right calls type-check, and
// each wrong call below must fail to compile (`tsc` reports an unused
// `@ts-expect-error` otherwise). Checked by `npm run check` (types.test.mjs).
import {
  BusError,
  type Client,
  type ConnectionState,
  type ErrorCode,
  type Message,
  type PublishResult,
  connect,
  httpPublish,
} from "@promethean/client";

export async function rightCalls(client: Client): Promise<void> {
  const result: PublishResult = await client.publish("orders.created", { n: 1 }, { key: "k", id: "i", headers: { a: "b" } });
  void result.id;
  const sub = await client.subscribe<{ n: number }>("t", "g", async (message) => {
    const n: number = message.payload.n;
    void n;
  });
  await sub.unsubscribe({ signal: AbortSignal.timeout(1_000) });
  const stream = await client.subscribe<string>("t", "g", { from: { timestamp: new Date() }, maxInflight: 10 });
  for await (const message of stream) {
    const text: string = message.payload;
    void text;
    await message.modack(1_000);
    await message.nack("reason");
  }
  const state: ConnectionState = client.state;
  void state;
  client.on("state", (change) => void change.previous);
  await httpPublish("http://localhost:8090", () => "token", "t", null, { id: "x" });
  try {
    await client.publish("t", 1);
  } catch (error) {
    if (error instanceof BusError) {
      const code: ErrorCode = error.code;
      void code;
      void error.retryAfterMs;
    }
  }
}

export async function wrongCalls(client: Client, message: Message<{ n: number }>): Promise<void> {
  // @ts-expect-error a token or getToken is required
  await connect("ws://localhost:8090/ws", {});
  // @ts-expect-error token and getToken exclude each other
  await connect("ws://localhost:8090/ws", { token: "a", getToken: () => "b" });
  // @ts-expect-error getToken must return a string (or a promise of one)
  await connect("ws://localhost:8090/ws", { getToken: () => 42 });
  // @ts-expect-error the topic is a string
  await client.publish(42, { n: 1 });
  // @ts-expect-error header values are strings
  await client.publish("t", 1, { headers: { retries: 3 } });
  // @ts-expect-error there is no "newest" start position
  await client.subscribe("t", "g", { from: "newest" });
  // @ts-expect-error a group is required
  await client.subscribe("t", async () => undefined);
  // @ts-expect-error modack takes milliseconds, not a string
  await message.modack("soon");
  // @ts-expect-error the payload's type is known
  const wrong: string = message.payload.n;
  void wrong;
  // @ts-expect-error there is no "ready" state
  const state: ConnectionState = "ready";
  void state;
  // @ts-expect-error unknown event
  client.on("message", () => undefined);
}
