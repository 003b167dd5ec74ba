/**
 * Load generator numbers: `npm run bench:loadgen [-- <events>]` (default 100,000).
 * 1. generation rate: a dry run (no network), events/s of wall-clock time;
 * 2. push rate: runLoad into kinesalite (in a child process, on 127.0.0.1), events/s;
 * 3. the same kinesalite under a minimal PutRecords loop (500-record batches, one call at a
 *    time, the same payloads), measured before and after the push in the same run;
 * and the ratio push / minimal loop. Prints plain lines and one JSON line.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { CreateStreamCommand, PutRecordsCommand, waitUntilStreamExists, type KinesisClient } from "@aws-sdk/client-kinesis";
import { makeKinesisClient, runLoad } from "../loadgen/run";

const count = Number(process.argv[2] ?? 100_000);
// kinesalite allows 100 shards in all: four streams of 24 (the limiter allows 24 × 950 rec/s, above the emulator)
const SHARDS = 24;
const tmp = path.resolve(__dirname, "../.tmp/bench-loadgen");

async function startEmulator(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const child = spawn(process.execPath, ["--import", "tsx", path.join(__dirname, "../loadgen/kinesalite.ts")], {
    stdio: ["pipe", "pipe", "inherit"],
    cwd: path.resolve(__dirname, ".."),
  });
  const rl = createInterface({ input: child.stdout });
  const [line] = (await once(rl, "line")) as [string];
  const { endpoint } = JSON.parse(line) as { endpoint: string };
  return {
    endpoint,
    stop: async () => {
      child.stdin.end();
      await once(child, "exit");
    },
  };
}

async function createStream(client: KinesisClient, name: string): Promise<void> {
  await client.send(new CreateStreamCommand({ StreamName: name, ShardCount: SHARDS }));
  await waitUntilStreamExists({ client, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { StreamName: name });
}

/** The floor: PutRecords of 500 records a call, one call at a time, nothing else. */
async function minimalLoop(client: KinesisClient, stream: string, records: { data: string; partitionKey: string }[]): Promise<number> {
  await createStream(client, stream);
  const start = performance.now();
  for (let i = 0; i < records.length; i += 500) {
    const out = await client.send(
      new PutRecordsCommand({
        StreamName: stream,
        Records: records.slice(i, i + 500).map((r) => ({ Data: Buffer.from(r.data), PartitionKey: r.partitionKey })),
      }),
    );
    if (out.FailedRecordCount) throw new Error(`minimal loop: ${out.FailedRecordCount} failed`);
  }
  return (records.length * 1000) / (performance.now() - start);
}

async function main() {
  // 1. generation (dry run)
  const g0 = performance.now();
  const dry = await runLoad({ dryRun: true, seed: 1, events: count, users: 5000, rate: 50_000, shards: SHARDS, out: path.join(tmp, "dry") });
  const genRate = (dry.counts.acknowledged * 1000) / (performance.now() - g0);
  console.log(`generation (dry run, ${count} events, files and expectations included): ${Math.round(genRate)} events/s`);

  const emulator = await startEmulator();
  const client = makeKinesisClient({ region: "us-east-1", endpoint: emulator.endpoint });
  try {
    const payloads = readFileSync(dry.eventsPath, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => {
        const { data, partition_key } = JSON.parse(l) as { data: string; partition_key: string };
        return { data, partitionKey: partition_key };
      });

    // 3a. minimal loop, before
    const before = await minimalLoop(client, "bench-minimal-1", payloads);
    console.log(`minimal PutRecords loop (500/call, sequential), before: ${Math.round(before)} records/s`);

    // 2. the load generator, real time, into the same kinesalite: one call at a time (the
    //    default, as the minimal loop) and with 2 calls in flight
    const pushes: Record<string, { rate: number; calls: number; maxCallMs: number | null }> = {};
    for (const concurrency of [1, 2]) {
      const push = await runLoad({
        endpoint: emulator.endpoint,
        stream: `bench-loadgen-${concurrency}`,
        createStream: true,
        shards: SHARDS,
        users: 5000,
        rate: 1_000_000,
        events: count,
        lateFraction: 0,
        concurrency,
        out: path.join(tmp, `push-${concurrency}`),
      });
      if (push.counts.failed) throw new Error(`push: ${push.counts.failed} failed`);
      pushes[concurrency] = { rate: push.wallRatePerSecond, calls: push.calls, maxCallMs: push.maxCallMs };
      console.log(
        `loadgen push to kinesalite (${push.counts.acknowledged} events, ${push.calls} calls, ${SHARDS} shards, ` +
          `${concurrency} call(s) in flight): ${Math.round(push.wallRatePerSecond)} events/s (slowest call ${push.maxCallMs} ms)`,
      );
    }

    // 3b. minimal loop, after
    const after = await minimalLoop(client, "bench-minimal-2", payloads);
    console.log(`minimal PutRecords loop, after: ${Math.round(after)} records/s`);
    const floor = (before + after) / 2;
    const ratio1 = pushes[1].rate / floor;
    const ratio2 = pushes[2].rate / floor;
    console.log(`ratio push / minimal loop: ${ratio1.toFixed(2)} (1 call in flight, the default), ${ratio2.toFixed(2)} (2)`);
    console.log(
      JSON.stringify({
        events: count,
        generation_events_per_s: Math.round(genRate),
        push_events_per_s: { concurrency_1: Math.round(pushes[1].rate), concurrency_2: Math.round(pushes[2].rate) },
        minimal_loop_records_per_s: { before: Math.round(before), after: Math.round(after) },
        ratio: { concurrency_1: Number(ratio1.toFixed(3)), concurrency_2: Number(ratio2.toFixed(3)) },
        push_max_call_ms: { concurrency_1: pushes[1].maxCallMs, concurrency_2: pushes[2].maxCallMs },
      }),
    );
  } finally {
    client.destroy();
    await emulator.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
