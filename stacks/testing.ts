import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { loadConfig } from "../config/load";
import type { SessionizationConfig } from "../config/schema";
import { buildFunctionCode, buildFunctionPackages, type FunctionCode, type FunctionName } from "../modules/function-code";
import { PROJECT_ROOT } from "../modules/project";
import { buildApp, DEPLOY_ORDER, type SessionizationApp } from "./app";

/**
 * Test helpers (used by __tests__/stacks-*.test.ts): synthesize the whole app into a scratch
 * folder under .tmp/ and return each stack's Terraform JSON. TMPDIR points into the project
 * too, because cdktf's Testing helpers leave temp folders behind.
 */
export type StackJson = {
  terraform: { backend: Record<string, Record<string, unknown>>; required_providers: Record<string, unknown> };
  provider: { aws: Record<string, unknown>[] };
  resource: Record<string, Record<string, Record<string, any>>>;
  data?: Record<string, Record<string, any>>;
  output?: Record<string, { value: unknown; description?: string }>;
};
export type SynthesizedApp = Record<(typeof DEPLOY_ORDER)[number], StackJson> & { app: SessionizationApp; outdir: string };

export const SCRATCH = path.join(PROJECT_ROOT, ".tmp", "jest");

export function useProjectTmp(): void {
  mkdirSync(SCRATCH, { recursive: true });
  process.env.TMPDIR = SCRATCH;
}

export const configFile = (name: string) => path.join(PROJECT_ROOT, "config", `${name}.json`);

/** A tiny handler bundled like the real ones, for tests that do not need the real code. */
export async function stubFunctionCode(): Promise<Record<FunctionName, FunctionCode>> {
  const dir = mkdtempSync(path.join(SCRATCH, "stub-"));
  created.push(dir);
  const entry = path.join(dir, "handler.ts");
  writeFileSync(entry, "export const handler = async () => ({ batchItemFailures: [] });\n");
  const code = await buildFunctionCode("stub", entry, path.join(dir, "build"));
  return { sessionizer: code, sweeper: code };
}

const created: string[] = [];

/** Removes the scratch folders this test process created (call from afterAll). */
export function removeScratch(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** Synthesizes the app; without `functionCode`, the real handlers are bundled and zipped first. */
export async function synthesize(config: SessionizationConfig | string, options: { functionCode?: Record<FunctionName, FunctionCode> } = {}): Promise<SynthesizedApp> {
  useProjectTmp();
  const cfg = typeof config === "string" ? loadConfig(configFile(config)) : config;
  const outdir = mkdtempSync(path.join(SCRATCH, "synth-"));
  created.push(outdir);
  const functionCode = options.functionCode ?? (await buildFunctionPackages(path.join(outdir, "build")));
  const app = buildApp(cfg, { outdir, bootstrapStateFile: path.join(outdir, "bootstrap.tfstate"), functionCode });
  app.app.synth();
  const result: Record<string, unknown> = { app, outdir };
  for (const s of DEPLOY_ORDER) result[s] = JSON.parse(readFileSync(path.join(outdir, "stacks", s, "cdk.tf.json"), "utf8"));
  return result as SynthesizedApp;
}

/** Every resource of a stack as [type, name, body]. */
export function resources(stack: StackJson): [string, string, Record<string, any>][] {
  return Object.entries(stack.resource ?? {}).flatMap(([type, byName]) => Object.entries(byName).map(([name, body]) => [type, name, body] as [string, string, Record<string, any>]));
}

export function only(stack: StackJson, type: string): Record<string, any> {
  const all = Object.values(stack.resource?.[type] ?? {});
  if (all.length !== 1) throw new Error(`expected one ${type}, found ${all.length}`);
  return all[0];
}
