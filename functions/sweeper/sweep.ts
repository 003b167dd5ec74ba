import type { SessionRow } from "../core/row";
import { windowRow } from "../core/stagger";
import { mapLimit } from "../adapters/concurrency";
import {
  DEFAULT_FROZEN_LEASE_MS,
  leaseExpired,
  undeliveredIndexes,
  type MetricsPort,
  type RowSink,
  type WindowRecord,
  type WindowStore,
} from "../adapters/ports";

/**
 * The sweeper's work for one tick: per sweep partition, query the due-time index for windows
 * closed at least `graceSeconds` ago; claim each (a conditional freeze on its version), emit
 * the claimed rows, then replace each by a tombstone conditionally on the claimed version.
 * A claim that loses to a sessionizer write is skipped: that window was extended or closed there.
 * A window a sessionizer froze (it is emitting it and will replace it) is left alone for the
 * lease; only a freeze older than that (the sessionizer crashed and was not retried) is taken over.
 */
export interface SweepDeps {
  readonly store: WindowStore;
  readonly rows: RowSink;
  readonly metrics: MetricsPort;
  readonly sweepPartitions: number;
  readonly graceSeconds: number;
  /** How long a sessionizer's freeze is left to the sessionizer (default DEFAULT_FROZEN_LEASE_MS). */
  readonly frozenLeaseMs?: number;
  /** Most windows handled in one tick (the rest wait for the next tick). */
  readonly maxWindows?: number;
  readonly concurrency?: number;
  readonly log?: (message: string, detail?: Record<string, unknown>) => void;
}

export interface SweepResult {
  /** Windows emitted and retired. */
  swept: number;
  /** Due windows found in the index. */
  due: number;
  /** Claims lost to a concurrent sessionizer write (the window was not emitted here). */
  claimsLost: number;
  /** Due windows a sessionizer froze within the lease: it emits them, not the sweeper. */
  leftToSessionizer: number;
  /** Emitted, but a sessionizer replaced the frozen window before the retire (it took the claim over after waiting for it). */
  superseded: number;
  /** Claimed but not delivered or not retired: they stay frozen and the next tick emits them. */
  failed: number;
  /** The tick stopped at maxWindows; more are due. */
  more: boolean;
  /** The due cut-off used (epoch ms). */
  dueBefore: number;
}

export class SweepDeliveryError extends Error {
  constructor(
    readonly result: SweepResult,
    cause: unknown,
  ) {
    super(`sweeper could not deliver ${result.failed} due window(s); they stay frozen for the next tick: ${String((cause as Error)?.message ?? cause)}`, {
      cause,
    });
    this.name = "SweepDeliveryError";
  }
}

export async function sweep(deps: SweepDeps, nowMs: number): Promise<SweepResult> {
  const maxWindows = deps.maxWindows ?? 20_000;
  const concurrency = deps.concurrency ?? 32;
  const log = deps.log ?? (() => undefined);
  const dueBefore = nowMs - deps.graceSeconds * 1000;
  const perPartition = Math.max(1, Math.ceil(maxWindows / deps.sweepPartitions));
  const partitions = Array.from({ length: deps.sweepPartitions }, (_, i) => String(i));

  const perPartitionFound = await mapLimit(partitions, concurrency, (p) => deps.store.queryDue(p, dueBefore, perPartition));
  const found = perPartitionFound.flat();
  const result: SweepResult = {
    swept: 0,
    due: found.length,
    claimsLost: 0,
    leftToSessionizer: 0,
    superseded: 0,
    failed: 0,
    more: perPartitionFound.some((f) => f.length >= perPartition),
    dueBefore,
  };

  // Claim. An item the sweeper froze (an earlier tick that could not deliver, or stopped after its
  // claim) is already ours. An item a sessionizer froze is that sessionizer's to emit and replace
  // while the lease runs; after it (the sessionizer crashed) the sweeper claims it over.
  const leaseMs = deps.frozenLeaseMs ?? DEFAULT_FROZEN_LEASE_MS;
  const claimed: WindowRecord[] = [];
  await mapLimit(found, concurrency, async (record) => {
    if (record.window === undefined) return;
    if (record.frozen && record.frozenBy !== "sessionizer") {
      claimed.push(record);
      return;
    }
    if (record.frozen && !leaseExpired(record, nowMs, leaseMs)) {
      result.leftToSessionizer += 1;
      return;
    }
    try {
      const frozen = await deps.store.freeze(record, record.window, record.positions, { by: "sweeper", atMs: nowMs });
      if (frozen) claimed.push(frozen);
      else result.claimsLost += 1;
    } catch (err) {
      result.failed += 1;
      log("sweeper claim failed", { key: record.key, error: String(err) });
    }
  });
  if (claimed.length === 0) return result;

  const rows: SessionRow[] = claimed.map((r) => windowRow(r.window!));
  let deliveryError: unknown;
  let delivered = claimed;
  try {
    await deps.rows.send(rows);
    deps.metrics.rows(rows);
  } catch (err) {
    // Undelivered windows stay frozen (the next tick emits them); the delivered ones are retired.
    deliveryError = err;
    const lost = new Set(undeliveredIndexes(err) ?? rows.map((_, i) => i));
    delivered = claimed.filter((_, i) => !lost.has(i));
    result.failed += lost.size;
    deps.metrics.rows(rows.filter((_, i) => !lost.has(i)));
  }
  deps.metrics.flush();

  await mapLimit(delivered, concurrency, async (record) => {
    try {
      if (await deps.store.retire(record, nowMs)) result.swept += 1;
      else result.superseded += 1;
    } catch (err) {
      result.failed += 1;
      log("sweeper retire failed", { key: record.key, error: String(err) });
    }
  });
  if (deliveryError !== undefined) throw new SweepDeliveryError(result, deliveryError);
  return result;
}
