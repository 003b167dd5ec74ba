import { Command } from "commander";
import { mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { loadgenLoad } from "../local/loadgen-runner";
import { runLocalPipeline } from "../local/pipeline";
import { formatReport } from "../local/verify";

/**
 * Benchmark of the local pipeline: `npx tsx bench/local.ts [--events 100000] [--rate 2000] [--shards 4] [--emulators child]`.
 * One complete run (load generator in real time, consumers, sessionizer and sweeper on the
 * emulators, Firehose, DuckDB, verifier); prints the wall time, events/s end to end and per
 * phase, and writes the numbers to <out>/bench.json. Not a test: it prints numbers.
 */

async function main(): Promise<void> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const o = new Command()
    .option("--events <n>", "events", Number, 100_000)
    .option("--rate <r>", "events/s the load generator aims at", Number, 2000)
    .option("--shards <n>", "shards", Number, 4)
    .option("--window <s>", "W seconds", Number, 5)
    .option("--users <n>", "synthetic users (default: the load generator's 231; more users = more keys = more DynamoDB work)", Number)
    .option("--out <dir>", "output folder", path.join("out", "bench-local"))
    .option("--emulators <where>", "in-process or child", "in-process")
    .parse(process.argv)
    .opts<{ events: number; rate: number; shards: number; window: number; out: string; users?: number; emulators: "in-process" | "child" }>();
  mkdirSync(o.out, { recursive: true });
  let lastLine = 0;
  const started = Date.now();
  const result = await runLocalPipeline({
    outDir: o.out,
    load: loadgenLoad({ events: o.events, rate: o.rate, users: o.users }),
    windowSeconds: o.window,
    shards: o.shards,
    emulators: o.emulators,
    onProgress: (s) => {
      if (s.elapsedMs - lastLine < 10_000 && s.phase !== "done") return;
      lastLine = s.elapsedMs;
      process.stderr.write(`[${Math.round(s.elapsedMs / 1000)} s] ${s.phase}: acked ${s.load.acknowledged ?? 0}, processed ${s.processed}, rows ${s.rowsDelivered}, lag ${s.maxLagMs} ms\n`);
    },
  });
  const wallMs = Date.now() - started;
  const t = result.timings;
  const n = result.stats.acknowledged;
  const numbers = {
    events: n,
    rate_asked: o.rate,
    shards: o.shards,
    window_seconds: o.window,
    emulators: o.emulators,
    users: o.users,
    passed: result.report.passed,
    wall_seconds: +(wallMs / 1000).toFixed(1),
    events_per_second_end_to_end: Math.round(n / (wallMs / 1000)),
    load_seconds: +(t.loadMs / 1000).toFixed(1),
    events_per_second_during_load: Math.round(n / (t.loadMs / 1000)),
    drain_seconds: +(t.drainMs / 1000).toFixed(1),
    windows_closing_seconds: +(t.closeMs / 1000).toFixed(1),
    verify_seconds: +(t.verifyMs / 1000).toFixed(1),
    sessionizer_invocations: result.stats.invocations,
    max_lag_ms: result.stats.maxLagMs,
    rows: result.stats.firehose[Object.keys(result.stats.firehose).find((k) => k.endsWith("-aggregated")) as string]?.records,
    node: process.version,
  };
  writeFileSync(path.join(o.out, "bench.json"), `${JSON.stringify(numbers, null, 2)}\n`);
  process.stdout.write(`${formatReport(result.report)}\n\n${JSON.stringify(numbers, null, 2)}\n`);
  process.exitCode = result.report.passed ? 0 : 1;
}

main().catch((err) => {
  process.stderr.write(`bench/local: ${(err as Error)?.stack ?? err}\n`);
  process.exit(2);
});
