// `tsc --noEmit` (strict) over the package, the docs' examples and
// types-test/: it must pass, and each call marked `@ts-expect-error` in
// types-test/calls.ts must really fail to compile (checked both ways: with
// the marks tsc is clean, without them tsc reports an error on each line).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { test } from "node:test";

import { EXAMPLES_DIR, writeExamples } from "./support/examples.mjs";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
const tsc = `${root}node_modules/.bin/tsc`;

async function typecheck(project) {
  try {
    const { stdout } = await run(tsc, ["-p", project], { cwd: root });
    return { code: 0, output: stdout };
  } catch (error) {
    return { code: error.code, output: `${error.stdout}${error.stderr}` };
  }
}

test("the package, the docs' examples and the type tests compile under strict tsc", async () => {
  const examples = await writeExamples();
  assert.ok(examples.length >= 5, `only ${examples.length} examples found in docs/js-client.md`);
  const { code, output } = await typecheck("tsconfig.check.json");
  assert.equal(code, 0, output);
});

test("every call marked @ts-expect-error fails to compile without the mark", async () => {
  const source = readFileSync(`${root}types-test/calls.ts`, "utf8").split("\n");
  const marked = [];
  const stripped = source.map((line, index) => {
    if (!line.includes("// @ts-expect-error")) return line;
    marked.push(index + 2); // the line after the mark, 1-based
    return "";
  });
  assert.ok(marked.length >= 10, `only ${marked.length} wrong calls`);
  const dir = `${EXAMPLES_DIR}/negative`;
  mkdirSync(dir, { recursive: true });
  writeFileSync(`${dir}/calls.ts`, stripped.join("\n"));
  writeFileSync(`${dir}/tsconfig.json`, JSON.stringify({ extends: "../../tsconfig.check.json", include: ["calls.ts"] }));
  const { code, output } = await typecheck(`${dir}/tsconfig.json`);
  assert.notEqual(code, 0);
  const failing = new Set([...output.matchAll(/calls\.ts\((\d+),\d+\): error TS\d+/g)].map((m) => Number(m[1])));
  assert.deepEqual([...failing].sort((a, b) => a - b), marked, output);
});
