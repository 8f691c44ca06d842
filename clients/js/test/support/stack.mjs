// What the Node tests run against: a real gateway process (python -m
// promethean_gateway) on a free loopback port, in front of the broker the
// pytest driver started (tests/integration/js). Each test file starts the
// gateway(s) it needs, with the settings it needs, and stops them in `after`.
//
//   BUS_URL          the broker's WebSocket URL (ws://127.0.0.1:PORT/ws)
//   PROMETHEAN_PYTHON the Python that has promethean_gateway installed
//   JWT_SECRET       the HS256 secret the gateways check tokens with
//   JS_TEST_LOG_DIR  where gateway logs (and the browser screenshot) go
import { spawn } from "node:child_process";
import { createHmac, randomBytes } from "node:crypto";
import { createWriteStream, mkdirSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { join } from "node:path";
import { tmpdir } from "node:os";

const START_TIMEOUT_MS = 30_000;
const SCRUBBED = ["PROMETHEAN_", "BUS_", "MONGO_", "WS_", "JWT_"];

export const env = {
  busUrl: required("BUS_URL"),
  python: process.env.PROMETHEAN_PYTHON ?? "python3",
  secret: process.env.JWT_SECRET ?? "js-client-test-secret-0123456789abcdef",
  logDir: process.env.JS_TEST_LOG_DIR ?? join(tmpdir(), "promethean-js-tests"),
};
mkdirSync(env.logDir, { recursive: true });

function required(name) {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set: run these tests through tests/integration/js (pytest)`);
  return value;
}

/** The broker's HTTP admin base URL. */
export const brokerHttp = env.busUrl.replace(/^ws/, "http").replace(/\/ws$/, "");

export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** An HS256 JWT the test gateways accept. */
export function makeToken({ scopes = ["publish:**", "subscribe:**"], expIn = 3600, sub = "js-test", secret = env.secret } = {}) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  const header = part({ alg: "HS256", typ: "JWT" });
  const body = part({ sub, scopes, exp: Math.floor(Date.now() / 1000 + expIn) });
  const signature = createHmac("sha256", secret).update(`${header}.${body}`).digest("base64url");
  return `${header}.${body}.${signature}`;
}

/** A topic (or group) name no other test uses. */
export function unique(prefix) {
  return `${prefix}.${randomBytes(4).toString("hex")}`;
}

export class Gateway {
  constructor(extraEnv = {}) {
    this.extraEnv = extraEnv;
    this.port = 0;
    this.process = undefined;
    this.starts = 0;
  }

  get url() {
    return `ws://127.0.0.1:${this.port}/ws`;
  }

  get httpUrl() {
    return `http://127.0.0.1:${this.port}`;
  }

  get logPath() {
    return join(env.logDir, `gateway-${this.port}-${this.starts}.log`);
  }

  logTail(lines = 40) {
    try {
      return readFileSync(this.logPath, "utf8").split("\n").slice(-lines).join("\n");
    } catch {
      return "(no log)";
    }
  }

  /** Starts (or restarts, on the same port) and waits for /healthz/ready. */
  async start() {
    if (this.port === 0) this.port = await freePort();
    this.starts++;
    const childEnv = Object.fromEntries(
      Object.entries(process.env).filter(([key]) => !SCRUBBED.some((prefix) => key.startsWith(prefix))),
    );
    Object.assign(childEnv, {
      WS_PORT: String(this.port),
      BUS_URL: env.busUrl,
      PROMETHEAN_HOST: "127.0.0.1",
      JWT_SECRET: env.secret,
      PROMETHEAN_LOG_LEVEL: "warning",
      PROMETHEAN_DRAIN_MS: "3000",
      PROMETHEAN_HEARTBEAT_MS: "60000",
      ...this.extraEnv,
    });
    const log = createWriteStream(this.logPath);
    await new Promise((resolve) => log.once("open", resolve));
    const child = spawn(env.python, ["-m", "promethean_gateway"], { env: childEnv, stdio: ["ignore", log, log] });
    this.process = child;
    const exited = new Promise((resolve) => child.once("exit", (code, signal) => resolve({ code, signal })));
    this.exited = exited;
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const status = await Promise.race([
        fetch(`${this.httpUrl}/healthz/ready`).then((r) => r.status, () => 0),
        exited.then(() => -1),
      ]);
      if (status === 200) return this;
      if (status === -1) throw new Error(`gateway exited before it was ready:\n${this.logTail()}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    this.kill();
    throw new Error(`gateway not ready within ${START_TIMEOUT_MS} ms:\n${this.logTail()}`);
  }

  /** SIGKILL, and wait until the process is gone. */
  async kill() {
    if (this.process && this.process.exitCode === null && this.process.signalCode === null) {
      this.process.kill("SIGKILL");
      await this.exited;
    }
  }

  /** The value of one /metrics sample (0 when absent). */
  async metric(name, labels = "") {
    const text = await (await fetch(`${this.httpUrl}/metrics`)).text();
    const wanted = labels ? `${name}{${labels}}` : name;
    for (const line of text.split("\n")) {
      if (line.startsWith(`${wanted} `)) return Number(line.split(" ").at(-1));
    }
    return 0;
  }
}

export async function startGateway(extraEnv = {}) {
  return new Gateway(extraEnv).start();
}

/** Rejects with `what` if `promise` does not settle within `ms`. */
export function within(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Polls `check` (async, truthy when done) every 50 ms for at most `ms`: for state only a server can tell. */
export async function eventually(check, ms, what) {
  const deadline = Date.now() + ms;
  let last;
  while (Date.now() < deadline) {
    last = await check();
    if (last) return last;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`not true within ${ms} ms: ${what} (last: ${JSON.stringify(last)})`);
}

/** Collects values pushed to it; `until(predicate)` resolves as soon as the collected list satisfies it. */
export class Collector {
  constructor() {
    this.items = [];
    this.waiters = [];
  }

  push(item) {
    this.items.push(item);
    for (const waiter of [...this.waiters]) waiter();
  }

  until(predicate, ms, what) {
    return within(
      new Promise((resolve) => {
        const check = () => {
          if (predicate(this.items)) {
            this.waiters.splice(this.waiters.indexOf(check), 1);
            resolve(this.items);
          }
        };
        this.waiters.push(check);
        check();
      }),
      ms,
      what,
    );
  }
}

/** The group's lag from the broker's admin API (0 when everything is acked). */
export async function groupLag(topic, group) {
  const response = await fetch(`${brokerHttp}/lag?topic=${encodeURIComponent(topic)}&group=${encodeURIComponent(group)}`);
  if (response.status !== 200) return undefined;
  return (await response.json()).lag;
}

/** How many events the broker stored in `topic` (from GET /topics/{topic}/offsets). */
export async function storedEvents(topic) {
  const response = await fetch(`${brokerHttp}/topics/${encodeURIComponent(topic)}/offsets`);
  if (response.status !== 200) return undefined;
  const { partitions } = await response.json();
  return partitions.reduce((sum, p) => sum + (p.latest - p.earliest + 1), 0);
}
