import { execFileSync, spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";

/**
 * Helpers for running the terraform CLI against the synthesized stacks offline: locating the
 * binary and the AWS provider filesystem mirror, a project-local CLI configuration, the
 * override files the check adds next to a stack's cdk.tf.json, and a runner with timings.
 */

/** The version of the provider mirror on the machine image (the bindings target 6.25.0). */
export const CHECK_PROVIDER_VERSION = "5.100.0";

export function findTerraform(): string | undefined {
  for (const dir of (process.env.PATH ?? "").split(path.delimiter)) {
    const candidate = path.join(dir, "terraform");
    if (dir && existsSync(candidate)) return candidate;
  }
  return undefined;
}

export function terraformVersion(terraform: string): string {
  const out = execFileSync(terraform, ["version", "-json"], { encoding: "utf8", env: { ...process.env, TF_CLI_CONFIG_FILE: "/dev/null" } });
  return (JSON.parse(out) as { terraform_version: string }).terraform_version;
}

/**
 * The root of a filesystem mirror holding `registry.terraform.io/hashicorp/aws/<version>/<os_arch>/`,
 * found at run time (`TF_PROVIDER_MIRROR` overrides). The search skips pseudo file systems,
 * node_modules, `.terraform` working folders and scratch. Returns the mirror root and the
 * versions with an executable provider for this platform.
 */
export function findProviderMirror(): { root: string; versions: string[] } | undefined {
  const fromEnv = process.env.TF_PROVIDER_MIRROR;
  const roots = new Set<string>();
  if (fromEnv) roots.add(path.resolve(fromEnv));
  else {
    let out = "";
    try {
      out = execFileSync(
        "find",
        [
          "/",
          // Pseudo file systems, dependency trees, and working copies (a stack's .terraform/providers, this check's own folder, scratch).
          "(", "-path", "/proc", "-o", "-path", "/sys", "-o", "-path", "/dev", "-o", "-name", "node_modules", "-o", "-name", ".git",
          "-o", "-name", ".terraform", "-o", "-name", ".tf-check", "-o", "-name", ".tmp", ")", "-prune",
          "-o", "-path", "*registry.terraform.io/hashicorp/aws/*", "-name", "terraform-provider-aws_*", "-print",
        ],
        { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"], maxBuffer: 16 * 1024 * 1024 },
      );
    } catch (err) {
      out = String((err as { stdout?: string }).stdout ?? ""); // find exits non-zero on unreadable folders
    }
    for (const line of out.split("\n").filter(Boolean)) {
      const i = line.indexOf("/registry.terraform.io/hashicorp/aws/");
      // Only unpacked mirrors: <root>/registry.terraform.io/hashicorp/aws/<version>/<os_arch>/terraform-provider-aws_*
      if (i > 0 && line.slice(i).split("/").length === 7) roots.add(line.slice(0, i));
    }
  }
  // A usable mirror holds an executable provider binary (a search can also meet copies,
  // test fixtures or partial downloads: skip those).
  for (const root of roots) {
    const versionsDir = path.join(root, "registry.terraform.io", "hashicorp", "aws");
    if (!existsSync(versionsDir)) continue;
    const versions = readdirSync(versionsDir).filter((v) => {
      const platformDir = path.join(versionsDir, v, `${process.platform}_${process.arch === "x64" ? "amd64" : process.arch}`);
      if (!existsSync(platformDir)) return false;
      return readdirSync(platformDir).some((f) => {
        if (!f.startsWith("terraform-provider-aws_")) return false;
        const st = statSync(path.join(platformDir, f));
        return st.isFile() && (st.mode & 0o111) !== 0 && st.size > 1_000_000;
      });
    });
    if (versions.length > 0) return { root, versions: versions.sort() };
  }
  return undefined;
}

/** A CLI configuration that installs the AWS provider from the mirror only, nothing from the network. */
export function writeCliConfig(file: string, mirrorRoot: string, pluginCache?: string): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const cache = pluginCache ? `plugin_cache_dir = ${JSON.stringify(pluginCache)}\n` : "";
  writeFileSync(
    file,
    `# Written by scripts/tf-check.ts: providers from the local filesystem mirror only.
${cache}provider_installation {
  filesystem_mirror {
    path    = ${JSON.stringify(mirrorRoot)}
    include = ["registry.terraform.io/hashicorp/aws"]
  }
  direct {
    exclude = ["registry.terraform.io/hashicorp/aws"]
  }
}
`,
  );
}

export interface Step {
  readonly stack: string;
  readonly step: string;
  readonly seconds: number;
  readonly ok: boolean;
  readonly summary?: string;
}

export interface Runner {
  readonly terraform: string;
  readonly env: NodeJS.ProcessEnv;
  readonly logDir: string;
  readonly steps: Step[];
}

export class TerraformError extends Error {}

/** Runs `terraform <args>` in `dir`, logging to `<logDir>/<stack>-<step>.log`; throws with the log tail on failure. */
export function terraform(runner: Runner, stack: string, step: string, dir: string, args: string[], summarize?: (out: string) => string | undefined): Promise<string> {
  const started = process.hrtime.bigint();
  const log = path.join(runner.logDir, `${stack}-${step}.log`);
  return new Promise((resolve, reject) => {
    const child = spawn(runner.terraform, [...args], { cwd: dir, env: runner.env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (d) => (out += d));
    child.stderr.on("data", (d) => (out += d));
    child.on("error", reject);
    child.on("close", (code) => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      writeFileSync(log, `$ terraform ${args.join(" ")}\n${out}`);
      const ok = code === 0;
      runner.steps.push({ stack, step, seconds, ok, summary: ok ? summarize?.(out) : undefined });
      if (ok) resolve(out);
      else {
        const tail = out.trim().split("\n").slice(-25).join("\n");
        reject(new TerraformError(`${stack}: terraform ${step} failed (exit ${code}; log ${path.relative(process.cwd(), log)}):\n${tail}`));
      }
    });
  });
}

export const planSummary = (out: string): string | undefined =>
  out.match(/^Plan: .*$/m)?.[0] ?? (out.includes("No changes.") ? "No changes." : undefined);
export const applySummary = (out: string): string | undefined => out.match(/^Apply complete! .*$/m)?.[0];

export function readJson<T = unknown>(file: string): T {
  return JSON.parse(readFileSync(file, "utf8")) as T;
}

/** Runs tasks with at most `limit` at once (the CI machine has two cores). */
export async function inParallel<T>(items: readonly T[], limit: number, task: (item: T) => Promise<void>): Promise<void> {
  const queue = [...items];
  const errors: unknown[] = [];
  const workers = Array.from({ length: Math.min(limit, queue.length) }, async () => {
    for (let item = queue.shift(); item !== undefined; item = queue.shift()) {
      try {
        await task(item);
      } catch (err) {
        errors.push(err);
      }
    }
  });
  await Promise.all(workers);
  if (errors.length > 0) throw errors[0];
}
