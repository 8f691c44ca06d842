// The `ts` code blocks of docs/js-client.md, written to .examples/ as
// example-N.ts (type-checked by tsconfig.check.json) and, with their types
// stripped by esbuild, example-N.mjs (run by docs.test.mjs). Inside the
// package directory, `import "@promethean/client"` resolves to the package
// itself (Node.js self-reference through package.json "exports").
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { transform } from "esbuild";

const root = fileURLToPath(new URL("../..", import.meta.url));
export const DOC = fileURLToPath(new URL("../../../../docs/js-client.md", import.meta.url));
export const EXAMPLES_DIR = `${root}.examples`;

function listFiles(dir) {
  return existsSync(dir) ? readdirSync(dir).filter((name) => /^example-\d+\.(ts|mjs)$/.test(name)) : [];
}

/** The `ts` blocks of the page, in order. */
export function exampleSources() {
  const text = readFileSync(DOC, "utf8");
  return [...text.matchAll(/^```ts\n([\s\S]*?)^```$/gm)].map((match) => {
    const headings = [...text.slice(0, match.index).matchAll(/^## (.+)$/gm)];
    return { source: match[1], heading: headings.at(-1)?.[1] ?? "" };
  });
}

/** Writes every example as .ts and .mjs into `dir` (replacing what was there); returns [{ name, ts, mjs }]. */
export async function writeExamples(dir = EXAMPLES_DIR) {
  for (const old of listFiles(dir)) rmSync(`${dir}/${old}`, { force: true });
  mkdirSync(dir, { recursive: true });
  const written = [];
  for (const [index, { source, heading }] of exampleSources().entries()) {
    const name = `example-${index + 1}`;
    const ts = `${dir}/${name}.ts`;
    const mjs = `${dir}/${name}.mjs`;
    writeFileSync(ts, source);
    const { code } = await transform(source, { loader: "ts", format: "esm", target: "es2022" });
    writeFileSync(mjs, code);
    written.push({ name, ts, mjs, source, heading });
  }
  return written;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  for (const example of await writeExamples()) console.log(example.ts);
}
