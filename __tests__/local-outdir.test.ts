import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { OutDirRefusedError, prepareOutDir, RUN_MARKER } from "../local/pipeline";

/** `--out DIR`: only a new, empty or previous-run folder is cleared; anything else is refused, untouched. */

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "local-outdir-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const previous = (out: string) => ["lake", "dlq", "logs", "report.json"].map((p) => path.join(out, p));

function homeLike(out: string) {
  mkdirSync(path.join(out, "logs"), { recursive: true });
  writeFileSync(path.join(out, "logs", "keep.log"), "mine");
  writeFileSync(path.join(out, "report.json"), "{}");
  writeFileSync(path.join(out, ".bashrc"), "x");
}

test("a folder that is not empty and has no marker is refused, and nothing in it is deleted", () => {
  homeLike(dir);
  expect(() => prepareOutDir(dir, previous(dir))).toThrow(OutDirRefusedError);
  expect(() => prepareOutDir(dir, previous(dir))).toThrow(new RegExp(`refusing to use ${dir} as the out folder: it is not empty and has no \\.local-run\\.json`));
  expect(readFileSync(path.join(dir, "logs", "keep.log"), "utf8")).toBe("mine");
  expect(existsSync(path.join(dir, "report.json"))).toBe(true);
  expect(existsSync(path.join(dir, RUN_MARKER))).toBe(false);
  // a marker that is not a run's (not the JSON a run writes) does not count
  writeFileSync(path.join(dir, RUN_MARKER), "hello");
  expect(() => prepareOutDir(dir, previous(dir))).toThrow(OutDirRefusedError);
  expect(readFileSync(path.join(dir, "logs", "keep.log"), "utf8")).toBe("mine");
});

test("a missing or empty folder is used and marked with the run's start time; a marked one is cleared", () => {
  const fresh = path.join(dir, "a", "b");
  const started = new Date("2026-12-03T11:00:00.000Z");
  prepareOutDir(fresh, previous(fresh), started);
  expect(JSON.parse(readFileSync(path.join(fresh, RUN_MARKER), "utf8"))).toMatchObject({ started_at: started.toISOString() });

  const empty = path.join(dir, "empty");
  mkdirSync(empty);
  prepareOutDir(empty, previous(empty));
  expect(readdirSync(empty)).toEqual([RUN_MARKER]);

  // the previous run's output goes, the rest stays (events.ndjson / expected.json are rewritten by the load)
  mkdirSync(path.join(empty, "lake", "aggregated"), { recursive: true });
  mkdirSync(path.join(empty, "logs"));
  writeFileSync(path.join(empty, "report.json"), "{}");
  writeFileSync(path.join(empty, "expected.json"), "{}");
  prepareOutDir(empty, previous(empty), started);
  expect(readdirSync(empty).sort()).toEqual([RUN_MARKER, "expected.json"].sort());
  expect(JSON.parse(readFileSync(path.join(empty, RUN_MARKER), "utf8")).started_at).toBe(started.toISOString());
});

test("npm run local -- --out <a folder that is not a run's>: exit 2, the folder named, what to do, nothing deleted", () => {
  homeLike(dir);
  const r = spawnSync(process.execPath, ["--import", "tsx", "local/cli.ts", "--out", dir, "--no-progress"], {
    cwd: path.join(__dirname, ".."),
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    encoding: "utf8",
    timeout: 60_000,
  });
  expect(r.status).toBe(2);
  expect(r.stderr).toContain(`local: refusing to use ${dir} as the out folder`);
  expect(r.stderr).toContain("Give --out a new or empty folder");
  expect(r.stderr).not.toMatch(/\n\s+at .+:\d+/);
  expect(readFileSync(path.join(dir, "logs", "keep.log"), "utf8")).toBe("mine");
  expect(existsSync(path.join(dir, "report.json"))).toBe(true);
});
