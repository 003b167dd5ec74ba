import { readFileSync } from "node:fs";
import { z } from "zod";
import { REJECTED_TABLE } from "../functions/core/rejected";
import { SESSION_ROW_COLUMNS, type SessionRow } from "../functions/core/row";
import { parseClientTimestamp, toIso } from "../functions/core/timestamp";
import { readSqlFile, type QueryEngine } from "./lake";

/**
 * The verifier: compares what a pipeline produced (the local lake through DuckDB, or the
 * deployed lake through Athena; both behind `QueryEngine`) with the load generator's
 * expected.json. Checks:
 * - rows: the stagger rows as a multiset on the SPEC section 4 columns. Delivery is at least once,
 *   so rows sharing a `window_id` are copies of one row: they are counted once, and any two copies
 *   that differ fail the `duplicates` check;
 * - counts: raw records = acknowledged, sum(events) = valid records, rejected records = malformed;
 * - the Athena answers: row count, rows with duration_sec > 0, the duration histogram (the
 *   catalog's sql/sessions_by_duration.sql, with the duplicate copies taken back out), the tree-map
 *   sums per device;
 * - malformed records by reason at the error output;
 * - any extra checks the caller adds (the local pipeline: no dead-lettered batch, no failed
 *   delivery, no window left open).
 */

/** SPEC section 4 columns: the row schema without the delivery columns. */
export const SPEC_COLUMNS = SESSION_ROW_COLUMNS.filter((c) => c !== "window_id" && c !== "emitted_at") as (keyof SessionRow)[];
type SpecRow = Pick<SessionRow, (typeof SPEC_COLUMNS)[number]>;

const INT_COLUMNS = new Set<string>(["user_id", "events", "duration_sec"]);
const TIMESTAMP_COLUMNS = new Set<string>(["timeagg", "beginsession", "endsession"]);

const count = z.number().int().min(0);

/** The parts of the load generator's expected.json the verifier reads (loadgen/expected.ts writes it). */
export const expectedFileSchema = z.looseObject({
  version: z.union([z.number(), z.string()]).optional(),
  window_seconds: z.number().int().min(1),
  time_range: z.looseObject({
    first_arrival: z.string().nullable(),
    last_arrival: z.string().nullable(),
    min_client_timestamp: z.string().nullable().optional(),
    max_client_timestamp: z.string().nullable().optional(),
  }),
  counts: z.looseObject({ acknowledged: count, valid: count, malformed: count, late: count.optional(), failed: count.optional() }),
  malformed_by_reason: z.record(z.string(), count),
  rows: z.array(z.looseObject({})),
  athena: z.looseObject({
    row_count: count,
    rows_with_duration: count,
    duration_histogram: z.array(z.object({ duration_sec: z.number(), sessions: z.number() })),
    treemap: z.array(z.object({ device_id: z.string(), sum_duration_sec: z.number(), sum_events: z.number() })),
  }),
});
export type ExpectedFile = z.infer<typeof expectedFileSchema>;

export function readExpectedFile(file: string): ExpectedFile {
  let json: unknown;
  try {
    json = JSON.parse(readFileSync(file, "utf8"));
  } catch (err) {
    throw new Error(`cannot read the expected file ${file}: ${(err as Error).message}`);
  }
  const parsed = expectedFileSchema.safeParse(json);
  if (!parsed.success) {
    const problems = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join(".") || "(root)"}: ${i.message}`);
    throw new Error(`${file} is not a load generator expected.json:\n  ${problems.join("\n  ")}`);
  }
  return parsed.data;
}

export interface Check {
  name: string;
  passed: boolean;
  expected: unknown;
  actual: unknown;
  /** One line for the printed report when the values are long. */
  summary?: string;
  /** Lines printed under a failed check (the first differing rows side by side). */
  details?: string[];
  /** Set when the check did not run: why. A skipped check has `passed: false` and does not count either way. */
  skipped?: string;
}

/** A check that did not run: SKIP in the printed report, `"skipped": true` in report.json, never a pass. */
export function skippedCheck(name: string, reason: string, expected: unknown = null): Check {
  return { name, passed: false, skipped: reason, expected, actual: null, summary: `skipped: ${reason}` };
}

/** Every check that ran passed (skipped checks count neither way). */
export function allPassed(checks: readonly Check[]): boolean {
  return checks.every((c) => c.skipped !== undefined || c.passed);
}

export interface Report {
  passed: boolean;
  source: string;
  checks: Check[];
}

/** Restricts the queries to the hours a run delivered into (Athena: a lake that other loads may share). */
export interface PartitionScope {
  /** Inclusive, epoch ms. */
  fromMs: number;
  toMs: number;
}

/** The partition scope of a run: first arrival to last arrival plus `slackMs` (windows, grace, buffers). */
export function runScope(expected: ExpectedFile, slackMs = 2 * 3600_000): PartitionScope | undefined {
  const first = expected.time_range.first_arrival;
  const last = expected.time_range.last_arrival;
  if (!first || !last) return undefined;
  return { fromMs: Date.parse(first), toMs: Date.parse(last) + slackMs };
}

const pad = (n: number) => String(n).padStart(2, "0");

/** `((year = '2026' AND month = '12' AND day = '03' AND hour BETWEEN '09' AND '11') OR …)`: portable, prunes partitions. */
export function partitionPredicate(scope: PartitionScope): string {
  const days: string[] = [];
  const hour = 3600_000;
  let t = Math.floor(scope.fromMs / hour) * hour;
  const end = Math.floor(scope.toMs / hour) * hour;
  let current: { y: string; m: string; d: string; from: string; to: string } | undefined;
  const emit = () => {
    if (current) days.push(`(year = '${current.y}' AND month = '${current.m}' AND day = '${current.d}' AND hour BETWEEN '${current.from}' AND '${current.to}')`);
  };
  for (let i = 0; t <= end && i < 24 * 400; i++, t += hour) {
    const d = new Date(t);
    const y = String(d.getUTCFullYear());
    const m = pad(d.getUTCMonth() + 1);
    const dd = pad(d.getUTCDate());
    const h = pad(d.getUTCHours());
    if (current && current.y === y && current.m === m && current.d === dd) current.to = h;
    else {
      emit();
      current = { y, m, d: dd, from: h, to: h };
    }
  }
  emit();
  return days.length ? `(${days.join(" OR ")})` : "false";
}

function normalizeRow(row: Record<string, unknown>): SpecRow & { window_id?: string } {
  const out: Record<string, unknown> = {};
  for (const c of [...SPEC_COLUMNS, "window_id"]) {
    const v = row[c];
    if (v === null || v === undefined) out[c] = null;
    else if (INT_COLUMNS.has(c)) out[c] = Number(v);
    else if (TIMESTAMP_COLUMNS.has(c)) {
      const ms = parseClientTimestamp(typeof v === "string" ? v : String(v));
      out[c] = typeof ms === "number" ? toIso(ms) : String(v);
    } else out[c] = String(v);
  }
  if (out.window_id === null) delete out.window_id;
  return out as SpecRow & { window_id?: string };
}

const rowKey = (row: Record<string, unknown>) => JSON.stringify(SPEC_COLUMNS.map((c) => row[c] ?? null));

function byRowOrder(a: Record<string, unknown>, b: Record<string, unknown>): number {
  const ka = `${a.session_id}\u0000${a.timeagg}\u0000${a.beginsession}`;
  const kb = `${b.session_id}\u0000${b.timeagg}\u0000${b.beginsession}`;
  return ka < kb ? -1 : ka > kb ? 1 : 0;
}

/** Up to `limit` differing rows, side by side; rows with one session_id are paired. */
export function sideBySide(missing: Record<string, unknown>[], unexpected: Record<string, unknown>[], limit = 5): string[] {
  const lines: string[] = [];
  const extra = [...unexpected].sort(byRowOrder);
  const used = new Set<number>();
  const pairs: [Record<string, unknown> | undefined, Record<string, unknown> | undefined][] = [];
  for (const m of [...missing].sort(byRowOrder)) {
    const i = extra.findIndex((u, k) => !used.has(k) && u.session_id === m.session_id);
    if (i >= 0) used.add(i);
    pairs.push([m, i >= 0 ? extra[i] : undefined]);
  }
  extra.forEach((u, k) => {
    if (!used.has(k)) pairs.push([undefined, u]);
  });
  const width = 26;
  const cell = (v: unknown) => {
    const s = v === undefined ? "" : JSON.stringify(v);
    return s.length > width ? `${s.slice(0, width - 1)}…` : s.padEnd(width);
  };
  for (const [e, a] of pairs.slice(0, limit)) {
    const id = (e ?? a)?.session_id;
    const what = !a ? "expected, not found" : !e ? "found, not expected" : "differs";
    lines.push(`session_id ${String(id)} (${what})`);
    lines.push(`  ${"column".padEnd(16)}${"expected".padEnd(width)}  ${"actual".padEnd(width)}`);
    for (const c of SPEC_COLUMNS) {
      const ev = e?.[c];
      const av = a?.[c];
      const mark = e && a && JSON.stringify(ev) !== JSON.stringify(av) ? "  <-" : "";
      lines.push(`  ${c.padEnd(16)}${cell(ev)}  ${cell(av)}${mark}`);
    }
  }
  if (pairs.length > limit) lines.push(`… and ${pairs.length - limit} more differing rows (report.json has the first 50)`);
  return lines;
}

export interface VerifyOptions {
  /** Athena: restrict every query to the run's partitions. Local: leave unset (the lake is the run's). */
  readonly scope?: PartitionScope;
  /** The table of the error output's rejected records (default `rejected`: the Glue table, or the local lake's view). */
  readonly rejectedTable?: string;
  /** Skip the malformed checks (no table over the error output), saying so. */
  readonly skipRejected?: string;
  readonly extraChecks?: Check[];
}

interface Histogram {
  duration_sec: number;
  sessions: number;
}

const sortHistogram = (h: Histogram[]) => [...h].sort((a, b) => b.sessions - a.sessions || a.duration_sec - b.duration_sec);

/**
 * The duration query (sql/sessions_by_duration.sql, its text unchanged) over the run's rows: a CTE
 * named `clicks_today` shadows the view, so the file reads the run's rows whatever day they landed
 * on (the view filters by current_date). DuckDB and Athena (Trino) both resolve a CTE before a view.
 * No scope (the local lake is the run's): every row of `aggregated`.
 */
export function scopedDurationQuery(scope: PartitionScope | undefined): string {
  const sql = readSqlFile("sessions_by_duration.sql");
  const code = sql.replace(/--[^\n]*/g, "").trim();
  if (!/\bclicks_today\b/i.test(code)) throw new Error("sql/sessions_by_duration.sql no longer reads clicks_today; update the verifier's scoping");
  if (/^with\b/i.test(code)) throw new Error("sql/sessions_by_duration.sql starts with its own WITH; the verifier's clicks_today CTE cannot be prefixed");
  return `WITH clicks_today AS (SELECT * FROM aggregated${scope ? ` WHERE ${partitionPredicate(scope)}` : ""})\n${sql}`;
}

const VIEWS_CHECK = "views: clicks_today / clicks_month (sql/*.sql) return the run's rows";

/**
 * The views themselves: when every row of the run landed today (UTC, the engine's current_date),
 * `clicks_today` and `clicks_month` must return every delivered row (copies included). A run whose
 * rows landed on another day (or across midnight) cannot be checked through them: skipped, saying why.
 */
async function viewsCheck(engine: QueryEngine, where: string, delivered: number): Promise<Check> {
  const [today] = await engine.query("SELECT CAST(current_date AS varchar) AS today");
  const todayText = String(today?.today ?? "");
  const days = (await engine.query(`SELECT DISTINCT year, month, day FROM aggregated${where}`)).map((r) => `${r.year}-${r.month}-${r.day}`).sort();
  if (days.length === 0) return skippedCheck(VIEWS_CHECK, "no rows delivered");
  if (days.some((d) => d !== todayText)) {
    return skippedCheck(VIEWS_CHECK, `the run's rows landed on ${days.join(", ")}, not only today (${todayText}): the views filter by current_date`);
  }
  const [t] = await engine.query(`SELECT count(*) AS n FROM clicks_today${where}`);
  const [m] = await engine.query(`SELECT count(*) AS n FROM clicks_month${where}`);
  const actual = { clicks_today: Number(t?.n ?? 0), clicks_month: Number(m?.n ?? 0) };
  const expectedCounts = { clicks_today: delivered, clicks_month: delivered };
  return {
    name: VIEWS_CHECK,
    passed: actual.clicks_today === delivered && actual.clicks_month === delivered,
    expected: expectedCounts,
    actual,
    summary: `${delivered} rows delivered today (${todayText}); clicks_today ${actual.clicks_today}, clicks_month ${actual.clicks_month}`,
  };
}

export async function verify(engine: QueryEngine, expected: ExpectedFile, options: VerifyOptions = {}): Promise<Report> {
  const checks: Check[] = [];
  const where = options.scope ? ` WHERE ${partitionPredicate(options.scope)}` : "";

  // --- rows ---
  const columns = [...SPEC_COLUMNS, "window_id"].join(", ");
  const actualRaw = (await engine.query(`SELECT ${columns} FROM aggregated${where}`)).map(normalizeRow);
  const byWindow = new Map<string, (SpecRow & { window_id?: string })[]>();
  const unique: (SpecRow & { window_id?: string })[] = [];
  for (const row of actualRaw) {
    if (!row.window_id) {
      unique.push(row);
      continue;
    }
    const copies = byWindow.get(row.window_id);
    if (copies) copies.push(row);
    else {
      byWindow.set(row.window_id, [row]);
      unique.push(row);
    }
  }
  const conflicting: { window_id: string; copies: Record<string, unknown>[] }[] = [];
  const duplicateCopies: (SpecRow & { window_id?: string })[] = [];
  for (const [id, copies] of byWindow) {
    if (copies.length < 2) continue;
    duplicateCopies.push(...copies.slice(1));
    if (new Set(copies.map(rowKey)).size > 1) conflicting.push({ window_id: id, copies });
  }
  checks.push({
    name: "duplicates: copies of a window_id are identical",
    passed: conflicting.length === 0,
    expected: { conflicting_window_ids: 0 },
    actual: { delivered_rows: actualRaw.length, duplicate_copies: duplicateCopies.length, conflicting_window_ids: conflicting.length, first: conflicting.slice(0, 5) },
    summary: `${actualRaw.length} rows delivered, ${duplicateCopies.length} duplicate copies, ${conflicting.length} window_ids with differing copies`,
    details: conflicting.slice(0, 3).flatMap((c) => sideBySide([c.copies[0]], [c.copies[1]], 1).map((l) => l.replace("(differs)", `(two copies of ${c.window_id})`))),
  });

  const expectedRows = expected.rows.map((r) => normalizeRow(r as Record<string, unknown>));
  const tally = new Map<string, { row: Record<string, unknown>; n: number }>();
  for (const r of expectedRows) {
    const k = rowKey(r);
    const t = tally.get(k);
    if (t) t.n++;
    else tally.set(k, { row: r, n: 1 });
  }
  const unexpected: Record<string, unknown>[] = [];
  for (const r of unique) {
    const t = tally.get(rowKey(r));
    if (t && t.n > 0) t.n--;
    else unexpected.push(stripWindow(r));
  }
  const missing: Record<string, unknown>[] = [];
  for (const t of tally.values()) for (let i = 0; i < t.n; i++) missing.push(stripWindow(t.row));
  missing.sort(byRowOrder);
  unexpected.sort(byRowOrder);
  checks.push({
    name: "rows: stagger rows (multiset on the SPEC columns, duplicates removed)",
    passed: missing.length === 0 && unexpected.length === 0,
    expected: { rows: expectedRows.length },
    actual: { rows: unique.length, missing: missing.length, unexpected: unexpected.length, first_missing: missing.slice(0, 50), first_unexpected: unexpected.slice(0, 50) },
    summary: `expected ${expectedRows.length}, found ${unique.length} (${missing.length} missing, ${unexpected.length} unexpected)`,
    details: sideBySide(missing, unexpected),
  });

  // --- counts ---
  const raw = await engine.query(`SELECT count(*) AS n FROM rawdata${where}`);
  const rawCount = Number(raw[0]?.n ?? 0);
  checks.push(equal("counts: raw records delivered = acknowledged", expected.counts.acknowledged, rawCount));
  const validSum = unique.reduce((n, r) => n + (r.events ?? 0), 0);
  checks.push(equal("counts: sum(events) over the rows = valid records", expected.counts.valid, validSum));

  // --- Athena answers ---
  checks.push(equal("athena: row count", expected.athena.row_count, unique.length));
  checks.push(equal("athena: rows with duration_sec > 0", expected.athena.rows_with_duration, unique.filter((r) => r.duration_sec > 0).length));

  const histogramRows = await engine.query(scopedDurationQuery(options.scope));
  const histogram = new Map<number, number>();
  for (const r of histogramRows) histogram.set(Number(r.duration_sec), Number(r.sessions));
  let adjusted = 0;
  for (const copy of duplicateCopies) {
    if (copy.duration_sec > 0 && histogram.has(copy.duration_sec)) {
      histogram.set(copy.duration_sec, (histogram.get(copy.duration_sec) as number) - 1);
      adjusted++;
    }
  }
  const actualHistogram = sortHistogram([...histogram].filter(([, n]) => n > 0).map(([duration_sec, sessions]) => ({ duration_sec, sessions })));
  const expectedHistogram = sortHistogram(expected.athena.duration_histogram);
  const histCheck = equal("athena: duration histogram (sql/sessions_by_duration.sql)", expectedHistogram, actualHistogram);
  histCheck.summary = `${expectedHistogram.length} durations expected, ${actualHistogram.length} found${adjusted ? ` (${adjusted} duplicate copies taken out)` : ""}`;
  if (!histCheck.passed) histCheck.details = histogramDiff(expectedHistogram, actualHistogram);
  checks.push(histCheck);
  checks.push(await viewsCheck(engine, where, actualRaw.length));

  const tree = new Map<string, { sum_duration_sec: number; sum_events: number }>();
  for (const r of unique) {
    const t = tree.get(r.device_id) ?? { sum_duration_sec: 0, sum_events: 0 };
    t.sum_duration_sec += r.duration_sec;
    t.sum_events += r.events;
    tree.set(r.device_id, t);
  }
  const actualTree = [...tree].map(([device_id, t]) => ({ device_id, ...t })).sort((a, b) => (a.device_id < b.device_id ? -1 : 1));
  const expectedTree = [...expected.athena.treemap].sort((a, b) => (a.device_id < b.device_id ? -1 : 1));
  const treeCheck = equal("athena: tree map sums per device_id", expectedTree, actualTree);
  treeCheck.summary = actualTree.map((t) => `${t.device_id} ${t.sum_duration_sec} s / ${t.sum_events} events`).join(", ") || "no rows";
  if (!treeCheck.passed) treeCheck.summary = `expected ${expectedTree.map((t) => `${t.device_id} ${t.sum_duration_sec} s / ${t.sum_events} events`).join(", ")}; found ${treeCheck.summary}`;
  checks.push(treeCheck);

  // --- malformed at the error output ---
  if (options.skipRejected) {
    checks.push(skippedCheck("malformed: records at the error output", options.skipRejected, expected.counts.malformed));
  } else {
    const table = options.rejectedTable ?? REJECTED_TABLE;
    const rejected = await engine.query(`SELECT * FROM ${table}${where}`);
    const seen = new Set<string>();
    const byReason: Record<string, number> = {};
    for (const r of rejected) {
      const id = rejectedIdentity(r);
      if (seen.has(id)) continue;
      seen.add(id);
      const reason = String(r.reason ?? "(no reason)");
      byReason[reason] = (byReason[reason] ?? 0) + 1;
    }
    checks.push(equal("counts: rejected records at the error output = malformed", expected.counts.malformed, seen.size));
    const reasons = equal("malformed: rejected records by reason", sortKeys(expected.malformed_by_reason), sortKeys(byReason));
    const fmt = (o: Record<string, number>) => Object.entries(o).map(([k, n]) => `${k} ${n}`).join(", ") || "none";
    reasons.summary = reasons.passed ? fmt(byReason) : `expected ${fmt(sortKeys(expected.malformed_by_reason))}; found ${fmt(sortKeys(byReason))}`;
    checks.push(reasons);
  }

  checks.push(...(options.extraChecks ?? []));
  return { passed: allPassed(checks), source: engine.name, checks };
}

function stripWindow(row: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const c of SPEC_COLUMNS) out[c] = row[c];
  return out;
}

/** A rejected record's identity: its Kinesis position when it has one (copies of a retried batch share it). */
function rejectedIdentity(r: Record<string, unknown>): string {
  const shard = r.shard_id ?? r.shardId ?? r.shard;
  const seq = r.sequence_number ?? r.sequenceNumber;
  if (seq !== undefined && seq !== null) return `${String(shard)}:${String(seq)}`;
  const rest = Object.entries(r).filter(([k]) => !["year", "month", "day", "hour"].includes(k));
  return JSON.stringify(rest);
}

function sortKeys(o: Record<string, number>): Record<string, number> {
  return Object.fromEntries(Object.entries(o).filter(([, n]) => n > 0).sort(([a], [b]) => (a < b ? -1 : 1)));
}

export function equal(name: string, expected: unknown, actual: unknown): Check {
  return { name, passed: JSON.stringify(expected) === JSON.stringify(actual), expected, actual };
}

function histogramDiff(expected: Histogram[], actual: Histogram[]): string[] {
  const e = new Map(expected.map((h) => [h.duration_sec, h.sessions]));
  const a = new Map(actual.map((h) => [h.duration_sec, h.sessions]));
  const lines = [`  ${"duration_sec".padEnd(14)}${"expected".padEnd(10)}actual`];
  const keys = [...new Set([...e.keys(), ...a.keys()])].sort((x, y) => x - y);
  let shown = 0;
  for (const k of keys) {
    if (e.get(k) === a.get(k)) continue;
    if (shown++ >= 10) break;
    lines.push(`  ${String(k).padEnd(14)}${String(e.get(k) ?? "-").padEnd(10)}${a.get(k) ?? "-"}`);
  }
  if (shown === 0) lines.push("  (same counts, different order)");
  return lines;
}

function short(v: unknown): string {
  const s = JSON.stringify(v);
  return s.length > 70 ? `${s.slice(0, 69)}…` : s;
}

/** The printed report: one line a check (PASS, FAIL or SKIP), details under the failed ones. */
export function formatReport(report: Report, color = false): string {
  const ok = color ? "\u001b[32mPASS\u001b[0m" : "PASS";
  const bad = color ? "\u001b[31mFAIL\u001b[0m" : "FAIL";
  const skip = color ? "\u001b[33mSKIP\u001b[0m" : "SKIP";
  const lines = [`Verification against ${report.source}`];
  for (const c of report.checks) {
    const text = c.summary ?? (c.passed ? short(c.actual) : `expected ${short(c.expected)}, got ${short(c.actual)}`);
    const mark = c.skipped !== undefined ? skip : c.passed ? ok : bad;
    lines.push(`  ${mark}  ${c.name}: ${text}`);
    if (c.skipped === undefined && !c.passed && c.details?.length) lines.push(...c.details.map((d) => `        ${d}`));
  }
  const skipped = report.checks.filter((c) => c.skipped !== undefined);
  const ran = report.checks.length - skipped.length;
  const failed = report.checks.filter((c) => c.skipped === undefined && !c.passed).length;
  const skippedNote = skipped.length ? ` ${skipped.length} skipped (not counted as passed): ${skipped.map((c) => c.name.split(":")[0]).join(", ")}.` : "";
  lines.push(failed === 0 ? `All ${ran} checks that ran passed.${skippedNote}` : `${failed} of ${ran} checks FAILED.${skippedNote}`);
  return lines.join("\n");
}

/**
 * report.json: {passed, source, skipped: [names], checks: [{name, passed, expected, actual, summary?, skipped?, reason?}]}.
 * A skipped check has `"passed": false, "skipped": true, "reason"`; `passed` overall is true only
 * if every check that ran passed.
 */
export function reportJson(report: Report): string {
  return `${JSON.stringify(
    {
      passed: report.passed,
      source: report.source,
      skipped: report.checks.filter((c) => c.skipped !== undefined).map((c) => c.name),
      checks: report.checks.map((c) => ({
        name: c.name,
        passed: c.passed,
        ...(c.skipped !== undefined ? { skipped: true, reason: c.skipped } : {}),
        expected: c.expected,
        actual: c.actual,
        ...(c.summary ? { summary: c.summary } : {}),
      })),
    },
    null,
    2,
  )}\n`;
}
