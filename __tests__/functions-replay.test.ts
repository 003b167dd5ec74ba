import { spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import * as path from "node:path";

const ROOT = path.resolve(__dirname, "..");
const docs = JSON.parse(readFileSync(path.resolve(__dirname, "../../shared/testdata/stagger-docs-example.json"), "utf8")) as {
  records: { arrival: string; event: unknown }[];
  expected: Record<string, unknown>[];
};

function run(args: string[], input: string) {
  return spawnSync("npm", ["run", "--silent", "sessionize", "--", ...args], { cwd: ROOT, input, encoding: "utf8", timeout: 30_000 });
}

test("npm run sessionize reproduces the docs example byte-for-byte on the row fields", () => {
  const input = docs.records.map((r) => JSON.stringify(r)).join("\n") + "\n";
  const out = run(["--window", "60"], input);
  expect(out.status).toBe(0);
  const lines = out.stdout.trimEnd().split("\n");
  expect(lines).toHaveLength(2);
  const rows = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(rows.map((r) => JSON.stringify(Object.fromEntries(Object.keys(docs.expected[0]).map((k) => [k, r[k]]))))).toEqual(
    docs.expected.map((e) => JSON.stringify(e)),
  );
  expect(rows.every((r) => typeof r.window_id === "string")).toBe(true);
});

test("rejected records go to stderr with the reason, exit 0; the window defaults to the shared config; unreadable input exits 2", () => {
  const input = [
    JSON.stringify({ arrival: "2026-12-03T11:00:20.000Z", data: "{bad json" }),
    JSON.stringify(docs.records[0]),
    "not a line at all",
  ].join("\n");
  const out = run([], input);
  expect(out.status).toBe(0);
  expect(out.stdout.trimEnd().split("\n").map((l) => JSON.parse(l).events)).toEqual([1]);
  expect(out.stderr.trimEnd().split("\n").map((l) => [JSON.parse(l).line, JSON.parse(l).reason])).toEqual([
    [1, "invalid_json"],
    [3, "invalid_line"],
  ]);

  const missing = run(["--input", path.join(ROOT, ".tmp", "no-such-file.ndjson")], "");
  expect(missing.status).toBe(2);
  expect(missing.stderr).toContain("cannot read the input");

  const badWindow = run(["--window", "0"], "");
  expect(badWindow.status).toBe(1);
  expect(badWindow.stderr).toContain("--window");
});

test("a directory as stdin, or an unreadable --input, is a one-line message on stderr and exit 2", () => {
  const dir = path.join(ROOT, ".tmp");
  mkdirSync(dir, { recursive: true });
  const fd = openSync(dir, "r");
  try {
    const out = spawnSync("npm", ["run", "--silent", "sessionize", "--", "--window", "60"], {
      cwd: ROOT,
      stdio: [fd, "pipe", "pipe"],
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(out.status).toBe(2);
    expect(out.stdout).toBe("");
    expect(out.stderr).toMatch(/^sessionize: cannot read the input: EISDIR[^\n]*\n$/);
  } finally {
    closeSync(fd);
  }
  for (const input of [dir, path.join(dir, "no-such-file.ndjson")]) {
    const out = run(["--window", "60", "--input", input], "");
    expect(out.status).toBe(2);
    expect(out.stdout).toBe("");
    expect(out.stderr).toMatch(/^sessionize: cannot read the input: (EISDIR|ENOENT)[^\n]*\n$/);
  }
});
