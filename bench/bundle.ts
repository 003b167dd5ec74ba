/**
 * Bundle size of each Lambda function: `npm run bench:bundle`.
 * Uses functions/bundle.ts bundleFunction() (esbuild, minified, the AWS SDK included) into .tmp/bundles/.
 */
import * as path from "node:path";
import { gzipSync } from "node:zlib";
import { readFileSync } from "node:fs";
import { bundleFunction, FUNCTIONS_DIR } from "../functions/bundle";

const ROOT = path.resolve(__dirname, "..");
const functions = ["sessionizer", "sweeper"];

const kib = (n: number) => `${(n / 1024).toFixed(1)} KiB`;
for (const name of functions) {
  const started = performance.now();
  const result = bundleFunction(path.join(FUNCTIONS_DIR, name, "handler.ts"), path.join(ROOT, ".tmp", "bundles", name));
  const ms = performance.now() - started;
  const gz = gzipSync(readFileSync(result.file), { level: 9 }).length;
  console.log(`${name}: ${result.bytes.toLocaleString("en-US")} bytes (${kib(result.bytes)}), gzip ${kib(gz)}, sha256 ${result.sha256.slice(0, 12)}, built in ${ms.toFixed(0)} ms`);
}
