import { buildSync } from "esbuild";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, rmSync } from "node:fs";
import * as path from "node:path";

/**
 * Bundles one Lambda handler with esbuild into `<outDir>/index.js` (CommonJS, Node 22 as the Lambda runtime, minified,
 * the AWS SDK included so the code does not depend on the runtime's copy). The output is
 * deterministic: the same sources give the same bytes, so the asset hash only changes with the code.
 */
export interface BundleResult {
  readonly directory: string;
  readonly file: string;
  readonly bytes: number;
  readonly sha256: string;
}

export const FUNCTIONS_DIR = path.resolve(__dirname);

export function bundleFunction(entryFile: string, outDir: string): BundleResult {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const file = path.join(outDir, "index.js");
  const result = buildSync({
    entryPoints: [entryFile],
    outfile: file,
    bundle: true,
    platform: "node",
    target: "node22",
    format: "cjs",
    // Packages with both builds and no `exports` map (the AWS SDK v3, Smithy): take the ES module
    // build (`module`) over the CommonJS one (`main`); ESM tree-shakes, CommonJS does not. The
    // output stays CommonJS. (esbuild's default for platform node is main first.)
    mainFields: ["module", "main"],
    minify: true,
    sourcemap: false,
    legalComments: "none",
    logLevel: "silent",
    // Keep absolute build paths out of the bundle, so the hash does not depend on the checkout folder.
    absWorkingDir: path.resolve(FUNCTIONS_DIR, ".."),
  });
  if (result.errors.length > 0) {
    throw new Error(`esbuild failed for ${entryFile}: ${result.errors.map((e) => e.text).join("; ")}`);
  }
  const bytes = readFileSync(file);
  return { directory: outDir, file, bytes: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") };
}
