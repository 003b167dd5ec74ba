import { parseRecord, type RejectReason } from "../functions/core/event";
import { SESSION_ROW_COLUMNS, type SessionRow } from "../functions/core/row";
import { StaggerEngine, assertWindowSeconds, windowKey } from "../functions/core/stagger";
import { toIso } from "../functions/core/timestamp";

/**
 * The expectations of a load run: a pure function from the acknowledged records (the lines of
 * `events.ndjson`, in send order) to `expected.json`. It runs the core's parser and stagger
 * engine with the send time as the arrival estimate; see docs/loadgen.md for why the estimate
 * is safe for the traffic the generator produces, and `safety` below for the check of it.
 */

/** One line of events.ndjson (the format the replay command reads). */
export interface EventLine {
  /** Send time of the acknowledged attempt, ISO-8601 UTC: the arrival estimate. */
  readonly arrival: string;
  /** The exact record payload. */
  readonly data: string;
  readonly partition_key: string;
}

/** The SPEC section 4 columns of a row; window_id and emitted_at depend on the real arrival. */
export type ExpectedRow = Omit<SessionRow, "window_id" | "emitted_at">;

export const EXPECTED_ROW_COLUMNS = SESSION_ROW_COLUMNS.filter(
  (c): c is keyof ExpectedRow => c !== "window_id" && c !== "emitted_at",
);

export interface Expected {
  readonly version: 1;
  readonly window_seconds: number;
  readonly seed: number;
  readonly stream: string;
  readonly time_range: {
    readonly first_arrival: string | null;
    readonly last_arrival: string | null;
    readonly min_client_timestamp: string | null;
    readonly max_client_timestamp: string | null;
  };
  readonly counts: {
    /** Records the stream acknowledged (= lines of events.ndjson). */
    readonly acknowledged: number;
    /** Acknowledged records the parser accepts. */
    readonly valid: number;
    /** Acknowledged records the parser rejects (they go to the error output, counted by reason). */
    readonly malformed: number;
    /** Valid records that arrive after their key's window closed: each opens another window (one more row). */
    readonly late: number;
    /** Records that were never acknowledged (final PutRecords failures): not in the stream, not in these expectations. */
    readonly failed: number;
  };
  readonly malformed_by_reason: Partial<Record<RejectReason, number>>;
  /**
   * What each injected record produces. `line` is 1-based in events.ndjson. A malformed record goes
   * to the error output with this reason (and field); a late record opens another window of its key,
   * so one more row with this session_id.
   */
  readonly injected: {
    readonly malformed: { line: number; reason: RejectReason; field?: string }[];
    readonly late: { line: number; session_id: string }[];
  };
  /** The rows the pipeline must produce, sorted by session_id, then beginsession. */
  readonly rows: ExpectedRow[];
  readonly athena: {
    readonly row_count: number;
    readonly rows_with_duration: number;
    /** sql/sessions_by_duration.sql's answer: sessions DESC, duration_sec ASC. */
    readonly duration_histogram: { duration_sec: number; sessions: number }[];
    /** The seed's tree map: per device_id, sum(duration_sec) and sum(events); sorted by device_id. */
    readonly treemap: { device_id: string; sum_duration_sec: number; sum_events: number }[];
  };
  /**
   * How far the arrival estimate may be off before a row changes: every valid record's distance
   * (ms, by send time) to the window boundary that decides it. `uncertain` counts records closer
   * than `margin_ms`; the generator's pacing keeps it at 0.
   */
  readonly safety: {
    readonly margin_ms: number;
    /** The slowest acknowledged PutRecords call, ms (null in a dry run): the arrival estimate is off by less than this. */
    readonly max_call_ms: number | null;
    readonly min_boundary_distance_ms: number | null;
    readonly uncertain: number;
  };
}

export interface ExpectedMeta {
  readonly seed: number;
  readonly stream: string;
  /** Records that finally failed (not in `lines`). */
  readonly failed?: number;
  /** The safety margin the generator paced with, ms. */
  readonly marginMs?: number;
  /** The slowest acknowledged PutRecords call, ms. */
  readonly maxCallMs?: number;
}

function compareExpectedRows(a: ExpectedRow, b: ExpectedRow): number {
  const keys: (keyof ExpectedRow)[] = ["session_id", "beginsession", "endsession", "events", "beginnavigation", "endnavigation"];
  for (const k of keys) {
    const x = a[k];
    const y = b[k];
    if (x !== y) return x < y ? -1 : 1;
  }
  return 0;
}

function stripRow(row: SessionRow): ExpectedRow {
  const out: Record<string, unknown> = {};
  for (const c of EXPECTED_ROW_COLUMNS) out[c] = row[c];
  return out as ExpectedRow;
}

export function parseArrival(line: EventLine, index: number): number {
  const ms = Date.parse(line.arrival);
  if (!Number.isFinite(ms) || !/(Z|[+-]\d{2}:?\d{2})$/.test(line.arrival)) {
    throw new RangeError(`line ${index + 1}: arrival is not an ISO-8601 timestamp with a zone: ${JSON.stringify(line.arrival)}`);
  }
  return ms;
}

/** The Athena answers (SPEC section 6) over a set of rows. */
export function athenaAnswers(rows: readonly ExpectedRow[]): Expected["athena"] {
  const byDuration = new Map<number, number>();
  const byDevice = new Map<string, { sum_duration_sec: number; sum_events: number }>();
  let withDuration = 0;
  for (const r of rows) {
    if (r.duration_sec > 0) {
      withDuration++;
      byDuration.set(r.duration_sec, (byDuration.get(r.duration_sec) ?? 0) + 1);
    }
    const d = byDevice.get(r.device_id) ?? { sum_duration_sec: 0, sum_events: 0 };
    d.sum_duration_sec += r.duration_sec;
    d.sum_events += r.events;
    byDevice.set(r.device_id, d);
  }
  return {
    row_count: rows.length,
    rows_with_duration: withDuration,
    duration_histogram: [...byDuration]
      .map(([duration_sec, sessions]) => ({ duration_sec, sessions }))
      .sort((a, b) => b.sessions - a.sessions || a.duration_sec - b.duration_sec),
    treemap: [...byDevice]
      .map(([device_id, s]) => ({ device_id, ...s }))
      .sort((a, b) => (a.device_id < b.device_id ? -1 : a.device_id > b.device_id ? 1 : 0)),
  };
}

/**
 * expected.json for the acknowledged lines (in send order). Pure: the same lines give the same
 * object. Lines must be in non-decreasing arrival order, as the generator writes them.
 */
export function computeExpected(lines: readonly EventLine[], windowSeconds: number, meta: ExpectedMeta): Expected {
  assertWindowSeconds(windowSeconds);
  const W = windowSeconds * 1000;
  const marginMs = meta.marginMs ?? 0;
  const engine = new StaggerEngine(windowSeconds);
  const rows: SessionRow[] = [];
  const malformed: Partial<Record<RejectReason, number>> = {};
  /** Mirror of each key's window close time, for the safety distances only. */
  const closes = new Map<string, number>();
  let valid = 0;
  let malformedCount = 0;
  let late = 0;
  let firstArrival = Infinity;
  let lastArrival = -Infinity;
  let previousArrival = -Infinity;
  let minTs = Infinity;
  let maxTs = -Infinity;
  let minDistance = Infinity;
  let uncertain = 0;
  const injectedMalformed: Expected["injected"]["malformed"] = [];
  const injectedLate: Expected["injected"]["late"] = [];

  lines.forEach((line, i) => {
    const arrival = parseArrival(line, i);
    if (arrival < previousArrival) {
      throw new RangeError(`line ${i + 1}: arrival ${line.arrival} is before the previous line's; lines must be in send order`);
    }
    previousArrival = arrival;
    firstArrival = Math.min(firstArrival, arrival);
    lastArrival = Math.max(lastArrival, arrival);
    const parsed = parseRecord(line.data);
    if (!parsed.ok) {
      malformedCount++;
      malformed[parsed.rejection.reason] = (malformed[parsed.rejection.reason] ?? 0) + 1;
      const { reason, field } = parsed.rejection;
      injectedMalformed.push(field === undefined ? { line: i + 1, reason } : { line: i + 1, reason, field });
      return;
    }
    valid++;
    const event = parsed.event;
    minTs = Math.min(minTs, event.client_timestamp_ms);
    maxTs = Math.max(maxTs, event.client_timestamp_ms);

    const key = windowKey(event, windowSeconds).key;
    const closesAt = closes.get(key);
    let distance: number | undefined;
    if (closesAt === undefined) {
      closes.set(key, arrival + W);
    } else if (arrival < closesAt) {
      distance = closesAt - arrival;
    } else {
      distance = arrival - closesAt;
      closes.set(key, arrival + W);
    }
    if (distance !== undefined) {
      minDistance = Math.min(minDistance, distance);
      if (distance < marginMs) uncertain++;
    }

    const emitted = engine.push(event, arrival);
    if (emitted.length > 0) {
      late++;
      injectedLate.push({ line: i + 1, session_id: emitted[0].session_id });
    }
    rows.push(...emitted);
  });
  rows.push(...engine.closeAll());

  const expectedRows = rows.map(stripRow).sort(compareExpectedRows);
  const iso = (ms: number) => (Number.isFinite(ms) ? toIso(ms) : null);
  const reasons = Object.fromEntries(Object.entries(malformed).sort(([a], [b]) => (a < b ? -1 : 1)));
  return {
    version: 1,
    window_seconds: windowSeconds,
    seed: meta.seed,
    stream: meta.stream,
    time_range: {
      first_arrival: iso(firstArrival),
      last_arrival: iso(lastArrival),
      min_client_timestamp: iso(minTs),
      max_client_timestamp: iso(maxTs),
    },
    counts: {
      acknowledged: lines.length,
      valid,
      malformed: malformedCount,
      late,
      failed: meta.failed ?? 0,
    },
    malformed_by_reason: reasons,
    injected: { malformed: injectedMalformed, late: injectedLate },
    rows: expectedRows,
    athena: athenaAnswers(expectedRows),
    safety: {
      margin_ms: marginMs,
      max_call_ms: meta.maxCallMs ?? null,
      min_boundary_distance_ms: Number.isFinite(minDistance) ? minDistance : null,
      uncertain,
    },
  };
}
