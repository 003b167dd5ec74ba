import { existsSync } from "node:fs";
import * as path from "node:path";
import { bundleFunction } from "../functions/bundle";
import { PROJECT_ROOT } from "./project";
import { zipDirectory, type ZipResult } from "./zip";

/**
 * Builds a Lambda deployment package: esbuild (functions/bundle.ts) into a folder with
 * index.js, then a deterministic zip of it. Same sources → same zip bytes → same hash, so
 * Terraform sees a code change only when the code changed.
 */
export interface FunctionCode extends ZipResult {
  /** Hex SHA-256 of the bundled index.js (the asset hash). */
  readonly bundleSha256: string;
}

export const DEFAULT_BUILD_DIR = path.join(PROJECT_ROOT, ".build", "functions");

/** The handler entry points, relative to the project root. */
export const FUNCTION_ENTRIES = {
  sessionizer: "functions/sessionizer/handler.ts",
  sweeper: "functions/sweeper/handler.ts",
} as const;
export type FunctionName = keyof typeof FUNCTION_ENTRIES;

const cache = new Map<string, FunctionCode>();

export function buildFunctionCode(name: string, entryFile: string, buildDir: string = DEFAULT_BUILD_DIR): FunctionCode {
  const entry = path.resolve(PROJECT_ROOT, entryFile);
  if (!existsSync(entry)) {
    throw new Error(`Lambda entry point not found: ${path.relative(PROJECT_ROOT, entry)} (it must export \`handler\`)`);
  }
  const key = `${entry}\0${buildDir}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const bundle = bundleFunction(entry, path.join(buildDir, name));
  const zip = zipDirectory(bundle.directory, path.join(buildDir, `${name}.zip`));
  const code = { ...zip, bundleSha256: bundle.sha256 };
  cache.set(key, code);
  return code;
}

/** Forget cached builds (tests that change sources between builds). */
export function clearFunctionCodeCache(): void {
  cache.clear();
}
