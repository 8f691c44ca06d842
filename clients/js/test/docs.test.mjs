// Every `ts` example of docs/js-client.md, run against a real gateway
// (types.test.mjs type-checks the same examples).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, test } from "node:test";

import { EXAMPLES_DIR, writeExamples } from "./support/examples.mjs";
import { makeToken, startGateway } from "./support/stack.mjs";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
let gateway;
const examples = await writeExamples(`${EXAMPLES_DIR}/run`);

before(async () => {
  gateway = await startGateway();
});

after(async () => {
  await gateway?.kill();
});

test("the page has examples", () => {
  assert.ok(examples.length >= 5);
});

for (const example of examples) {
  test(`${example.name} (${example.heading}) runs`, async () => {
    const { stdout } = await run(process.execPath, [example.mjs], {
      cwd: root,
      timeout: 30_000,
      env: { ...process.env, GATEWAY_URL: gateway.url, PROMETHEAN_TOKEN: makeToken() },
    }).catch((error) => {
      throw new Error(`${example.name} failed (${error.code}):\n${error.stdout}\n${error.stderr}\n--- source ---\n${example.source}`);
    });
    assert.notEqual(stdout.trim(), "", `${example.name} printed nothing`);
  });
}
