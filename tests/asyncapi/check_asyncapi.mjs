// Parses an AsyncAPI document (the file named by the first argument) with
// the official parser and prints {"errors": [...], "warnings": n, "version":
// ..., "channels": [...]} as JSON. Exits 1 when the parser reports errors.
import { readFile } from "node:fs/promises";
import { Parser, DiagnosticSeverity } from "@asyncapi/parser";

const text = await readFile(process.argv[2], "utf8");
const parser = new Parser();
const { document, diagnostics } = await parser.parse(text);
const errors = diagnostics
  .filter((d) => d.severity === DiagnosticSeverity.Error)
  .map((d) => ({ code: d.code, message: d.message, path: d.path.join("/") }));
const result = {
  errors,
  warnings: diagnostics.length - errors.length,
  version: document ? document.version() : null,
  channels: document ? document.channels().all().map((c) => c.address()) : [],
  operations: document ? document.operations().all().map((o) => o.id()) : [],
};
process.stdout.write(JSON.stringify(result) + "\n");
process.exit(errors.length > 0 || !document ? 1 : 0);
