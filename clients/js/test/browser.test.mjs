// The package bundled for browsers (esbuild) and loaded in headless Debian
// Chromium (driven by playwright-core): it connects with the browser's own
// WebSocket, publishes, consumes and acks through the real gateway, and
// publishes over HTTP with fetch. A screenshot of the page is kept.
//
// The page comes from a small loopback server (as an app would serve it);
// it forwards POST /publish/* to the gateway, the way an app's ingress puts
// both behind one origin, so the HTTP publish is same-origin.
import assert from "node:assert/strict";
import { existsSync, readFileSync } from "node:fs";
import { createServer } from "node:http";
import { join } from "node:path";
import { after, before, test } from "node:test";

import { chromium } from "playwright-core";

import { bundle } from "./support/bundle.mjs";
import { env, groupLag, eventually, makeToken, startGateway, unique } from "./support/stack.mjs";

const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";
let gateway;
let browser;
let site;

before(async () => {
  gateway = await startGateway();
  site = await serveSite(gateway.httpUrl, readFileSync(await bundle(), "utf8"));
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox"] });
});

after(async () => {
  await browser?.close();
  site?.server.close();
  await gateway?.kill();
});

/** The page, the bundle, and POST /publish/* forwarded to the gateway. */
async function serveSite(gatewayHttp, code) {
  const server = createServer(async (request, response) => {
    if (request.method === "GET" && request.url === "/promethean-client.js") {
      response.writeHead(200, { "Content-Type": "text/javascript" }).end(code);
    } else if (request.method === "GET" && request.url === "/") {
      response.writeHead(200, { "Content-Type": "text/html; charset=utf-8" }).end(PAGE);
    } else if (request.method === "POST" && request.url.startsWith("/publish/")) {
      const chunks = [];
      for await (const chunk of request) chunks.push(chunk);
      const headers = Object.fromEntries(
        Object.entries(request.headers).filter(([name]) => name === "authorization" || name === "content-type" || name.startsWith("x-promethean-")),
      );
      const upstream = await fetch(`${gatewayHttp}${request.url}`, { method: "POST", headers, body: Buffer.concat(chunks) });
      response.writeHead(upstream.status, { "Content-Type": "application/json" }).end(await upstream.text());
    } else {
      response.writeHead(404).end();
    }
  });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  return { server, url: `http://127.0.0.1:${server.address().port}` };
}

const PAGE = `<!doctype html>
<html><head><meta charset="utf-8"><title>@promethean/client in the browser</title>
<style>
  body { font: 15px system-ui, sans-serif; margin: 24px; }
  h1 { font-size: 20px; }
  #state { font-weight: bold; }
  li { font-family: monospace; }
</style></head>
<body>
  <h1>@promethean/client: browser check</h1>
  <p>connection: <span id="state">not started</span></p>
  <p>received events:</p>
  <ol id="events"></ol>
  <script type="module">
    import * as bus from "./promethean-client.js";
    window.bus = bus;
    window.busReady = true;
  </script>
</body></html>`;

test("bundled, in Chromium: publish, consume and ack through the gateway; HTTP publish", async () => {
  const code = readFileSync(await bundle(), "utf8");
  assert.doesNotMatch(code, /from\s*["']node:|require\(["']ws["']\)/, "the browser bundle pulls in Node.js modules");
  const page = await browser.newPage({ viewport: { width: 900, height: 520 } });
  const logs = [];
  page.on("console", (message) => logs.push(message.text()));
  page.on("pageerror", (error) => logs.push(`pageerror: ${error.message}`));
  await page.goto(`${site.url}/`);
  await page.waitForFunction(() => window.busReady === true, null, { timeout: 15_000 });
  const topic = unique("js.browser");
  const result = await page.evaluate(
    async ({ url, httpUrl, token, topic }) => {
      const { connect, httpPublish } = window.bus;
      const stateEl = document.getElementById("state");
      const list = document.getElementById("events");
      const client = await connect(url, { token });
      stateEl.textContent = client.state;
      client.on("state", (change) => (stateEl.textContent = change.state));
      const received = [];
      let done;
      const all = new Promise((resolve) => (done = resolve));
      await client.subscribe(
        topic,
        "browser",
        (message) => {
          received.push({ id: message.id, attempt: message.attempt, payload: message.payload });
          const item = document.createElement("li");
          item.textContent = `${message.topic} #${message.payload.n} attempt ${message.attempt} ${message.id}`;
          list.append(item);
          if (received.length === 4) done();
        },
        { from: "earliest" },
      );
      const published = [];
      for (let n = 1; n <= 3; n++) published.push((await client.publish(topic, { n, from: "websocket" })).id);
      published.push((await httpPublish(httpUrl, token, topic, { n: 4, from: "fetch" })).id);
      const timeout = new Promise((_, reject) => setTimeout(() => reject(new Error("events did not arrive")), 15_000));
      await Promise.race([all, timeout]);
      let forbidden;
      try {
        await client.publish("not.allowed", 1);
      } catch (error) {
        forbidden = { name: error.name, code: error.code };
      }
      return { published, received, forbidden, hasGlobalWebSocket: typeof WebSocket === "function" };
    },
    { url: gateway.url, httpUrl: site.url, token: makeToken({ scopes: ["publish:js.**", "subscribe:js.**"] }), topic },
  );
  const screenshot = join(env.logDir, "browser.png");
  await page.screenshot({ path: screenshot });
  assert.ok(existsSync(screenshot));
  assert.ok(result.hasGlobalWebSocket);
  assert.deepEqual(new Set(result.received.map((r) => r.id)), new Set(result.published), logs.join("\n"));
  assert.deepEqual(
    result.received.map((r) => r.payload.n).sort(),
    [1, 2, 3, 4],
  );
  assert.deepEqual(result.forbidden, { name: "BusError", code: "forbidden" });
  await eventually(async () => (await groupLag(topic, "browser")) === 0, 15_000, "the browser's acks committed");
  assert.equal(await page.textContent("#state"), "open");
  await page.close();
});
