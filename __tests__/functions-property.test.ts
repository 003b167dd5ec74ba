import fc from "fast-check";
import type { ClickEvent } from "../functions/core/event";
import type { SessionRow } from "../functions/core/row";
import { sessionize } from "../functions/core/stagger";
import { MemoryWindowStore } from "../functions/adapters/dynamodb-window-store";
import { MemoryMetrics } from "../functions/adapters/metrics";
import type { RejectedRecord } from "../functions/adapters/ports";
import { processBatch, type BatchRecord } from "../functions/sessionizer/process-batch";
import { sweep } from "../functions/sweeper/sweep";
import { replayText } from "../functions/replay/replay";

/**
 * A second, deliberately naive stagger window: keep every window ever opened in one list and,
 * for each record, look up its key's latest window by scanning the list from the start.
 */
interface Rec {
  user: number;
  device: string;
  name: string;
  tsMs: number;
  arrivalMs: number;
}

function naiveSessions(records: Rec[], W: number): Record<string, unknown>[] {
  const windows: { key: string; user: number; device: string; bucket: number; open: number; recs: Rec[] }[] = [];
  for (const r of records) {
    const bucketMs = r.tsMs - (r.tsMs % (W * 1000));
    const key = [r.user, r.device, bucketMs].join("/");
    let latest: (typeof windows)[number] | undefined;
    for (const w of windows) if (w.key === key) latest = w;
    if (latest !== undefined && r.arrivalMs - latest.open < W * 1000) latest.recs.push(r);
    else windows.push({ key, user: r.user, device: r.device, bucket: bucketMs / 1000, open: r.arrivalMs, recs: [r] });
  }
  const rows = windows.map((w) => {
    const tss = w.recs.map((r) => r.tsMs);
    const min = Math.min(...tss);
    const max = Math.max(...tss);
    const sid = String(w.user) + "_" + w.device.substring(0, 3).toUpperCase() + String(w.bucket);
    return {
      session_id: sid,
      user_id: w.user,
      device_id: w.device,
      timeagg: new Date(w.bucket * 1000).toISOString(),
      events: w.recs.length,
      beginnavigation: w.recs[0].name,
      endnavigation: w.recs[w.recs.length - 1].name,
      beginsession: new Date(min).toISOString(),
      endsession: new Date(max).toISOString(),
      duration_sec: Math.floor((max - min) / 1000),
      window_id: sid + "@" + new Date(w.open).toISOString(),
      emitted_at: new Date(w.open + W * 1000).toISOString(),
    };
  });
  return sortRows(rows);
}

function sortRows<T>(rows: T[]): T[] {
  return [...rows].sort((a, b) => (JSON.stringify(a) < JSON.stringify(b) ? -1 : 1));
}

const BASE = Date.UTC(2026, 11, 3, 10, 0, 0);

const recordsArb = fc
  .array(
    fc.record({
      user: fc.integer({ min: 1, max: 3 }),
      device: fc.constantFrom("mobile", "tv", "computer"),
      name: fc.constantFrom("a", "b", "c", "d", "e", "f"),
      // Whole seconds often, so arrivals land exactly on window closes and bucket edges.
      gapMs: fc.oneof(fc.constant(0), fc.constantFrom(1_000, 5_000, 30_000), fc.integer({ min: 0, max: 20_000 })),
      lagMs: fc.oneof(fc.integer({ min: 0, max: 2_000 }), fc.constantFrom(0, 1_000, 59_999), fc.integer({ min: 0, max: 150_000 })),
    }),
    { minLength: 1, maxLength: 60 },
  )
  .map((xs) => {
    let arrival = BASE;
    return xs.map((x): Rec => {
      arrival += x.gapMs;
      return { user: x.user, device: x.device, name: x.name, arrivalMs: arrival, tsMs: arrival - x.lagMs };
    });
  });

const windowArb = fc.constantFrom(1, 5, 30, 60);

const toEvent = (r: Rec): ClickEvent => ({ user_id: r.user, device_id: r.device, client_event: r.name, client_timestamp_ms: r.tsMs });

describe("the core against a naive oracle", () => {
  test("sessionize() equals the naive stagger window over random arrival orders and lags", () => {
    fc.assert(
      fc.property(recordsArb, windowArb, (records, W) => {
        const rows = sessionize(
          records.map((r) => ({ event: toEvent(r), arrivalMs: r.arrivalMs })),
          W,
        );
        expect(sortRows(rows)).toEqual(naiveSessions(records, W));
      }),
      { numRuns: 400 },
    );
  });

  test("the replay command sorts shuffled input by arrival (distinct arrivals) and matches the oracle", () => {
    fc.assert(
      fc.property(recordsArb, windowArb, fc.infiniteStream(fc.nat()), (records, W, rnd) => {
        // Make arrivals distinct, then shuffle the lines.
        const distinct = records.map((r, i) => ({ ...r, arrivalMs: r.arrivalMs + i }));
        const lines = distinct.map((r) =>
          JSON.stringify({
            arrival: new Date(r.arrivalMs).toISOString(),
            event: { user_id: r.user, device_id: r.device, client_event: r.name, client_timestamp: r.tsMs },
          }),
        );
        const it = rnd[Symbol.iterator]();
        for (let i = lines.length - 1; i > 0; i--) {
          const j = it.next().value % (i + 1);
          [lines[i], lines[j]] = [lines[j], lines[i]];
        }
        const out = replayText(lines.join("\n"), W);
        expect(out.rejected).toEqual([]);
        expect(sortRows(out.rows)).toEqual(naiveSessions(distinct, W));
        const order = out.rows.map((r) => [r.emitted_at, r.session_id].join(" "));
        expect(order).toEqual([...order].sort());
      }),
      { numRuns: 200 },
    );
  });

  test("the sessionizer + sweeper protocol (random batches, sweeps, retried batches) equals the oracle", async () => {
    await fc.assert(
      fc.asyncProperty(
        recordsArb,
        windowArb,
        fc.array(fc.boolean(), { minLength: 60, maxLength: 60 }),
        fc.array(fc.double({ min: 0, max: 0.999, noNaN: true }), { minLength: 60, maxLength: 60 }),
        fc.array(fc.boolean(), { minLength: 60, maxLength: 60 }),
        async (records, W, cuts, sweepAt, retries) => {
          const store = new MemoryWindowStore(3);
          const emitted: SessionRow[] = [];
          const rejected: RejectedRecord[] = [];
          const deps = {
            store,
            rows: { send: async (rows: readonly SessionRow[]) => void emitted.push(...rows) },
            rejected: { send: async (rs: readonly RejectedRecord[]) => void rejected.push(...rs) },
            metrics: new MemoryMetrics(),
            clock: { now: () => 0 },
            windowSeconds: W,
          };
          const batchRecords: BatchRecord[] = records.map((r, i) => ({
            shardId: "shardId-000000000000",
            sequenceNumber: String(49_000_000_000 + i * 7),
            partitionKey: String(r.user),
            arrivalMs: r.arrivalMs,
            data: new TextEncoder().encode(
              JSON.stringify({ user_id: r.user, device_id: r.device, client_event: r.name, client_timestamp: new Date(r.tsMs).toISOString() }),
            ),
          }));
          const sweepDeps = { store, rows: deps.rows, metrics: deps.metrics, sweepPartitions: 3, graceSeconds: 0 };
          let start = 0;
          for (let i = 0; i < batchRecords.length; i++) {
            const last = i === batchRecords.length - 1;
            if (!last && !cuts[i]) continue;
            const batch = batchRecords.slice(start, i + 1);
            const outcome = await processBatch(batch, deps);
            expect(outcome.unfinished.size).toBe(0);
            if (retries[i]) {
              // Lambda retrying the same batch: every record is already in the state.
              const again = await processBatch(batch, deps);
              expect(again.duplicatesSkipped).toBe(batch.length);
              expect(again.rowsEmitted).toBe(0);
            }
            // The sweeper ticks between this batch's last arrival and the next batch's first.
            const next = last ? batch[batch.length - 1].arrivalMs + 1 : batchRecords[i + 1].arrivalMs;
            const lo = batch[batch.length - 1].arrivalMs;
            const now = Math.floor(lo + (next - lo) * sweepAt[i]);
            if (now < next) await sweep(sweepDeps, now);
            start = i + 1;
          }
          await sweep(sweepDeps, Number.MAX_SAFE_INTEGER);
          expect(rejected).toEqual([]);
          expect(sortRows(emitted)).toEqual(naiveSessions(records, W));
          expect([...store.items.values()].filter((r) => r.window !== undefined)).toEqual([]);
        },
      ),
      { numRuns: 200 },
    );
  });
});
