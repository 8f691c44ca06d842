// Builds the console into the broker's Python package (promethean_broker/console_static):
// console.js (Preact app, bundled and minified), console.css and index.html.
// `node build.mjs --out DIR` builds elsewhere (the test that checks the
// committed files are what these sources build to).
import { build } from "esbuild";
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const flag = process.argv.indexOf("--out");
const out = flag > 0 ? resolve(process.argv[flag + 1]) : join(here, "..", "src", "promethean_broker", "console_static");
mkdirSync(out, { recursive: true });

await build({
  entryPoints: { console: join(here, "src", "main.tsx") },
  bundle: true,
  minify: true,
  format: "iife",
  target: ["es2020"],
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir: out,
  legalComments: "none",
  charset: "utf8",
  logLevel: "warning",
});
await build({
  entryPoints: { console: join(here, "src", "styles.css") },
  bundle: true,
  minify: true,
  outdir: out,
  logLevel: "warning",
});
copyFileSync(join(here, "src", "index.html"), join(out, "index.html"));
