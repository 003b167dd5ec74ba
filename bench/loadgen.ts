/**
 * Load generator numbers: `npm run bench:loadgen [-- <events> [<rounds>]]` (default 100,000 events, 2 rounds).
 * 1. generation rate: a dry run (no network), events/s of wall-clock time, files and expectations included;
 * 2. push rate: runLoad in real time into kinesalite (a child process on 127.0.0.1, so the emulator
 *    has its own event loop), with 1 call in flight (the default) and with 2;
 * 3. the same kinesalite under a minimal PutRecords loop (500-record batches, one call at a time,
 *    the same payloads);
 * measured in interleaved rounds in the same run; the best of the rounds is reported for each
 * (this machine is shared: the best is the least disturbed), with the ratio push / minimal loop.
 */
import { spawn } from "node:child_process";
import { once } from "node:events";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { createInterface } from "node:readline";
import { CreateStreamCommand, DeleteStreamCommand, PutRecordsCommand, waitUntilStreamExists, type KinesisClient } from "@aws-sdk/client-kinesis";
import { makeKinesisClient, runLoad } from "../loadgen/run";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

const count = Number(process.argv[2] ?? 100_000);
const rounds = Number(process.argv[3] ?? 2);
/** kinesalite allows 100 shards in all; each stream is deleted after its measurement. */
const SHARDS = 32;
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

/** The floor: PutRecords of 500 records a call, one call at a time, nothing else. */
async function minimalLoop(client: KinesisClient, stream: string, records: { data: string; partitionKey: string }[]): Promise<number> {
  await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: SHARDS }));
  await waitUntilStreamExists({ client, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { StreamName: stream });
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

async function push(endpoint: string, stream: string, concurrency: number, out: string) {
  const r = await runLoad({
    endpoint,
    stream,
    createStream: true,
    shards: SHARDS,
    users: 5000,
    rate: 1_000_000,
    events: count,
    lateFraction: 0,
    concurrency,
    out,
  });
  if (r.counts.failed) throw new Error(`push: ${r.counts.failed} failed`);
  return r;
}

async function main() {
  // 1. generation (dry run)
  const g0 = performance.now();
  const dry = await runLoad({ dryRun: true, seed: 1, events: count, users: 5000, rate: 50_000, shards: SHARDS, out: path.join(tmp, "dry") });
  const genRate = (dry.counts.acknowledged * 1000) / (performance.now() - g0);
  console.log(`generation (dry run, ${count} events, files and expectations included): ${Math.round(genRate)} events/s`);

  const emulator = await startEmulator();
  const client = makeKinesisClient({ region: "us-east-1", endpoint: emulator.endpoint });
  const drop = (stream: string) => client.send(new DeleteStreamCommand({ StreamName: stream }));
  const payloads = readFileSync(dry.eventsPath, "utf8")
    .split("\n")
    .filter(Boolean)
    .map((l) => {
      const { data, partition_key } = JSON.parse(l) as { data: string; partition_key: string };
      return { data, partitionKey: partition_key };
    });
  const minimal: number[] = [];
  const pushed: Record<1 | 2, number[]> = { 1: [], 2: [] };
  let maxCallMs = 0;
  try {
    for (let round = 1; round <= rounds; round++) {
      const m = await minimalLoop(client, `bench-minimal-${round}`, payloads);
      await drop(`bench-minimal-${round}`);
      minimal.push(m);
      console.log(`round ${round}: minimal PutRecords loop (500/call, sequential): ${Math.round(m)} records/s`);
      for (const c of [1, 2] as const) {
        const r = await push(emulator.endpoint, `bench-loadgen-${round}-${c}`, c, path.join(tmp, `push-${c}`));
        await drop(`bench-loadgen-${round}-${c}`);
        pushed[c].push(r.wallRatePerSecond);
        maxCallMs = Math.max(maxCallMs, r.maxCallMs ?? 0);
        console.log(
          `round ${round}: loadgen push (${r.counts.acknowledged} events, ${r.calls} calls, ${SHARDS} shards, ${c} call(s) in flight): ` +
            `${Math.round(r.wallRatePerSecond)} events/s, slowest call ${r.maxCallMs} ms`,
        );
      }
    }
    const best = (xs: number[]) => Math.max(...xs);
    const floor = best(minimal);
    const ratio1 = best(pushed[1]) / floor;
    const ratio2 = best(pushed[2]) / floor;
    console.log(
      `best of ${rounds}: minimal loop ${Math.round(floor)} records/s; loadgen ${Math.round(best(pushed[1]))} events/s (1 in flight, the default), ` +
        `${Math.round(best(pushed[2]))} (2); ratio ${ratio1.toFixed(2)} / ${ratio2.toFixed(2)}`,
    );
    console.log(
      JSON.stringify({
        events: count,
        rounds,
        generation_events_per_s: Math.round(genRate),
        minimal_loop_records_per_s: minimal.map(Math.round),
        push_events_per_s: { concurrency_1: pushed[1].map(Math.round), concurrency_2: pushed[2].map(Math.round) },
        ratio_best: { concurrency_1: Number(ratio1.toFixed(3)), concurrency_2: Number(ratio2.toFixed(3)) },
        push_max_call_ms: maxCallMs,
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
