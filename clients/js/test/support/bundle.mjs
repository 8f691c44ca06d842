// Bundles the built package for browsers (esbuild, ESM, no Node.js built-ins)
// into build/promethean-client.js; prints the bundle's path.
import { build } from "esbuild";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../..", import.meta.url));
export const BUNDLE = `${root}build/promethean-client.js`;

export async function bundle() {
  await build({
    entryPoints: [`${root}dist/index.js`],
    outfile: BUNDLE,
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    logLevel: "warning",
  });
  return BUNDLE;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log(await bundle());
}
