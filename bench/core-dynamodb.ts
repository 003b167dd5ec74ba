/**
 * DynamoDB requests per 1,000 events for typical traffic: `npm run bench:dynamodb [-- <events>]`.
 * Runs the real sessionizer (processBatch + DynamoWindowStore) and the sweeper (every simulated
 * minute) against dynalite on 127.0.0.1, counting every DynamoDB request with an SDK middleware.
 * Batches are cut as the event source mapping cuts them: a batching window of B seconds or
 * 500 records, whichever comes first.
 */
import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { EMULATOR_CREDENTIALS, startDynalite } from "../local/emulators";
import { DynamoWindowStore } from "../functions/adapters/dynamodb-window-store";
import { MemoryMetrics } from "../functions/adapters/metrics";
import { windowTableDefinition } from "../functions/adapters/window-table";
import { processBatch, type BatchRecord } from "../functions/sessionizer/process-batch";
import { sweep } from "../functions/sweeper/sweep";
import { traffic } from "./core-traffic";

const count = Number(process.argv[2] ?? 10_000);
const BATCH_WINDOWS_S = (process.argv[3] ?? "1,10").split(",").map(Number);
const W = 60;
const PARTITIONS = 8;
const GRACE_S = 10;

async function run(batchWindowS: number, endpoint: string, table: string) {
  const counts = new Map<string, number>();
  let phase = "sessionizer";
  const client = new DynamoDBClient({ endpoint, region: "us-east-1", credentials: EMULATOR_CREDENTIALS });
  client.middlewareStack.add(
    (next, context) => async (args) => {
      const name = `${phase} ${context.commandName!.replace(/Command$/, "")}`;
      counts.set(name, (counts.get(name) ?? 0) + 1);
      return next(args);
    },
    { step: "initialize", name: "countRequests" },
  );
  await client.send(new CreateTableCommand(windowTableDefinition(table)));
  counts.clear();
  const store = new DynamoWindowStore(client, { tableName: table, sweepPartitions: PARTITIONS });
  let rows = 0;
  const sink = { send: async (r: readonly unknown[]) => void (rows += r.length) };
  const metrics = new MemoryMetrics();
  const deps = { store, rows: sink, rejected: { send: async () => undefined }, metrics, clock: { now: () => 0 }, windowSeconds: W };
  const sweepDeps = { store, rows: sink, metrics, sweepPartitions: PARTITIONS, graceSeconds: GRACE_S };

  const records: BatchRecord[] = traffic(count).map((r, i) => ({
    shardId: "shardId-000000000000",
    sequenceNumber: String(49_600_000_000_000 + i),
    partitionKey: String(r.event.user_id),
    arrivalMs: r.arrivalMs,
    data: Buffer.from(r.payload),
  }));
  let batches = 0;
  let nextSweep = records[0].arrivalMs + 60_000;
  let conflicts = 0;
  const started = performance.now();
  for (let i = 0; i < records.length; ) {
    const cut = records[i].arrivalMs + batchWindowS * 1000;
    let j = i;
    while (j < records.length && j - i < 500 && records[j].arrivalMs < cut) j++;
    // The sweeper ticks whenever a simulated minute has passed.
    while (nextSweep <= records[i].arrivalMs) {
      phase = "sweeper";
      await sweep(sweepDeps, nextSweep);
      phase = "sessionizer";
      nextSweep += 60_000;
    }
    const outcome = await processBatch(records.slice(i, j), deps);
    conflicts += outcome.conflicts;
    if (outcome.unfinished.size > 0) throw new Error("unexpected failure");
    batches += 1;
    i = j;
  }
  const last = records[records.length - 1].arrivalMs;
  phase = "sweeper";
  while (nextSweep <= last + (W + GRACE_S + 60) * 1000) {
    await sweep(sweepDeps, nextSweep);
    nextSweep += 60_000;
  }
  const seconds = (performance.now() - started) / 1000;
  client.destroy();
  const total = [...counts.values()].reduce((a, b) => a + b, 0);
  const per1k = (n: number) => ((n / count) * 1000).toFixed(0);
  console.log(
    `batching window ${batchWindowS} s: ${batches} batches (${(count / batches).toFixed(0)} records each), ${rows} rows, ${conflicts} conflicts, ${seconds.toFixed(1)} s on dynalite`,
  );
  console.log(`  DynamoDB requests per 1,000 events: ${per1k(total)}`);
  for (const [k, n] of [...counts].sort()) console.log(`    ${k.padEnd(28)} ${per1k(n).padStart(5)}`);
  console.log(`  windows (rows) per 1,000 events: ${per1k(rows)}`);
}

async function main() {
  const dynalite = await startDynalite();
  try {
    console.log(`events: ${count}, W = ${W} s, ${PARTITIONS} sweep partitions, sweeper every simulated minute, ${GRACE_S} s grace`);
    let n = 0;
    for (const b of BATCH_WINDOWS_S) await run(b, dynalite.endpoint, `bench-${++n}`);
  } finally {
    await dynalite.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exitCode = 1;
});
