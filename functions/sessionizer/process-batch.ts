import { parseRecord, type RejectReason } from "../core/event";
import type { SessionRow } from "../core/row";
import { applyToWindow, joinWindow, windowKey, windowRow, type Arrival, type WindowKey, type WindowState } from "../core/stagger";
import { toIso } from "../core/timestamp";
import { mapLimit } from "../adapters/concurrency";
import {
  DEFAULT_FROZEN_LEASE_MS,
  compareSequence,
  leaseExpired,
  type Clock,
  type MetricsPort,
  type Positions,
  type RejectedRecord,
  type RejectedSink,
  type RowSink,
  type WindowRecord,
  type WindowStore,
  undeliveredIndexes,
} from "../adapters/ports";

/**
 * The sessionizer's work on one Kinesis batch, with its I/O passed in (the Lambda handler,
 * the local pipeline and the tests plug in their own). The protocol is in docs/ARCHITECTURE.md:
 * dedupe by sequence number, freeze a stored window before emitting it, emit before commit,
 * conditional writes on a version, re-read and redo on a conflict; a window the sweeper claimed
 * is the sweeper's to emit: wait for its retire rather than emitting it too.
 */

/** One Kinesis record, decoded from the Lambda event. */
export interface BatchRecord {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly partitionKey: string;
  /** approximateArrivalTimestamp, epoch ms. */
  readonly arrivalMs: number;
  readonly data: Uint8Array;
}

export interface SessionizerDeps {
  readonly store: WindowStore;
  readonly rows: RowSink;
  readonly rejected: RejectedSink;
  readonly metrics: MetricsPort;
  readonly clock: Clock;
  readonly windowSeconds: number;
  /** Read-plan-write rounds per key before the key is reported unfinished (conflicts). */
  readonly maxRounds?: number;
  /** DynamoDB calls in flight. */
  readonly concurrency?: number;
  /** How long a sweeper's claim is left to the sweeper (default DEFAULT_FROZEN_LEASE_MS); an older one is taken over at once. */
  readonly frozenLeaseMs?: number;
  /**
   * Longest wait (ms, default 5000) for the sweeper to retire a window it claimed within the lease
   * before this call emits and replaces it itself (a stuck sweeper must not stall the shard).
   */
  readonly frozenWaitMs?: number;
  /** Waits between re-reads of claimed windows (tests replace it). */
  readonly sleep?: (ms: number) => Promise<void>;
  readonly log?: (message: string, detail?: Record<string, unknown>) => void;
}

export interface BatchOutcome {
  readonly records: number;
  readonly rejected: number;
  readonly keys: number;
  /** Rows delivered to the row sink (a re-emitted frozen window counts again). */
  readonly rowsEmitted: number;
  /** Records skipped because the key's state already had them (a retried batch). */
  readonly duplicatesSkipped: number;
  /** Conditional writes that lost to another writer and were redone. */
  readonly conflicts: number;
  /** Re-reads of keys whose window the sweeper had claimed (waiting for its retire instead of emitting it too). */
  readonly claimWaits: number;
  /** Keys that could not be finished (delivery or state failure, or too many conflicts). */
  readonly failedKeys: readonly string[];
  /** Per shard, the lowest sequence number not finished: the batch item failures. */
  readonly unfinished: ReadonlyMap<string, string>;
}

interface Entry {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly arrival: Arrival;
}

interface KeyGroup {
  readonly key: WindowKey;
  readonly entries: Entry[];
}

export interface KeyPlan {
  /** Records not yet in the stored state. */
  readonly fresh: readonly Entry[];
  /** The stored window closed by these records, to be frozen (written) before it is emitted. */
  readonly freeze?: { readonly window: WindowState; readonly positions: Positions };
  /** Rows of the windows these records close, in close order. */
  readonly rows: SessionRow[];
  /** The key's open window afterwards and the positions to store with it. */
  readonly window?: WindowState;
  readonly positions: Positions;
}

function advance(positions: Record<string, string>, entry: Entry): void {
  const seen = positions[entry.shardId];
  if (seen === undefined || compareSequence(entry.sequenceNumber, seen) > 0) positions[entry.shardId] = entry.sequenceNumber;
}

/** Pure: what one key's records do to its stored state. */
export function planKey(record: WindowRecord, group: KeyGroup, windowSeconds: number): KeyPlan {
  const fresh = group.entries.filter((e) => {
    const seen = record.positions[e.shardId];
    return seen === undefined || compareSequence(e.sequenceNumber, seen) > 0;
  });
  const positions: Record<string, string> = { ...record.positions };
  if (fresh.length === 0) return { fresh, rows: [], window: record.window, positions };
  const rows: SessionRow[] = [];
  let freeze: KeyPlan["freeze"];
  let i = 0;
  let stored = record.window;
  if (stored !== undefined && record.frozen) {
    // Frozen by an earlier attempt of this batch (a retry: emit again, same row) or by a sweeper
    // whose claim processBatch has waited out: closed, whatever the arrival.
    rows.push(windowRow(stored));
    stored = undefined;
  } else if (stored !== undefined) {
    while (i < fresh.length && fresh[i].arrival.arrivalMs < stored.closes_at) {
      stored = joinWindow(stored, fresh[i].arrival.event);
      advance(positions, fresh[i]);
      i += 1;
    }
    if (i < fresh.length) {
      freeze = { window: stored, positions: { ...positions } };
      rows.push(windowRow(stored));
      stored = undefined;
    }
  }
  let window = stored;
  if (i < fresh.length) {
    const rest = fresh.slice(i);
    const applied = applyToWindow(undefined, group.key, rest.map((e) => e.arrival), windowSeconds);
    rows.push(...applied.emitted);
    window = applied.window;
    for (const e of rest) advance(positions, e);
  }
  return { fresh, freeze, rows, window, positions };
}

const utf8 = new TextDecoder("utf-8", { fatal: true });
/** Firehose takes records up to 1000 KiB; a rejected payload is cut well below that. */
const MAX_REJECTED_DATA_CHARS = 256 * 1024;

export function rejectedRecord(record: BatchRecord, rejection: { reason: RejectReason; field?: string; detail: string }): RejectedRecord {
  let data: string;
  let encoding: "base64" | undefined;
  try {
    data = utf8.decode(record.data);
  } catch {
    data = Buffer.from(record.data).toString("base64");
    encoding = "base64";
  }
  const truncated = data.length > MAX_REJECTED_DATA_CHARS;
  if (truncated) data = data.slice(0, MAX_REJECTED_DATA_CHARS);
  return {
    reason: rejection.reason,
    ...(rejection.field !== undefined ? { field: rejection.field } : {}),
    detail: rejection.detail,
    data,
    ...(encoding ? { data_encoding: encoding } : {}),
    ...(truncated ? { data_truncated: true as const } : {}),
    partition_key: record.partitionKey,
    shard_id: record.shardId,
    sequence_number: record.sequenceNumber,
    arrival: toIso(record.arrivalMs),
  };
}

export async function processBatch(records: readonly BatchRecord[], deps: SessionizerDeps): Promise<BatchOutcome> {
  const { store, windowSeconds } = deps;
  const maxRounds = deps.maxRounds ?? 5;
  const concurrency = deps.concurrency ?? 32;
  const leaseMs = deps.frozenLeaseMs ?? DEFAULT_FROZEN_LEASE_MS;
  const maxWaitMs = deps.frozenWaitMs ?? 5000;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const log = deps.log ?? (() => undefined);

  // 1. Parse; group the valid records by key, in arrival (sequence) order.
  const groups = new Map<string, KeyGroup>();
  const rejects: { record: BatchRecord; out: RejectedRecord }[] = [];
  for (const record of records) {
    const parsed = parseRecord(record.data);
    if (!parsed.ok) {
      rejects.push({ record, out: rejectedRecord(record, parsed.rejection) });
      continue;
    }
    const key = windowKey(parsed.event, windowSeconds);
    let group = groups.get(key.key);
    if (group === undefined) groups.set(key.key, (group = { key, entries: [] }));
    group.entries.push({
      shardId: record.shardId,
      sequenceNumber: record.sequenceNumber,
      arrival: { event: parsed.event, arrivalMs: Number.isFinite(record.arrivalMs) ? record.arrivalMs : deps.clock.now() },
    });
  }

  const unfinished = new Map<string, string>();
  const markUnfinished = (shardId: string, seq: string) => {
    const low = unfinished.get(shardId);
    if (low === undefined || compareSequence(seq, low) < 0) unfinished.set(shardId, seq);
  };

  // 2. Rejected records go to their own output, beside the windowing; never failing the batch
  //    for being malformed, only when their delivery fails (then they are retried).
  const rejectedDone = (async () => {
    if (rejects.length === 0) return;
    try {
      await deps.rejected.send(rejects.map((r) => r.out));
      const counts = new Map<RejectReason, number>();
      for (const r of rejects) counts.set(r.out.reason, (counts.get(r.out.reason) ?? 0) + 1);
      deps.metrics.rejected(counts);
    } catch (err) {
      log("rejected records not delivered", { count: rejects.length, error: String(err) });
      for (const r of rejects) markUnfinished(r.record.shardId, r.record.sequenceNumber);
    }
  })();

  // 3. The windows: read, plan, freeze, emit, commit; redo the keys that lost a race.
  const failed = new Set<string>();
  let rowsEmitted = 0;
  let duplicatesSkipped = 0;
  let conflicts = 0;
  let claimWaits = 0;
  let waitedMs = 0;
  let waitDelay = 25;
  let pending = [...groups.keys()];
  let states = new Map<string, WindowRecord>();
  const counted = new Set<string>();
  // Failures are logged once per cause, with a count and a few keys, not once per key.
  const causes = new Map<string, { keys: string[]; error?: string }>();
  const fail = (key: string, why: string, err?: unknown) => {
    failed.add(key);
    const error = err === undefined ? undefined : String((err as Error)?.message ?? err);
    const id = `${why}\u0000${error ?? ""}`;
    const cause = causes.get(id) ?? { keys: [], error };
    cause.keys.push(key);
    causes.set(id, cause);
  };

  for (let round = 0; round < maxRounds && pending.length > 0; ) {
    try {
      states = await store.getMany(pending);
    } catch (err) {
      for (const key of pending) fail(key, "window state read failed", err);
      pending = [];
      break;
    }
    const retry: string[] = [];
    const waiting: string[] = [];
    const ready: { key: string; record: WindowRecord; plan: KeyPlan }[] = [];
    const canWait = waitedMs < maxWaitMs;
    await mapLimit(pending, concurrency, async (key) => {
      let record = states.get(key)!;
      const plan = planKey(record, groups.get(key)!, windowSeconds);
      if (!counted.has(key)) {
        counted.add(key);
        duplicatesSkipped += groups.get(key)!.entries.length - plan.fresh.length;
      }
      if (plan.fresh.length === 0) return;
      if (record.window !== undefined && record.frozen && record.frozenBy === "sweeper" && canWait && !leaseExpired(record, deps.clock.now(), leaseMs)) {
        // The sweeper claimed this window and is emitting it: its row is not ours to emit. Re-read
        // once it has retired it (a tombstone), then open the key's next window.
        waiting.push(key);
        return;
      }
      if (plan.freeze) {
        try {
          const frozen = await store.freeze(record, plan.freeze.window, plan.freeze.positions, { by: "sessionizer", atMs: deps.clock.now() });
          if (frozen === undefined) {
            conflicts += 1;
            retry.push(key);
            return;
          }
          record = frozen;
        } catch (err) {
          fail(key, "window freeze failed", err);
          return;
        }
      }
      ready.push({ key, record, plan });
    });

    // Emit before commit: a crash between the two re-emits the same rows on the retry.
    const rows = ready.flatMap((r) => r.plan.rows);
    const owner = ready.flatMap((r, i) => r.plan.rows.map(() => i));
    let committable = ready;
    if (rows.length > 0) {
      try {
        await deps.rows.send(rows);
        rowsEmitted += rows.length;
        deps.metrics.rows(rows);
      } catch (err) {
        // Only the keys with an undelivered row stay uncommitted (all keys with rows if the sink cannot say).
        const lost = undeliveredIndexes(err) ?? rows.map((_, i) => i);
        const lostSet = new Set(lost);
        const failedOwners = new Set(lost.map((i) => owner[i]));
        for (const i of failedOwners) fail(ready[i].key, "rows not delivered", err);
        const delivered = rows.filter((_, i) => !lostSet.has(i));
        rowsEmitted += delivered.length;
        deps.metrics.rows(delivered);
        committable = ready.filter((_, i) => !failedOwners.has(i));
      }
    }

    await mapLimit(committable, concurrency, async ({ key, record, plan }) => {
      try {
        if (await store.save(record, plan.window!, plan.positions)) return;
        conflicts += 1;
        retry.push(key);
      } catch (err) {
        fail(key, "window write failed", err);
      }
    });
    pending = [...retry, ...waiting];
    // A round with a lost race counts against maxRounds; waiting for the sweeper is bounded by maxWaitMs.
    if (retry.length > 0 || waiting.length === 0) round += 1;
    if (waiting.length > 0) {
      claimWaits += waiting.length;
      const delay = Math.min(waitDelay, Math.max(1, maxWaitMs - waitedMs));
      await sleep(delay);
      waitedMs += delay;
      waitDelay = Math.min(waitDelay * 2, 1000);
    }
  }
  for (const key of pending) fail(key, `window still conflicting after ${maxRounds} rounds`);

  for (const [id, cause] of causes) {
    log(id.split("\u0000")[0], { keys: cause.keys.length, sample: cause.keys.slice(0, 5), error: cause.error });
  }
  await rejectedDone;
  for (const key of failed) for (const e of groups.get(key)!.entries) markUnfinished(e.shardId, e.sequenceNumber);
  deps.metrics.flush();

  return {
    records: records.length,
    rejected: rejects.length,
    keys: groups.size,
    rowsEmitted,
    duplicatesSkipped,
    conflicts,
    claimWaits,
    failedKeys: [...failed],
    unfinished,
  };
}
