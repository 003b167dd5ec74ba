/**
 * Test helpers for the load generator tests: an independent, deliberately naive reading of
 * events.ndjson into the rows and Athena answers expected.json must hold. It does not use the
 * core's parser or StaggerEngine.
 */
import { mkdtempSync, readFileSync } from "node:fs";
import * as path from "node:path";

export interface Line {
  arrival: string;
  data: string;
  partition_key: string;
}

export function tmpDir(name: string): string {
  const root = path.resolve(__dirname, "../.tmp");
  require("node:fs").mkdirSync(root, { recursive: true });
  return mkdtempSync(path.join(root, `${name}-`));
}

export function readLines(file: string): Line[] {
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l) as Line);
}

type Naive =
  | { ok: true; user_id: number; device_id: string; client_event: string; ts: number }
  | { ok: false; reason: string };

const SEED_TS = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})\.(\d{3})(Z?)$/;

function naiveTimestamp(v: unknown): number | undefined {
  if (typeof v === "number") return Number.isInteger(v) && v >= 0 ? v : undefined;
  if (typeof v !== "string") return undefined;
  const m = SEED_TS.exec(v);
  if (!m) return undefined;
  const ms = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6], +m[7]);
  // a date that does not exist (month 13) rolls over: compare back
  const back = new Date(ms).toISOString();
  return back.slice(0, 23) === `${m[1]}-${m[2]}-${m[3]}T${m[4]}:${m[5]}:${m[6]}.${m[7]}` ? ms : undefined;
}

/** What a record is, by simple rules (the generator makes one defect a malformed record). */
export function naiveParse(data: string): Naive {
  let v: unknown;
  try {
    v = JSON.parse(data);
  } catch {
    return { ok: false, reason: "invalid_json" };
  }
  if (typeof v !== "object" || v === null || Array.isArray(v)) return { ok: false, reason: "not_an_object" };
  const o = v as Record<string, unknown>;
  for (const f of ["user_id", "device_id", "client_event", "client_timestamp"]) if (o[f] === undefined) return { ok: false, reason: "missing_field" };
  if (typeof o.user_id !== "number" || !Number.isInteger(o.user_id)) return { ok: false, reason: "wrong_type" };
  if (typeof o.device_id !== "string" || typeof o.client_event !== "string") return { ok: false, reason: "wrong_type" };
  if (typeof o.client_timestamp !== "string" && typeof o.client_timestamp !== "number") return { ok: false, reason: "wrong_type" };
  if (o.user_id < 0 || o.device_id.length < 1 || o.device_id.length > 10 || o.client_event.length < 1 || o.client_event.length > 32)
    return { ok: false, reason: "out_of_range" };
  const ts = naiveTimestamp(o.client_timestamp);
  if (ts === undefined) return { ok: false, reason: "bad_timestamp" };
  return { ok: true, user_id: o.user_id, device_id: o.device_id, client_event: o.client_event, ts };
}

export interface NaiveRow {
  session_id: string;
  user_id: number;
  device_id: string;
  timeagg: string;
  events: number;
  beginnavigation: string;
  endnavigation: string;
  beginsession: string;
  endsession: string;
  duration_sec: number;
}

export interface NaiveExpected {
  rows: NaiveRow[];
  valid: number;
  malformed: number;
  late: number;
  reasons: Record<string, number>;
  histogram: { duration_sec: number; sessions: number }[];
  treemap: { device_id: string; sum_duration_sec: number; sum_events: number }[];
  /** The smallest distance (ms) of any join or reopen from the window close that decided it. */
  minDistance: number;
  /** 1-based lines of the malformed records, and each one's reason. */
  malformedLines: number[];
  reasonOf: Record<number, string>;
  /** Lines that reopened a key's window (late records), with the row's session_id. */
  lateLines: { line: number; session_id: string }[];
}

/**
 * Windows per key (user, device, client_timestamp floored to W): opened by the key's first
 * record in line order, joined by records arriving less than W after the opening, reopened by
 * any later one. `arrivalOf` gives the arrival time of each line (the send time by default).
 */
export function naiveExpected(lines: Line[], windowSeconds: number, arrivalOf: (line: Line, i: number) => number = (l) => Date.parse(l.arrival)): NaiveExpected {
  const Wms = windowSeconds * 1000;
  interface Win {
    key: string;
    user_id: number;
    device_id: string;
    bucket: number;
    open: number;
    events: number;
    first: string;
    last: string;
    min: number;
    max: number;
  }
  const open = new Map<string, Win>();
  const done: Win[] = [];
  const reasons: Record<string, number> = {};
  let valid = 0;
  let malformed = 0;
  let minDistance = Infinity;
  const malformedLines: number[] = [];
  const reasonOf: Record<number, string> = {};
  const lateLines: { line: number; session_id: string }[] = [];
  lines.forEach((line, i) => {
    const r = naiveParse(line.data);
    if (!r.ok) {
      malformedLines.push(i + 1);
      reasonOf[i + 1] = r.reason;
      malformed++;
      reasons[r.reason] = (reasons[r.reason] ?? 0) + 1;
      return;
    }
    valid++;
    const arrival = arrivalOf(line, i);
    const bucket = Math.floor(r.ts / Wms) * windowSeconds;
    const key = `${r.user_id}|${r.device_id}|${bucket}`;
    const w = open.get(key);
    if (w && arrival - w.open < Wms) {
      minDistance = Math.min(minDistance, w.open + Wms - arrival);
      w.events++;
      w.last = r.client_event;
      w.min = Math.min(w.min, r.ts);
      w.max = Math.max(w.max, r.ts);
      return;
    }
    if (w) {
      minDistance = Math.min(minDistance, arrival - (w.open + Wms));
      done.push(w);
      lateLines.push({ line: i + 1, session_id: `${r.user_id}_${r.device_id.slice(0, 3).toUpperCase()}${bucket}` });
    }
    open.set(key, { key, user_id: r.user_id, device_id: r.device_id, bucket, open: arrival, events: 1, first: r.client_event, last: r.client_event, min: r.ts, max: r.ts });
  });
  done.push(...open.values());
  const rows: NaiveRow[] = done.map((w) => ({
    session_id: `${w.user_id}_${w.device_id.slice(0, 3).toUpperCase()}${w.bucket}`,
    user_id: w.user_id,
    device_id: w.device_id,
    timeagg: new Date(w.bucket * 1000).toISOString(),
    events: w.events,
    beginnavigation: w.first,
    endnavigation: w.last,
    beginsession: new Date(w.min).toISOString(),
    endsession: new Date(w.max).toISOString(),
    duration_sec: Math.floor((w.max - w.min) / 1000),
  }));
  const hist = new Map<number, number>();
  const dev = new Map<string, { sum_duration_sec: number; sum_events: number }>();
  for (const r of rows) {
    if (r.duration_sec > 0) hist.set(r.duration_sec, (hist.get(r.duration_sec) ?? 0) + 1);
    const d = dev.get(r.device_id) ?? { sum_duration_sec: 0, sum_events: 0 };
    d.sum_duration_sec += r.duration_sec;
    d.sum_events += r.events;
    dev.set(r.device_id, d);
  }
  return {
    rows,
    valid,
    malformed,
    late: rows.length - new Set(done.map((w) => w.key)).size,
    reasons,
    histogram: [...hist].map(([duration_sec, sessions]) => ({ duration_sec, sessions })).sort((a, b) => b.sessions - a.sessions || a.duration_sec - b.duration_sec),
    treemap: [...dev].map(([device_id, s]) => ({ device_id, ...s })).sort((a, b) => a.device_id.localeCompare(b.device_id)),
    minDistance,
    malformedLines,
    reasonOf,
    lateLines,
  };
}

/** Rows in a canonical order, for comparing sets of rows. */
export const canonical = <T>(rows: T[]): string[] => rows.map((r) => JSON.stringify(r)).sort();
