import type { KinesisStreamBatchResponse, KinesisStreamEvent } from "aws-lambda";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { loadgenLoad } from "../local/loadgen-runner";
import { runLocalPipeline, type LocalRunResult } from "../local/pipeline";
import { main as verifyCli } from "../local/verify-cli";
import { formatReport, readExpectedFile } from "../local/verify";

/**
 * End to end: the load generator into kinesalite, the unchanged handlers on dynalite and the
 * local Firehose, DuckDB over the lake, the verifier. With faults injected on the way (a crashed
 * invocation, an invocation that fails after doing its work, Firehose entries refused), so the
 * retry and at-least-once paths are part of what has to come out right.
 */

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
jest.setTimeout(120_000);

let out: string;
let result: LocalRunResult;
let invocations = 0;
let refused = 0;

beforeAll(async () => {
  out = mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "local-pipeline-"));
  let aggregatedCalls = 0;
  result = await runLocalPipeline({
    outDir: out,
    load: loadgenLoad({ events: 2500, rate: 250, lateFraction: 0.04, malformedFraction: 0.03, seed: 7 }),
    windowSeconds: 3,
    // a grace well above the lag even when jest runs other suites beside this one
    graceSeconds: 6,
    shards: 3,
    sweepIntervalMs: 500,
    bufferIntervalSeconds: 1,
    progressIntervalMs: 0,
    wrapSessionizer:
      (handler) =>
      async (event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> => {
        const n = ++invocations;
        if (n === 1) throw new Error("injected: the invocation crashed before doing anything");
        const response = await handler(event);
        if (n === 3) throw new Error("injected: the invocation timed out after doing its work");
        return response;
      },
    failFirehoseEntry: (stream, index) => {
      // The first entry of every fifth call to `aggregated` is refused: counted by calls, not by
      // entries, so it fires whatever the batch sizes turn out to be.
      if (!stream.endsWith("-aggregated") || index !== 0) return undefined;
      aggregatedCalls++;
      if (aggregatedCalls % 5 === 0) {
        refused++;
        return "ServiceUnavailableException";
      }
      return undefined;
    },
  });
});

afterAll(() => {
  if (out) rmSync(out, { recursive: true, force: true });
});

test("every check passes, faults included", () => {
  if (!result.report.passed) throw new Error(formatReport(result.report));
  expect(result.report.checks.length).toBeGreaterThanOrEqual(15);
  expect(result.report.checks.every((c) => c.passed)).toBe(true);
  // both injected function errors split their batch (BisectBatchOnFunctionError)
  expect(result.stats.bisections + result.stats.retries).toBeGreaterThanOrEqual(2);
  expect(refused).toBeGreaterThan(0);
});

test("the run had late and malformed records, on several shards, and several windows closing", () => {
  const expected = readExpectedFile(result.expectedFile);
  expect(expected.counts.acknowledged).toBe(2500);
  expect(expected.counts.late).toBeGreaterThan(0);
  expect(expected.counts.malformed).toBeGreaterThan(0);
  expect(Object.keys(expected.malformed_by_reason).length).toBeGreaterThan(1);
  expect(expected.athena.row_count).toBeGreaterThan(100);
  expect(result.stats.shards).toBe(3);
});

test("the lake is on disk: Hive-style partitions of NDJSON objects for rows, raw records and rejected records", () => {
  const hive = /^year=\d{4}$/;
  for (const prefix of ["aggregated", "rawdata", path.join("errors", "rejected")]) {
    const dir = path.join(result.lakeDir, prefix);
    expect(existsSync(dir)).toBe(true);
    const years = readdirSync(dir).filter((d) => hive.test(d));
    expect(years.length).toBeGreaterThan(0);
    const y = path.join(dir, years[0]);
    const m = path.join(y, readdirSync(y)[0]);
    const d = path.join(m, readdirSync(m)[0]);
    const h = path.join(d, readdirSync(d)[0]);
    expect(path.relative(dir, h)).toMatch(/^year=\d{4}\/month=\d{2}\/day=\d{2}\/hour=\d{2}$/);
    const file = readdirSync(h)[0];
    const text = readFileSync(path.join(h, file), "utf8");
    expect(text.endsWith("\n")).toBe(true);
  }
  const firstRowFile = readFileSync(path.join(out, "report.json"), "utf8");
  expect(JSON.parse(firstRowFile).passed).toBe(true);
});

test("a tampered expectation makes the verifier fail and say where", async () => {
  const expected = JSON.parse(readFileSync(result.expectedFile, "utf8"));
  const victim = expected.rows[5];
  victim.endnavigation = "tampered";
  expected.counts.malformed += 1;
  const file = path.join(out, "tampered.json");
  writeFileSync(file, JSON.stringify(expected));
  const printed: string[] = [];
  const spy = jest.spyOn(process.stdout, "write").mockImplementation((s) => {
    printed.push(String(s));
    return true;
  });
  let code: number;
  try {
    code = await verifyCli(["--expected", file, "--lake", result.lakeDir, "--report", path.join(out, "tampered-report.json")]);
  } finally {
    spy.mockRestore();
  }
  expect(code).toBe(1);
  const text = printed.join("");
  expect(text).toContain(`session_id ${victim.session_id} (differs)`);
  expect(text).toMatch(/endnavigation\s+"tampered"\s+".*"\s+<-/);
  const report = JSON.parse(readFileSync(path.join(out, "tampered-report.json"), "utf8"));
  expect(report.passed).toBe(false);
  const failed = report.checks.filter((c: { passed: boolean }) => !c.passed).map((c: { name: string }) => c.name);
  expect(failed).toEqual(["rows: stagger rows (multiset on the SPEC columns, duplicates removed)", "counts: rejected records at the error output = malformed"]);
  expect(report.checks.find((c: { name: string }) => c.name.startsWith("rows:")).actual.first_missing[0].session_id).toBe(victim.session_id);
});
