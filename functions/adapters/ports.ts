import type { RejectReason } from "../core/event";
import type { RejectedRecord } from "../core/rejected";
import type { SessionRow } from "../core/row";
import type { WindowState } from "../core/stagger";

/**
 * The small interfaces the sessionizer and the sweeper talk to. The Lambda handlers plug in
 * DynamoDB, Firehose and Powertools Metrics; tests and benchmarks plug in memory or emulators.
 */

/** Kinesis shard id -> the highest sequence number of that shard already applied to a key. */
export type Positions = Readonly<Record<string, string>>;

/** Who froze a window: the sessionizer about to emit the window it closed, or the sweeper's claim. */
export type FreezerRole = "sessionizer" | "sweeper";

/** Recorded with a freeze: who froze the window and when (epoch ms, the freezer's clock). */
export interface FreezeClaim {
  readonly by: FreezerRole;
  readonly atMs: number;
}

/**
 * How long a freeze belongs to its freezer (ms): within it the other party neither emits nor
 * replaces the frozen window; after it, either may (the freezer crashed). Default 2 × the
 * functions' 60 s timeout; the stacks set it from `analytics.timeoutSeconds`.
 */
export const DEFAULT_FROZEN_LEASE_MS = 120_000;

/**
 * Whether a frozen record's lease has run out at `nowMs` (true for an unfrozen record, and for a
 * frozen item written before freezes carried `frozen_at`: nobody holds those).
 */
export function leaseExpired(record: WindowRecord, nowMs: number, leaseMs: number): boolean {
  if (!record.frozen || record.frozenAt === undefined) return true;
  return nowMs - record.frozenAt >= leaseMs;
}

/** What the store holds for one window key (an absent item is `exists: false, version: 0`). */
export interface WindowRecord {
  readonly key: string;
  readonly exists: boolean;
  /** Optimistic-concurrency version; every write is conditional on it. */
  readonly version: number;
  /** The window was closed by the sweeper's claim or by a sessionizer about to emit it. */
  readonly frozen: boolean;
  /** Set on a frozen record: who froze it (absent on items frozen before this was recorded). */
  readonly frozenBy?: FreezerRole;
  /** Set on a frozen record: when it was frozen, epoch ms. */
  readonly frozenAt?: number;
  readonly positions: Positions;
  /** The key's open (or frozen) window; absent in a tombstone. */
  readonly window?: WindowState;
}

export interface WindowStore {
  /** Strongly consistent reads of many keys; every asked key is in the answer. */
  getMany(keys: readonly string[]): Promise<Map<string, WindowRecord>>;
  /**
   * Writes `window` as the key's frozen window (version + 1) with who froze it and when, if the
   * key is still at `expected.version`. Returns the new record, or undefined when another writer
   * got there first.
   */
  freeze(expected: WindowRecord, window: WindowState, positions: Positions, claim: FreezeClaim): Promise<WindowRecord | undefined>;
  /** Writes the key's open window (version + 1) if the key is still at `expected`; false on a conflict. */
  save(expected: WindowRecord, window: WindowState, positions: Positions): Promise<boolean>;
  /**
   * Replaces an emitted frozen window by a tombstone (no window, the positions kept for dedupe,
   * expiring by TTL) if the key is still at `expected.version`; false on a conflict.
   */
  retire(expected: WindowRecord, nowMs: number): Promise<boolean>;
  /** Windows of one sweep partition whose close time is at or before `dueMs` (at most `limit`). */
  queryDue(partition: string, dueMs: number, limit: number): Promise<WindowRecord[]>;
}

export interface RowSink {
  /**
   * Delivers every row or throws (after bounded retries). The error may carry `failedIndexes`
   * (positions in `rows` that were not delivered); without it every row counts as undelivered.
   */
  send(rows: readonly SessionRow[]): Promise<void>;
}

/** A record that failed parsing, as written to the `rejected` delivery stream (schema: functions/core/rejected.ts). */
export type { RejectedRecord } from "../core/rejected";

export interface RejectedSink {
  send(records: readonly RejectedRecord[]): Promise<void>;
}

export interface MetricsPort {
  /** session_duration (Seconds) and session_events (Count), one value each per row. */
  rows(rows: readonly SessionRow[]): void;
  /** rejected_records (Count) with the dimension `reason`. */
  rejected(counts: ReadonlyMap<RejectReason, number>): void;
  /** Writes what was recorded (EMF goes to stdout). */
  flush(): void;
}

export interface Clock {
  now(): number;
}

export const systemClock: Clock = { now: () => Date.now() };

/** Compares Kinesis sequence numbers (decimal strings of up to 128 digits). */
export function compareSequence(a: string, b: string): number {
  if (/^\d+$/.test(a) && /^\d+$/.test(b)) {
    const x = a.replace(/^0+(?=\d)/, "");
    const y = b.replace(/^0+(?=\d)/, "");
    if (x.length !== y.length) return x.length < y.length ? -1 : 1;
  }
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The positions of the undelivered objects when a sink's error says which; undefined when it does not. */
export function undeliveredIndexes(err: unknown): readonly number[] | undefined {
  const idx = (err as { failedIndexes?: unknown })?.failedIndexes;
  return Array.isArray(idx) && idx.every((i) => Number.isInteger(i)) ? (idx as number[]) : undefined;
}
