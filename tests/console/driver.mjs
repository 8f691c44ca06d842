// A headless Chromium (Debian's, at CHROMIUM or /usr/bin/chromium) driven by
// playwright-core, answering JSON-line commands on stdin with JSON lines on
// stdout: {"op": "goto", "url": ...} -> {"ok": true, "value": ...} or
// {"ok": false, "error": "..."}. The console's pytest tests hold the logic;
// this only turns their commands into browser actions.
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { createInterface } from "node:readline";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const axeSource = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  headless: true,
  args: ["--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"],
});
let context = null;
let page = null;
const consoleErrors = [];

async function open({ width = 1280, height = 800 }) {
  if (context) await context.close();
  consoleErrors.length = 0;
  context = await browser.newContext({ viewport: { width, height }, deviceScaleFactor: 1 });
  page = await context.newPage();
  page.setDefaultTimeout(10_000);
  page.on("pageerror", (err) => consoleErrors.push(String(err)));
  page.on("console", (msg) => {
    // Refused requests (a wrong token) are logged by Chromium too; they are
    // answers the page handles, not page errors.
    if (msg.type() === "error" && !msg.text().startsWith("Failed to load resource")) consoleErrors.push(msg.text());
  });
  return true;
}

const ops = {
  open,
  async goto({ url }) {
    await page.goto(url, { waitUntil: "domcontentloaded" });
    return page.url();
  },
  async eval({ js }) {
    return await page.evaluate(js);
  },
  async fill({ selector, value }) {
    await page.locator(selector).first().fill(String(value));
    return true;
  },
  async select({ selector, value }) {
    await page.locator(selector).first().selectOption(String(value));
    return true;
  },
  async click({ selector }) {
    await page.locator(selector).first().click();
    return true;
  },
  async check({ selector }) {
    await page.locator(selector).first().check();
    return true;
  },
  async press({ key }) {
    await page.keyboard.press(key);
    return true;
  },
  async text({ selector }) {
    return await page.locator(selector).first().innerText();
  },
  async texts({ selector }) {
    return await page.locator(selector).allInnerTexts();
  },
  async count({ selector }) {
    return await page.locator(selector).count();
  },
  // Waits until `selector` is visible (and, with `text`, contains it); the
  // milliseconds it took.
  async wait({ selector, text, exact = false, timeout = 10_000 }) {
    const started = Date.now();
    let locator = page.locator(selector);
    if (text !== undefined) {
      const escaped = String(text).replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
      locator = locator.filter({ hasText: exact ? new RegExp(`^\\s*${escaped}\\s*$`) : String(text) });
    }
    await locator.first().waitFor({ state: "visible", timeout });
    return Date.now() - started;
  },
  async waitGone({ selector, timeout = 10_000 }) {
    await page.locator(selector).first().waitFor({ state: "detached", timeout });
    return true;
  },
  async focused() {
    return await page.evaluate(() => {
      const el = document.activeElement;
      if (!el) return null;
      return { tag: el.tagName.toLowerCase(), text: (el.textContent || "").trim().slice(0, 80), href: el.getAttribute("href") };
    });
  },
  async screenshot({ path, fullPage = false }) {
    await page.screenshot({ path, fullPage });
    return path;
  },
  async axe() {
    await page.evaluate(axeSource);
    const result = await page.evaluate(async () => {
      // eslint-disable-next-line no-undef
      const r = await axe.run(document, { resultTypes: ["violations"] });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, help: v.help, nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5) }));
    });
    return result;
  },
  async errors() {
    return consoleErrors.splice(0);
  },
  async close() {
    await browser.close();
    return true;
  },
};

const lines = createInterface({ input: process.stdin });
process.stdout.write(JSON.stringify({ ok: true, value: "ready" }) + "\n");
for await (const line of lines) {
  let reply;
  try {
    const command = JSON.parse(line);
    const handler = ops[command.op];
    if (!handler) throw new Error(`unknown op ${command.op}`);
    reply = { ok: true, value: await handler(command) };
  } catch (err) {
    reply = { ok: false, error: String(err && err.message ? err.message : err).slice(0, 2000) };
  }
  process.stdout.write(JSON.stringify(reply) + "\n");
  if (reply.ok && line.includes('"close"')) break;
}
await browser.close().catch(() => {});
process.exit(0);
