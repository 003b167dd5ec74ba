import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import type { SessionRow } from "../functions/core/row";
import { athenaAnswers, type ExpectedRow } from "../loadgen/expected";
import { LocalLake, lakeLayout } from "../local/lake";
import { main as verifyCli } from "../local/verify-cli";
import { formatReport, partitionPredicate, scopedDurationQuery, verify, type ExpectedFile } from "../local/verify";
import { loadConfig } from "../config/load";
import { REJECTED_COLUMNS, rejectedRecordSchema } from "../functions/core/rejected";
import { glueColumnsFromSchema } from "../modules/glue-columns";

/** The verifier over a hand-made lake (DuckDB), and the verify CLI's exit status and report.json. */

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

const now = new Date();
const pad = (n: number) => String(n).padStart(2, "0");
const hour = `year=${now.getUTCFullYear()}/month=${pad(now.getUTCMonth() + 1)}/day=${pad(now.getUTCDate())}/hour=${pad(now.getUTCHours())}`;
const bucket = Math.floor(now.getTime() / 60_000) * 60;

function row(user: number, device: string, events: number, duration: number, opened = 0): SessionRow {
  const begin = bucket * 1000 + 1000;
  const id = `${user}_${device.slice(0, 3).toUpperCase()}${bucket}`;
  return {
    session_id: id,
    user_id: user,
    device_id: device,
    timeagg: new Date(bucket * 1000).toISOString(),
    events,
    beginnavigation: "beer_vitrine_nav",
    endnavigation: "beer_cart",
    beginsession: new Date(begin).toISOString(),
    endsession: new Date(begin + duration * 1000 + 250).toISOString(),
    duration_sec: duration,
    window_id: `${id}@${new Date(begin + opened).toISOString()}`,
    emitted_at: new Date(begin + opened + 60_000).toISOString(),
  };
}

const spec = (r: SessionRow): ExpectedRow => {
  const { window_id: _w, emitted_at: _e, ...rest } = r;
  void _w;
  void _e;
  return rest;
};

const ROWS = [row(170, "mobile", 3, 12), row(170, "mobile", 1, 0, 90_000), row(51, "computer", 5, 40), row(60, "tablet", 2, 12)];
const REJECTED = [
  { reason: "invalid_json", detail: "x", data: "{", partition_key: "1", shard_id: "shardId-000000000000", sequence_number: "1", arrival: now.toISOString() },
  { reason: "missing_field", field: "device_id", detail: "x", data: "{}", partition_key: "1", shard_id: "shardId-000000000000", sequence_number: "2", arrival: now.toISOString() },
];
const RAW_LINES = [...Array.from({ length: 11 }, (_, i) => JSON.stringify({ user_id: 170, device_id: "mobile", client_event: "beer_cart", client_timestamp: i })), "{", "{}"];

function expectedFile(rows: SessionRow[] = ROWS): ExpectedFile {
  const expectedRows = rows.map(spec);
  return {
    version: 1,
    window_seconds: 60,
    seed: 1,
    stream: "s",
    time_range: { first_arrival: now.toISOString(), last_arrival: now.toISOString(), min_client_timestamp: null, max_client_timestamp: null },
    counts: { acknowledged: 13, valid: 11, malformed: 2, late: 1, failed: 0 },
    malformed_by_reason: { invalid_json: 1, missing_field: 1 },
    rows: expectedRows,
    athena: athenaAnswers(expectedRows),
  } as ExpectedFile;
}

let dir: string;
let lakeDir: string;
const layout = lakeLayout(loadConfig());

function writeLake(rows: SessionRow[]): void {
  rmSync(lakeDir, { recursive: true, force: true });
  const put = (prefix: string, name: string, lines: string[]) => {
    const d = path.join(lakeDir, prefix, hour);
    mkdirSync(d, { recursive: true });
    writeFileSync(path.join(d, name), lines.map((l) => `${l}\n`).join(""));
  };
  put(layout.aggregated, "rows-1-a", rows.slice(0, 2).map((r) => JSON.stringify(r)));
  put(layout.aggregated, "rows-1-b", rows.slice(2).map((r) => JSON.stringify(r)));
  put(layout.rawdata, "raw-1-a", RAW_LINES);
  put(layout.rejected, "rejected-1-a", REJECTED.map((r) => JSON.stringify(r)));
}

async function check(expected: ExpectedFile) {
  const lake = await LocalLake.open(lakeDir, layout);
  try {
    return await verify(lake, expected);
  } finally {
    await lake.close();
  }
}

beforeEach(() => {
  dir = mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "verify-lake-"));
  lakeDir = path.join(dir, "lake");
  writeLake(ROWS);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

test("a lake that matches passes every check, through the catalog's SQL files", async () => {
  const report = await check(expectedFile());
  expect(report.checks.filter((c) => !c.passed)).toEqual([]);
  expect(report.passed).toBe(true);
  const hist = report.checks.find((c) => c.name.includes("histogram"));
  expect(hist?.actual).toEqual([
    { duration_sec: 12, sessions: 2 },
    { duration_sec: 40, sessions: 1 },
  ]);
});

test("the views clicks_today and clicks_month run from sql/*.sql on DuckDB", async () => {
  const lake = await LocalLake.open(lakeDir, layout);
  try {
    expect((await lake.query("SELECT count(*) AS n FROM clicks_today"))[0].n).toBe(4);
    expect((await lake.query("SELECT count(*) AS n FROM clicks_month"))[0].n).toBe(4);
    expect((await lake.query("SELECT count(*) AS n FROM rawdata"))[0].n).toBe(13);
    expect(await lake.durationHistogram()).toEqual([
      { duration_sec: 12, sessions: 2 },
      { duration_sec: 40, sessions: 1 },
    ]);
  } finally {
    await lake.close();
  }
});

test("the rejected view reads the error output with the columns of the one rejected-record schema (as the Glue table)", async () => {
  const expectedColumns = [...glueColumnsFromSchema(rejectedRecordSchema).map((c) => [c.name, ({ string: "VARCHAR", boolean: "BOOLEAN" } as Record<string, string>)[c.type]]), ...["year", "month", "day", "hour"].map((p) => [p, "VARCHAR"])];
  expect(expectedColumns.slice(0, REJECTED_COLUMNS.length).map(([n]) => n)).toEqual(REJECTED_COLUMNS);
  const describe = async () => {
    const lake = await LocalLake.open(lakeDir, layout);
    try {
      const cols = (await lake.query("DESCRIBE rejected")).map((r) => [r.column_name, r.column_type]);
      // The hive partition columns (strings, as Athena's) come in DuckDB's order: compare them as a set.
      const n = REJECTED_COLUMNS.length;
      return {
        columns: [...cols.slice(0, n), ...cols.slice(n).sort((a, b) => ["year", "month", "day", "hour"].indexOf(String(a[0])) - ["year", "month", "day", "hour"].indexOf(String(b[0])))],
        rows: await lake.query("SELECT reason, field, data_truncated, sequence_number FROM rejected ORDER BY sequence_number"),
      };
    } finally {
      await lake.close();
    }
  };
  const found = await describe();
  expect(found.columns).toEqual(expectedColumns);
  expect(found.rows).toEqual([
    { reason: "invalid_json", field: null, data_truncated: null, sequence_number: "1" },
    { reason: "missing_field", field: "device_id", data_truncated: null, sequence_number: "2" },
  ]);
  // No rejected object yet: the same columns, no rows.
  rmSync(path.join(lakeDir, layout.rejected), { recursive: true, force: true });
  expect(await describe()).toEqual({ columns: expectedColumns, rows: [] });
});

test("a tampered expectation fails and says where: the check, the session_id, the column", async () => {
  const tampered = expectedFile();
  (tampered.rows[2] as { events: number }).events = 6;
  tampered.malformed_by_reason = { invalid_json: 2 };
  const report = await check(tampered);
  expect(report.passed).toBe(false);
  const failed = report.checks.filter((c) => !c.passed).map((c) => c.name);
  expect(failed).toEqual(expect.arrayContaining([expect.stringMatching(/^rows:/), expect.stringMatching(/^malformed: rejected records by reason/)]));
  const text = formatReport(report);
  expect(text).toMatch(/FAIL {2}rows:/);
  expect(text).toContain(`session_id 51_COM${bucket} (differs)`);
  expect(text).toMatch(/events\s+6\s+5\s+<-/);
  expect(text).toMatch(/checks FAILED/);
});

test("duplicates (at least once): identical copies of a window_id count once; differing copies fail", async () => {
  writeLake([...ROWS, ROWS[0]]);
  let report = await check(expectedFile());
  expect(report.passed).toBe(true);
  expect(report.checks[0].summary).toContain("1 duplicate copies");

  writeLake([...ROWS, { ...ROWS[0], events: 99 }]);
  report = await check(expectedFile());
  expect(report.passed).toBe(false);
  expect(report.checks.find((c) => c.name.startsWith("duplicates"))?.passed).toBe(false);
});

test("a missing row is reported as expected-not-found", async () => {
  writeLake(ROWS.slice(0, 3));
  const report = await check(expectedFile());
  expect(report.passed).toBe(false);
  expect(formatReport(report)).toContain(`session_id 60_TAB${bucket} (expected, not found)`);
});

test("verify CLI: exit 0 and report.json on a match, 1 on a mismatch, 2 on a bad expected file", async () => {
  const out = jest.spyOn(process.stdout, "write").mockImplementation(() => true);
  const err = jest.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    const file = path.join(dir, "expected.json");
    writeFileSync(file, JSON.stringify(expectedFile()));
    expect(await verifyCli(["--expected", file, "--lake", lakeDir])).toBe(0);
    const report = JSON.parse(readFileSync(path.join(dir, "report.json"), "utf8"));
    expect(report.passed).toBe(true);
    for (const c of report.checks) expect(Object.keys(c)).toEqual(expect.arrayContaining(["name", "passed", "expected", "actual"]));

    const bad = expectedFile();
    bad.counts.acknowledged = 14;
    writeFileSync(file, JSON.stringify(bad));
    expect(await verifyCli(["--expected", file, "--lake", lakeDir, "--report", path.join(dir, "r2.json")])).toBe(1);
    const r2 = JSON.parse(readFileSync(path.join(dir, "r2.json"), "utf8"));
    expect(r2.checks.find((c: { passed: boolean }) => !c.passed)).toMatchObject({ name: "counts: raw records delivered = acknowledged", expected: 14, actual: 13 });

    writeFileSync(file, "{}");
    expect(await verifyCli(["--expected", file, "--lake", lakeDir])).toBe(2);
    expect(await verifyCli(["--expected", file])).toBe(2);
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
});

test("an empty lake reads as empty views, and the checks fail rather than crash", async () => {
  rmSync(lakeDir, { recursive: true, force: true });
  mkdirSync(lakeDir);
  const report = await check(expectedFile());
  expect(report.passed).toBe(false);
  expect(report.checks.find((c) => c.name.startsWith("rows:"))?.actual).toMatchObject({ rows: 0, missing: 4 });
});

test("the Athena scope: partition predicate over the run's hours and the duration query over it", () => {
  const scope = { fromMs: Date.parse("2026-12-31T22:10:00Z"), toMs: Date.parse("2027-01-01T01:00:00Z") };
  expect(partitionPredicate(scope)).toBe(
    "((year = '2026' AND month = '12' AND day = '31' AND hour BETWEEN '22' AND '23') OR (year = '2027' AND month = '01' AND day = '01' AND hour BETWEEN '00' AND '01'))",
  );
  const file = readFileSync(path.join(__dirname, "..", "sql", "sessions_by_duration.sql"), "utf8").trim().replace(/;\s*$/, "");
  expect(scopedDurationQuery(scope)).toBe(`WITH clicks_today AS (SELECT * FROM aggregated WHERE ${partitionPredicate(scope)})\n${file}`);
  expect(scopedDurationQuery(undefined)).toBe(`WITH clicks_today AS (SELECT * FROM aggregated)\n${file}`);
});

/** Moves every partition folder of the lake to another day (as a run verified the next day, or across midnight). */
function moveLakeTo(day: Date): string {
  const other = `year=${day.getUTCFullYear()}/month=${pad(day.getUTCMonth() + 1)}/day=${pad(day.getUTCDate())}/hour=${pad(now.getUTCHours())}`;
  for (const prefix of [layout.aggregated, layout.rawdata, layout.rejected]) {
    const from = path.join(lakeDir, prefix, hour);
    const to = path.join(lakeDir, prefix, other);
    mkdirSync(path.dirname(to), { recursive: true });
    renameSync(from, to);
    rmSync(path.join(lakeDir, prefix, ...hour.split("/").slice(0, 3)), { recursive: true, force: true });
  }
  return other;
}

test("a lake whose partitions landed on another day still passes: the histogram reads the run's rows, the views check is skipped", async () => {
  const yesterday = new Date(now.getTime() - 2 * 86_400_000);
  moveLakeTo(yesterday);
  const lake = await LocalLake.open(lakeDir, layout);
  try {
    // the view itself (current_date) sees nothing; the scoped query, the same file text, sees the run
    expect((await lake.query("SELECT count(*) AS n FROM clicks_today"))[0].n).toBe(0);
    expect(await lake.query(scopedDurationQuery(undefined))).toEqual([
      { duration_sec: 12, sessions: 2 },
      { duration_sec: 40, sessions: 1 },
    ]);
    const scope = { fromMs: yesterday.getTime() - 3600_000, toMs: yesterday.getTime() + 3600_000 };
    expect(await lake.query(scopedDurationQuery(scope))).toEqual([
      { duration_sec: 12, sessions: 2 },
      { duration_sec: 40, sessions: 1 },
    ]);
    const report = await verify(lake, expectedFile());
    expect(report.checks.filter((c) => !c.passed && c.skipped === undefined)).toEqual([]);
    expect(report.checks.find((c) => c.name.includes("histogram"))?.passed).toBe(true);
    const views = report.checks.find((c) => c.name.startsWith("views:"));
    expect(views?.skipped).toMatch(/landed on \d{4}-\d{2}-\d{2}, not only today \(\d{4}-\d{2}-\d{2}\): the views filter by current_date/);
    expect(report.passed).toBe(true);
    expect(formatReport(report)).toMatch(/SKIP {2}views: clicks_today/);
  } finally {
    await lake.close();
  }
});

test("a lake whose partitions are today: the views clicks_today and clicks_month return the run's rows", async () => {
  const report = await check(expectedFile());
  expect(report.checks.find((c) => c.name.startsWith("views:"))).toMatchObject({ passed: true, actual: { clicks_today: 4, clicks_month: 4 } });
  // one object on another day: the views cannot see the whole run, so the check is skipped and says why
  const lost = path.join(lakeDir, layout.aggregated, "year=2001/month=01/day=01/hour=00");
  mkdirSync(lost, { recursive: true });
  writeFileSync(path.join(lost, "rows-1-c"), `${JSON.stringify(row(99, "tablet", 1, 0))}\n`);
  const lake = await LocalLake.open(lakeDir, layout);
  try {
    const r = await verify(lake, expectedFile());
    expect(r.checks.find((c) => c.name.startsWith("views:"))?.skipped).toMatch(/landed on 2001-01-01, \d{4}/);
  } finally {
    await lake.close();
  }
});

test("the local raw check: the raw lake as the multiset of the acknowledged payloads", async () => {
  const { rawLakeCheck } = await import("../local/pipeline");
  const events = path.join(dir, "events.ndjson");
  writeFileSync(events, RAW_LINES.map((data) => JSON.stringify({ arrival: now.toISOString(), data, partition_key: "1" })).join("\n") + "\n");
  const rawDir = path.join(lakeDir, layout.rawdata);
  expect(rawLakeCheck(events, rawDir)).toMatchObject({ passed: true, actual: { records: 13, missing: 0, unexpected: 0 } });
  writeFileSync(events, [...RAW_LINES, "lost"].map((data) => JSON.stringify({ arrival: now.toISOString(), data, partition_key: "1" })).join("\n") + "\n");
  expect(rawLakeCheck(events, rawDir)).toMatchObject({ passed: false, actual: { records: 13, missing: 1, first_missing: ["lost"] } });
});

test("verify CLI --no-rejected: the malformed check is SKIP in the report and skipped in report.json, never a pass", async () => {
  const printed: string[] = [];
  const out = jest.spyOn(process.stdout, "write").mockImplementation((s) => {
    printed.push(String(s));
    return true;
  });
  const err = jest.spyOn(process.stderr, "write").mockImplementation(() => true);
  try {
    const file = path.join(dir, "expected.json");
    writeFileSync(file, JSON.stringify(expectedFile()));
    expect(await verifyCli(["--expected", file, "--lake", lakeDir, "--no-rejected"])).toBe(0);
    const text = printed.join("");
    expect(text).toMatch(/SKIP {2}malformed: records at the error output: skipped: --no-rejected/);
    expect(text).not.toMatch(/PASS {2}malformed/);
    expect(text).toMatch(/1 skipped \(not counted as passed\): malformed/);
    const report = JSON.parse(readFileSync(path.join(dir, "report.json"), "utf8"));
    expect(report.passed).toBe(true);
    expect(report.skipped).toEqual(["malformed: records at the error output"]);
    const skipped = report.checks.find((c: { name: string }) => c.name.startsWith("malformed"));
    expect(skipped).toMatchObject({ passed: false, skipped: true, reason: "--no-rejected" });
    for (const c of report.checks.filter((c: { skipped?: boolean }) => !c.skipped)) expect(c.passed).toBe(true);

    // A failing check that ran still fails the run, skipped checks or not.
    const bad = expectedFile();
    bad.counts.acknowledged = 14;
    writeFileSync(file, JSON.stringify(bad));
    expect(await verifyCli(["--expected", file, "--lake", lakeDir, "--no-rejected"])).toBe(1);
    expect(JSON.parse(readFileSync(path.join(dir, "report.json"), "utf8")).passed).toBe(false);
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
});
