// `npm pack` makes a tarball with the built ES modules and their type
// declarations and nothing else; installed into an empty project, it
// imports and exposes the API.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, test } from "node:test";

const run = promisify(execFile);
const root = fileURLToPath(new URL("..", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "promethean-pack-"));

after(() => rmSync(work, { recursive: true, force: true }));

test("npm pack produces an installable package with types", async () => {
  const { stdout } = await run("npm", ["pack", "--json", "--ignore-scripts", "--pack-destination", work], { cwd: root });
  const [info] = JSON.parse(stdout);
  assert.equal(info.name, "@promethean/client");
  const files = info.files.map((file) => file.path);
  for (const wanted of ["package.json", "dist/index.js", "dist/index.d.ts", "dist/client.js", "README.md"]) {
    assert.ok(files.includes(wanted), `${wanted} missing from the tarball: ${files}`);
  }
  assert.ok(!files.some((file) => file.startsWith("test/") || file.startsWith("node_modules/")), `${files}`);

  const app = join(work, "app");
  await run("mkdir", ["-p", app]);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  await run("npm", ["install", "--offline", "--no-audit", "--no-fund", join(work, info.filename)], { cwd: app });
  writeFileSync(
    join(app, "check.mjs"),
    'import * as bus from "@promethean/client";\n' +
      "console.log(JSON.stringify(Object.keys(bus).sort()));\n",
  );
  const { stdout: exported } = await run(process.execPath, ["check.mjs"], { cwd: app });
  const names = JSON.parse(exported);
  for (const name of ["connect", "httpPublish", "BusError", "Client", "Message", "Subscription"]) {
    assert.ok(names.includes(name), `${name} not exported: ${names}`);
  }
});
