import { spawnSync } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";

/** The CLIs' error paths, as a user meets them: one clear line on stderr, no stack, the documented exit status. */

const root = path.join(__dirname, "..");

function run(script: string, args: string[], env: Record<string, string> = {}) {
  const r = spawnSync(process.execPath, ["--import", "tsx", script, ...args], {
    cwd: root,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true", ...env },
    encoding: "utf8",
    timeout: 60_000,
  });
  return { status: r.status, stderr: r.stderr, stdout: r.stdout };
}

const noStack = (text: string) => expect(text).not.toMatch(/\n\s+at .+[:(]\d+/);

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "cli-errors-"));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

test("local: a bad SESSIONIZATION_CONFIG is the ConfigError's message and exit 1; --help still works", () => {
  const bad = path.join(dir, "bad.json");
  writeFileSync(bad, JSON.stringify({ stream: { shardCount: 99 } }));
  const r = run("local/cli.ts", ["--events", "10"], { SESSIONIZATION_CONFIG: bad });
  expect(r.status).toBe(1);
  expect(r.stderr).toContain(`local: Invalid configuration in ${bad}:`);
  expect(r.stderr).not.toContain("ConfigError");
  noStack(r.stderr);
  const help = run("local/cli.ts", ["--help"], { SESSIONIZATION_CONFIG: bad });
  expect(help.status).toBe(0);
  expect(help.stdout).toContain("--out <dir>");
});

test("local: --out under a file is 'cannot write <path>: <reason>' and exit 2", () => {
  const r = run("local/cli.ts", ["--out", "/dev/null/x", "--no-progress"]);
  expect(r.status).toBe(2);
  expect(r.stderr).toContain("local: cannot write /dev/null/x: not a directory (ENOTDIR)\n");
  noStack(r.stderr);
});

test("loadgen: --out under a file is 'cannot write <path>: <reason>' and exit 2", () => {
  const r = run("loadgen/cli.ts", ["--dry-run", "--events", "10", "--out", "/dev/null/x", "--no-progress"]);
  expect(r.status).toBe(2);
  expect(r.stderr.trim()).toBe("loadgen: cannot write /dev/null/x: not a directory (ENOTDIR)");
});

test("loadgen: an events file that cannot be created is named, exit 2", () => {
  const out = path.join(dir, "out");
  const r0 = run("loadgen/cli.ts", ["--dry-run", "--events", "10", "--out", out, "--no-progress"]);
  expect(r0.status).toBe(0);
  rmSync(path.join(out, "events.ndjson"));
  // a folder where the file goes
  require("node:fs").mkdirSync(path.join(out, "events.ndjson"));
  const r = run("loadgen/cli.ts", ["--dry-run", "--events", "10", "--out", out, "--no-progress"]);
  expect(r.status).toBe(2);
  expect(r.stderr.trim()).toMatch(new RegExp(`^loadgen: cannot write ${path.join(out, "events.ndjson").replace(/[.*+?^${}()|[\]\\/]/g, "\\$&")}: .*\\(EISDIR\\)$`));
});
