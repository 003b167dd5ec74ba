import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
  type GetQueryResultsCommandOutput,
} from "@aws-sdk/client-athena";
import { mockClient } from "aws-sdk-client-mock";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { athenaAnswers, type ExpectedRow } from "../loadgen/expected";
import { AthenaEngine, AthenaQueryError } from "../local/athena";
import { main as verifyCli } from "../local/verify-cli";
import { SPEC_COLUMNS, verify, type ExpectedFile } from "../local/verify";

/** The verifier's Athena path through aws-sdk-client-mock: polling, paging, failures, scoping. */

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";
const athena = mockClient(AthenaClient);
beforeEach(() => athena.reset());

type Table = { columns: [string, string][]; rows: (string | null)[][] };

/** GetQueryResults pages for a table: header row first, `pageSize` rows a page. */
function pages(table: Table, pageSize: number): Partial<GetQueryResultsCommandOutput>[] {
  const header = table.columns.map(([n]) => ({ VarCharValue: n }));
  const all = [header, ...table.rows.map((r) => r.map((v) => (v === null ? {} : { VarCharValue: v })))];
  const out: Partial<GetQueryResultsCommandOutput>[] = [];
  for (let i = 0; i < all.length; i += pageSize) {
    out.push({
      ResultSet: {
        ResultSetMetadata: { ColumnInfo: table.columns.map(([Name, Type]) => ({ Name, Type, Label: Name })) },
        Rows: all.slice(i, i + pageSize).map((Data) => ({ Data })),
      },
      NextToken: i + pageSize < all.length ? `t${i + pageSize}` : undefined,
    });
  }
  return out;
}

function serve(tables: (sql: string) => Table | { fail: string }, pageSize = 2) {
  const queries: string[] = [];
  const byId = new Map<string, Table | { fail: string }>();
  athena.on(StartQueryExecutionCommand).callsFake((input) => {
    const id = `q${queries.length}`;
    queries.push(input.QueryString);
    byId.set(id, tables(input.QueryString));
    return { QueryExecutionId: id };
  });
  const polls = new Map<string, number>();
  athena.on(GetQueryExecutionCommand).callsFake(({ QueryExecutionId }) => {
    const n = (polls.get(QueryExecutionId) ?? 0) + 1;
    polls.set(QueryExecutionId, n);
    const t = byId.get(QueryExecutionId);
    if (n < 3) return { QueryExecution: { QueryExecutionId, Status: { State: n === 1 ? "QUEUED" : "RUNNING" } } };
    if (t && "fail" in t) return { QueryExecution: { QueryExecutionId, Status: { State: "FAILED", StateChangeReason: t.fail, AthenaError: { ErrorType: 1001, ErrorCategory: 2 } } } };
    return { QueryExecution: { QueryExecutionId, Status: { State: "SUCCEEDED" } } };
  });
  athena.on(GetQueryResultsCommand).callsFake(({ QueryExecutionId, NextToken }) => {
    const t = byId.get(QueryExecutionId) as Table;
    const p = pages(t, pageSize);
    const index = NextToken ? p.findIndex((_, i) => i > 0 && p[i - 1].NextToken === NextToken) : 0;
    return p[index];
  });
  return queries;
}

const sleeps: number[] = [];
const engine = (client = new AthenaClient({ region: "eu-west-1" })) =>
  new AthenaEngine({ workgroup: "wg", database: "db", client, sleep: async (ms) => void sleeps.push(ms), timeoutMs: 10_000 });

test("start, poll with backoff, every page of the results, typed values", async () => {
  sleeps.length = 0;
  const queries = serve(() => ({
    columns: [
      ["duration_sec", "bigint"],
      ["sessions", "bigint"],
      ["label", "varchar"],
    ],
    rows: [
      ["12", "5", "a"],
      ["3", "2", null],
      ["40", "1", "c"],
      ["7", "1", "d"],
    ],
  }));
  const rows = await engine().query("SELECT 1");
  expect(queries).toEqual(["SELECT 1"]);
  expect(rows).toEqual([
    { duration_sec: 12, sessions: 5, label: "a" },
    { duration_sec: 3, sessions: 2, label: null },
    { duration_sec: 40, sessions: 1, label: "c" },
    { duration_sec: 7, sessions: 1, label: "d" },
  ]);
  expect(athena.commandCalls(GetQueryResultsCommand)).toHaveLength(3); // 5 rows incl. header, 2 a page
  expect(sleeps).toEqual([200, 400]); // exponential backoff between polls
  const start = athena.commandCalls(StartQueryExecutionCommand)[0].args[0].input;
  expect(start).toMatchObject({ WorkGroup: "wg", QueryExecutionContext: { Database: "db" } });
});

test("a failed query raises a clear error: id, state, Athena's reason, the query", async () => {
  serve(() => ({ fail: "TABLE_NOT_FOUND: line 1:15: Table 'awsdatacatalog.db.aggregated' does not exist" }));
  const err = await engine()
    .query("SELECT * FROM aggregated")
    .catch((e) => e);
  expect(err).toBeInstanceOf(AthenaQueryError);
  expect(err.message).toContain("Athena query q0 FAILED: TABLE_NOT_FOUND");
  expect(err.message).toContain("SELECT * FROM aggregated");
});

test("a query that cannot start says so", async () => {
  athena.on(StartQueryExecutionCommand).rejects(Object.assign(new Error("WorkGroup wg is disabled"), { name: "InvalidRequestException" }));
  await expect(engine().query("SELECT 1")).rejects.toThrow(/could not start: InvalidRequestException: WorkGroup wg is disabled/);
});

test("a query still running at the timeout is stopped", async () => {
  athena.on(StartQueryExecutionCommand).resolves({ QueryExecutionId: "slow" });
  athena.on(GetQueryExecutionCommand).resolves({ QueryExecution: { Status: { State: "RUNNING" } } });
  athena.on(StopQueryExecutionCommand).resolves({});
  const e = new AthenaEngine({ workgroup: "wg", database: "db", client: new AthenaClient({ region: "eu-west-1" }), sleep: async () => undefined, timeoutMs: 1000 });
  await expect(e.query("SELECT 1")).rejects.toThrow(/TIMED OUT/);
  expect(athena.commandCalls(StopQueryExecutionCommand)).toHaveLength(1);
});

// --- the whole verification over Athena ---

const first = "2026-12-03T10:00:05.000Z";
const rowsExpected: ExpectedRow[] = [
  {
    session_id: "170_MOB1796205600",
    user_id: 170,
    device_id: "mobile",
    timeagg: "2026-12-03T10:00:00.000Z",
    events: 3,
    beginnavigation: "beer_vitrine_nav",
    endnavigation: "beer_cart",
    beginsession: "2026-12-03T10:00:01.000Z",
    endsession: "2026-12-03T10:00:13.500Z",
    duration_sec: 12,
  },
  {
    session_id: "51_COM1796205600",
    user_id: 51,
    device_id: "computer",
    timeagg: "2026-12-03T10:00:00.000Z",
    events: 1,
    beginnavigation: "beer_products",
    endnavigation: "beer_products",
    beginsession: "2026-12-03T10:00:02.000Z",
    endsession: "2026-12-03T10:00:02.000Z",
    duration_sec: 0,
  },
];
const expected: ExpectedFile = {
  version: 1,
  window_seconds: 60,
  time_range: { first_arrival: first, last_arrival: "2026-12-03T10:00:40.000Z" },
  counts: { acknowledged: 5, valid: 4, malformed: 1 },
  malformed_by_reason: { invalid_json: 1 },
  rows: rowsExpected,
  athena: athenaAnswers(rowsExpected),
} as ExpectedFile;

/** Athena's current_date in the mock (the rows landed on 2026-12-03). */
let athenaToday = "2026-12-05";

/** Athena's answers for the verifier's statements; timestamps the way Athena prints a Glue timestamp column. */
function deployedLake(sql: string): Table {
  if (sql.startsWith("WITH clicks_today AS (")) return { columns: [["duration_sec", "integer"], ["sessions", "bigint"]], rows: [["12", "2"]] };
  if (sql === "SELECT CAST(current_date AS varchar) AS today") return { columns: [["today", "varchar"]], rows: [[athenaToday]] };
  if (sql.startsWith("SELECT DISTINCT year, month, day FROM aggregated WHERE ")) return { columns: [["year", "varchar"], ["month", "varchar"], ["day", "varchar"]], rows: [["2026", "12", "03"]] };
  if (/^SELECT count\(\*\) AS n FROM clicks_(today|month) WHERE /.test(sql)) return { columns: [["n", "bigint"]], rows: [[String(rowsExpected.length + 1)]] };
  if (sql.includes("FROM aggregated")) {
    const cols = [...SPEC_COLUMNS, "window_id"];
    const asAthena = (r: ExpectedRow) => cols.map((c) => (c === "window_id" ? `${r.session_id}@x` : String((r as Record<string, unknown>)[c]).replace("T", " ").replace("Z", "")));
    return {
      columns: cols.map((c) => [c, ["user_id", "events", "duration_sec"].includes(c) ? "integer" : "varchar"]),
      rows: [...rowsExpected.map(asAthena), asAthena(rowsExpected[0])],
    };
  }
  if (sql.includes("FROM rawdata")) return { columns: [["n", "bigint"]], rows: [["5"]] };
  if (/FROM (rejected|my_rejects) WHERE /.test(sql)) return { columns: [["reason", "varchar"], ["sequence_number", "varchar"]], rows: [["invalid_json", "9"]] };
  throw new Error(`unexpected query ${sql}`);
}

test("verify() over Athena: scoped to the run's partitions, duplicates taken out, every check passing", async () => {
  athenaToday = "2026-12-05";
  const queries = serve(deployedLake, 3);
  const report = await verify(engine(), expected, { scope: { fromMs: Date.parse(first), toMs: Date.parse(first) + 3600_000 }, rejectedTable: "rejected" });
  expect(report.checks.filter((c) => !c.passed && c.skipped === undefined)).toEqual([]);
  expect(report.passed).toBe(true);
  expect(report.source).toContain("Athena (workgroup wg, database db");
  const predicate = "((year = '2026' AND month = '12' AND day = '03' AND hour BETWEEN '10' AND '11'))";
  expect(queries[0]).toBe(`SELECT ${[...SPEC_COLUMNS, "window_id"].join(", ")} FROM aggregated WHERE ${predicate}`);
  expect(queries).toContain(`SELECT count(*) AS n FROM rawdata WHERE ${predicate}`);
  // The duration query: the SQL file's text as it is, after a CTE that shadows the view with the run's rows
  // (the rows landed on 2026-12-03, Athena's today is 2026-12-05: the view itself would return nothing).
  const file = readFileSync(path.join(__dirname, "..", "sql", "sessions_by_duration.sql"), "utf8").trim().replace(/;\s*$/, "");
  expect(queries).toContain(`WITH clicks_today AS (SELECT * FROM aggregated WHERE ${predicate})\n${file}`);
  expect(report.checks.find((c) => c.name.includes("histogram"))?.passed).toBe(true);
  expect(queries.some((q) => /FROM clicks_today WHERE|FROM clicks_month/.test(q))).toBe(false);
  expect(report.checks.find((c) => c.name.startsWith("views:"))).toMatchObject({ skipped: expect.stringContaining("landed on 2026-12-03, not only today (2026-12-05)") });
  // the histogram counted the duplicate copy (12 s: 2 sessions); the verifier took it out
  expect(report.checks.find((c) => c.name.includes("histogram"))?.summary).toContain("1 duplicate copies taken out");
});

test("verify() over Athena: when the run's rows all landed today, the views clicks_today / clicks_month are checked too", async () => {
  athenaToday = "2026-12-03";
  const queries = serve(deployedLake, 3);
  const report = await verify(engine(), expected, { scope: { fromMs: Date.parse(first), toMs: Date.parse(first) + 3600_000 }, rejectedTable: "rejected" });
  const predicate = "((year = '2026' AND month = '12' AND day = '03' AND hour BETWEEN '10' AND '11'))";
  expect(queries).toContain(`SELECT count(*) AS n FROM clicks_today WHERE ${predicate}`);
  expect(queries).toContain(`SELECT count(*) AS n FROM clicks_month WHERE ${predicate}`);
  expect(report.checks.find((c) => c.name.startsWith("views:"))).toMatchObject({ passed: true, actual: { clicks_today: 3, clicks_month: 3 } });
  expect(report.passed).toBe(true);
});

test("verify CLI --athena: exit 0, the malformed checks read the catalog's rejected table (or --rejected-table), scoped", async () => {
  const dir = mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "verify-athena-"));
  const out = jest.spyOn(process.stdout, "write").mockImplementation(() => true);
  const predicate = "((year = '2026' AND month = '12' AND day = '03' AND hour BETWEEN '10' AND '12'))";
  try {
    const file = path.join(dir, "expected.json");
    writeFileSync(file, JSON.stringify(expected));
    for (const [extra, table] of [[[], "rejected"], [["--rejected-table", "my_rejects"], "my_rejects"]] as const) {
      athena.reset();
      const queries = serve(deployedLake, 3);
      const code = await verifyCli(["--expected", file, "--athena", "--workgroup", "wg", "--database", "db", "--region", "eu-west-1", ...extra]);
      expect(code).toBe(0);
      const report = JSON.parse(readFileSync(path.join(dir, "report.json"), "utf8"));
      expect(report.passed).toBe(true);
      const malformed = report.checks.find((c: { name: string }) => c.name.startsWith("malformed"));
      expect(malformed).toMatchObject({ passed: true, actual: { invalid_json: 1 } });
      expect(report.checks.find((c: { name: string }) => c.name.startsWith("counts: rejected"))).toMatchObject({ passed: true, actual: 1 });
      expect(queries).toContain(`SELECT * FROM ${table} WHERE ${predicate}`);
      expect(athena.commandCalls(StartQueryExecutionCommand).every((c) => c.args[0].input.WorkGroup === "wg")).toBe(true);
    }
    // --no-rejected still skips them.
    athena.reset();
    serve(deployedLake, 3);
    expect(await verifyCli(["--expected", file, "--athena", "--workgroup", "wg", "--database", "db", "--region", "eu-west-1", "--no-rejected"])).toBe(0);
    const skipped = JSON.parse(readFileSync(path.join(dir, "report.json"), "utf8")).checks.find((c: { name: string }) => c.name.startsWith("malformed"));
    expect(skipped.summary).toBe("skipped: --no-rejected");
  } finally {
    out.mockRestore();
    rmSync(dir, { recursive: true, force: true });
  }
});

test("verify CLI --athena: a failed query is exit 2 with Athena's reason", async () => {
  serve(() => ({ fail: "HIVE_BAD_DATA: Error parsing field value" }));
  const dir = mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "verify-athena-"));
  const chunks: string[] = [];
  const err = jest.spyOn(process.stderr, "write").mockImplementation((s) => {
    chunks.push(String(s));
    return true;
  });
  try {
    const file = path.join(dir, "expected.json");
    writeFileSync(file, JSON.stringify(expected));
    expect(await verifyCli(["--expected", file, "--athena", "--workgroup", "wg", "--region", "eu-west-1"])).toBe(2);
    expect(chunks.join("")).toContain("FAILED: HIVE_BAD_DATA: Error parsing field value");
  } finally {
    err.mockRestore();
    rmSync(dir, { recursive: true, force: true });
  }
});
