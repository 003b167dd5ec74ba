import { existsSync } from "node:fs";
import * as path from "node:path";
import { bundleFunction } from "../functions/bundle";
import { PROJECT_ROOT } from "./project";
import { zipDirectory, type ZipResult } from "./zip";

/**
 * Builds a Lambda deployment package: esbuild (functions/bundle.ts) into a folder with
 * index.js, then a deterministic zip of it (modules/zip.ts, yazl). Same sources → same zip
 * bytes → same hash, so Terraform sees a code change only when the code changed.
 *
 * Zipping is asynchronous and synthesis is not, so the packages are built before the stacks
 * are constructed: `await buildFunctionPackages()`, then `buildApp(config, { functionCode })`
 * (main.ts, scripts/tf-check.ts, stacks/testing.ts).
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
export const FUNCTION_NAMES = Object.keys(FUNCTION_ENTRIES) as FunctionName[];

const cache = new Map<string, Promise<FunctionCode>>();

export function buildFunctionCode(name: string, entryFile: string, buildDir: string = DEFAULT_BUILD_DIR): Promise<FunctionCode> {
  const entry = path.resolve(PROJECT_ROOT, entryFile);
  if (!existsSync(entry)) {
    return Promise.reject(new Error(`Lambda entry point not found: ${path.relative(PROJECT_ROOT, entry)} (it must export \`handler\`)`));
  }
  const key = `${name}\0${entry}\0${path.resolve(buildDir)}`;
  let code = cache.get(key);
  if (!code) {
    code = (async () => {
      const bundle = bundleFunction(entry, path.join(buildDir, name));
      const zip = await zipDirectory(bundle.directory, path.join(buildDir, `${name}.zip`));
      return { ...zip, bundleSha256: bundle.sha256 };
    })();
    cache.set(key, code);
    code.catch(() => cache.delete(key));
  }
  return code;
}

/**
 * Every handler's package, for the analytics stack. The bundles run one after the other
 * (esbuild's synchronous API); each zip compresses on the libuv thread pool while the next
 * bundle builds.
 */
export async function buildFunctionPackages(buildDir: string = DEFAULT_BUILD_DIR): Promise<Record<FunctionName, FunctionCode>> {
  const built = await Promise.all(FUNCTION_NAMES.map((name) => buildFunctionCode(name, FUNCTION_ENTRIES[name], buildDir)));
  return Object.fromEntries(FUNCTION_NAMES.map((name, i) => [name, built[i]])) as Record<FunctionName, FunctionCode>;
}

/** Forget cached builds (tests that change sources between builds). */
export function clearFunctionCodeCache(): void {
  cache.clear();
}
