/**
 * Throughput of the pure core on one core: `npm run bench:core [-- <events>]`.
 * Prints events/s for the windowing alone (StaggerEngine) and for parsing + windowing
 * (the sessionizer's CPU work per record without I/O).
 */
import { parseRecord } from "../functions/core/event";
import { StaggerEngine } from "../functions/core/stagger";
import { MemoryWindowStore } from "../functions/adapters/dynamodb-window-store";
import { MemoryMetrics } from "../functions/adapters/metrics";
import { processBatch, type BatchRecord } from "../functions/sessionizer/process-batch";
import { traffic } from "./core-traffic";

const count = Number(process.argv[2] ?? 1_000_000);
const W = 60;

const t0 = performance.now();
const records = traffic(count);
const payloads = records.map((r) => Buffer.from(r.payload));
const genMs = performance.now() - t0;

function windowOnly(): { ms: number; rows: number } {
  const start = performance.now();
  const engine = new StaggerEngine(W);
  let rows = 0;
  for (let i = 0; i < records.length; i++) {
    rows += engine.push(records[i].event, records[i].arrivalMs).length;
    if (i % 10_000 === 0) rows += engine.closeDue(records[i].arrivalMs).length;
  }
  rows += engine.closeAll().length;
  return { ms: performance.now() - start, rows };
}

function parseAndWindow(): { ms: number; rows: number } {
  const start = performance.now();
  const engine = new StaggerEngine(W);
  let rows = 0;
  for (let i = 0; i < payloads.length; i++) {
    const parsed = parseRecord(payloads[i]);
    if (!parsed.ok) throw new Error(parsed.rejection.detail);
    rows += engine.push(parsed.event, records[i].arrivalMs).length;
    if (i % 10_000 === 0) rows += engine.closeDue(records[i].arrivalMs).length;
  }
  rows += engine.closeAll().length;
  return { ms: performance.now() - start, rows };
}

/** The sessionizer's whole batch logic (parse, group, plan, freeze/emit/commit) with in-memory ports. */
async function processBatches(): Promise<{ ms: number; rows: number }> {
  const store = new MemoryWindowStore(8);
  let rows = 0;
  const deps = {
    store,
    rows: { send: async (r: readonly unknown[]) => void (rows += r.length) },
    rejected: { send: async () => undefined },
    metrics: new MemoryMetrics(),
    clock: { now: () => 0 },
    windowSeconds: W,
  };
  const batch: BatchRecord[] = [];
  const start = performance.now();
  for (let i = 0; i < payloads.length; i += 500) {
    batch.length = 0;
    for (let j = i; j < Math.min(i + 500, payloads.length); j++) {
      batch.push({ shardId: "s", sequenceNumber: String(1e12 + j), partitionKey: "p", arrivalMs: records[j].arrivalMs, data: payloads[j] });
    }
    await processBatch(batch, deps);
  }
  return { ms: performance.now() - start, rows };
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");
console.log(`events: ${fmt(count)} (generated in ${fmt(genMs)} ms), W = ${W} s, node ${process.version}, one thread`);
async function main() {
  for (const [name, fn] of [
    ["windowing only (StaggerEngine.push)", windowOnly],
    ["parse + validate + windowing (parseRecord + push)", parseAndWindow],
    ["processBatch, batches of 500, in-memory store and sinks (no sweeper: open windows stay)", processBatches],
  ] as const) {
    await fn(); // warm-up
    const runs = [await fn(), await fn(), await fn()];
    const best = runs.reduce((a, b) => (a.ms < b.ms ? a : b));
    const perRow = best.rows > 0 ? `, ${(count / best.rows).toFixed(1)} events/row` : "";
    console.log(`${name}: ${fmt((count / best.ms) * 1000)} events/s (best of 3: ${fmt(best.ms)} ms, ${fmt(best.rows)} rows${perRow})`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
