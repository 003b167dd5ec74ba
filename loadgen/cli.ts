import { Command, InvalidArgumentError, Option } from "commander";
import { ConfigError } from "../config/load";
import { OptionsError, defaultMarginMs, type LoadOptions } from "./options";
import { interruptHandler } from "./interrupt";
import { OutputError } from "./output";
import { createProgressReporter } from "./progress";
import { LoadError, runLoad, type LoadResult } from "./run";

// the SDK versions are pinned by the lockfile; its notice that releases after January 2027 need Node 22 is noise here
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";

/**
 * `npm run loadgen -- [options]`: a thin layer over runLoad (loadgen/run.ts).
 * Exit codes: 0 every record acknowledged; 1 error; 2 an output file cannot be written; 3 some records finally failed (reported,
 * left out of the expectations); 130 stopped with Ctrl-C (expectations written for what was
 * acknowledged).
 */

const int = (name: string) => (v: string) => {
  if (!/^\d+$/.test(v)) throw new InvalidArgumentError(`${name} must be a whole number`);
  return Number(v);
};
const num = (name: string) => (v: string) => {
  const n = Number(v);
  if (v.trim() === "" || !Number.isFinite(n)) throw new InvalidArgumentError(`${name} must be a number`);
  return n;
};

export function buildProgram(): Command {
  return new Command("loadgen")
    .description(
      "Synthetic clickstream sessions into a Kinesis stream (or a dry run), with the expected stagger-window rows " +
        "and Athena answers for exactly what the stream acknowledged: <out>/events.ndjson and <out>/expected.json.",
    )
    .option("--stream <name>", "Kinesis stream (default: stream.name of the config)")
    .option("--region <region>", "AWS region (default: region of the config)")
    .option("--endpoint <url>", "Kinesis endpoint, e.g. an emulator on http://127.0.0.1:4567 (default: AWS, default credential chain)")
    .option("--emulator", "start kinesalite on 127.0.0.1 in this process, create the stream and push to it")
    .option("--create-stream", "create the stream if it does not exist (for emulators), with --shards shards")
    .option("--users <n>", "synthetic users (seed ids 50-280 when at most 231)", int("--users"), 231)
    .addOption(new Option("--events <n>", "records to generate, valid + late + malformed (default 10000 without --duration)").argParser(int("--events")))
    .addOption(new Option("--duration <seconds>", "generate for this long (late records still due are sent after)").argParser(num("--duration")))
    .option("--rate <records/s>", "records a second over the stream", num("--rate"), 100)
    .option("--shards <n>", "shards to spread over and to keep under 1,000 rec/s + 1 MiB/s each (default: the stream's open shards; the config's shard count in a dry run)", int("--shards"))
    .option("--seed <n>", "seed of every random choice", int("--seed"), 1)
    .option("--window <seconds>", "stagger window W (default: the config's, as the deployed sessionizer)", int("--window"))
    .option("--start <iso>", "client timestamps start here (historic data); dry run default 2026-01-01T00:00:00Z")
    .option("--late-fraction <f>", "fraction of valid records delivered after their key's window closed", num("--late-fraction"), 0.02)
    .option("--malformed-fraction <f>", "fraction of records sent malformed", num("--malformed-fraction"), 0.01)
    .option("--out <dir>", "output folder", "out")
    .option("--dry-run", "no network: simulated send times from --start; the same files")
    .option("--margin <ms>", "safety margin around window boundaries (default clamp(10% of W, 1 s, 10 s), at most W/4)", num("--margin"))
    .option("--max-attempts <n>", "PutRecords attempts per batch, first included", int("--max-attempts"), 8)
    .option("--concurrency <n>", "PutRecords calls in flight at once (a user never has records in two)", int("--concurrency"), 1)
    .addOption(new Option("--timestamp-format <form>", "client_timestamp form").choices(["seed", "iso", "epoch"]).default("seed"))
    .option("--json", "print the result summary as JSON on stdout")
    .option("--no-progress", "no progress output")
    .addHelpText(
      "after",
      `
Examples:
  npm run loadgen -- --dry-run --seed 1 --events 20000 --out out/
  npm run loadgen -- --emulator --events 100000 --users 5000 --rate 50000 --shards 64 --late-fraction 0
  npm run loadgen -- --endpoint http://127.0.0.1:4567 --create-stream --duration 120 --rate 200

Default safety margin for W = 60 s: ${defaultMarginMs(60)} ms. See docs/loadgen.md.`,
    );
}

interface CliFlags {
  stream?: string;
  region?: string;
  endpoint?: string;
  emulator?: boolean;
  createStream?: boolean;
  users: number;
  events?: number;
  duration?: number;
  rate: number;
  shards?: number;
  seed: number;
  window?: number;
  start?: string;
  lateFraction: number;
  malformedFraction: number;
  out: string;
  dryRun?: boolean;
  margin?: number;
  maxAttempts: number;
  concurrency: number;
  timestampFormat: "seed" | "iso" | "epoch";
  json?: boolean;
  progress: boolean;
}

export function flagsToOptions(flags: CliFlags): LoadOptions {
  return {
    stream: flags.stream,
    region: flags.region,
    endpoint: flags.endpoint,
    users: flags.users,
    events: flags.events,
    duration: flags.duration,
    rate: flags.rate,
    shards: flags.shards,
    seed: flags.seed,
    window: flags.window,
    start: flags.start,
    lateFraction: flags.lateFraction,
    malformedFraction: flags.malformedFraction,
    out: flags.out,
    dryRun: flags.dryRun ?? false,
    marginMs: flags.margin,
    maxAttempts: flags.maxAttempts,
    concurrency: flags.concurrency,
    timestampFormat: flags.timestampFormat,
    createStream: flags.createStream,
  };
}

function summary(r: LoadResult): string {
  const c = r.counts;
  const e = r.expected;
  const lines = [
    `${r.dryRun ? "dry run" : `stream ${r.options.stream}`}: ${c.acknowledged} acknowledged of ${c.generated} generated` +
      ` (${c.valid} valid, ${c.malformed} malformed, ${c.late} late), ${c.failed} failed, ${c.retried} retried` +
      (c.unsent ? `, ${c.unsent} not sent (stopped)` : ""),
    `  ${r.shards} shard(s), ${r.calls} PutRecords call(s), ${Math.round(r.wallRatePerSecond)} rec/s (wall clock), ` +
      `${(r.elapsedMs / 1000).toFixed(1)} s of ${r.dryRun ? "simulated " : ""}send time`,
    `  expected: ${e.athena.row_count} rows (${e.athena.rows_with_duration} with duration > 0), window ${e.window_seconds} s, ` +
      `margin ${e.safety.margin_ms} ms, uncertain ${e.safety.uncertain}`,
    `  wrote ${r.eventsPath}`,
    `  wrote ${r.expectedPath}`,
  ];
  for (const w of r.warnings) lines.push(`  warning: ${w}`);
  for (const f of r.failures.slice(0, 5)) lines.push(`  failed: partition key ${f.partition_key}: ${f.code}: ${f.message}`);
  if (r.aborted) lines.push("  stopped by Ctrl-C: the expectations cover what was acknowledged");
  return lines.join("\n");
}

export async function main(argv = process.argv): Promise<number> {
  const program = buildProgram();
  program.parse(argv);
  const flags = program.opts<CliFlags>();
  const options = flagsToOptions(flags);

  const controller = new AbortController();
  // tsx forwards the terminal's SIGINT to this process as well: a second one within 500 ms is the same Ctrl-C.
  const onSigint = interruptHandler({
    onFirst: () => {
      process.stderr.write("\nloadgen: stopping: finishing the call in flight, then writing the expectations (Ctrl-C again to quit at once)\n");
      controller.abort();
    },
  });
  process.on("SIGINT", onSigint);

  let emulator: { endpoint: string; stop(): Promise<void> } | undefined;
  const reporter = flags.progress ? createProgressReporter() : undefined;
  try {
    if (flags.emulator) {
      if (flags.endpoint || flags.dryRun) throw new OptionsError(["--emulator: not with --endpoint or --dry-run"]);
      const { startKinesalite } = await import("../local/emulators");
      emulator = await startKinesalite();
      options.endpoint = emulator.endpoint;
      options.createStream = true;
      process.stderr.write(`loadgen: kinesalite on ${emulator.endpoint}\n`);
    }
    const result = await runLoad(options, { signal: controller.signal, onProgress: reporter ? (p) => reporter.update(p) : undefined });
    reporter?.stop();
    process.stderr.write(summary(result) + "\n");
    if (flags.json) process.stdout.write(JSON.stringify({ ...result, expected: undefined, expected_counts: result.expected.counts }) + "\n");
    if (result.aborted) return 130;
    return result.counts.failed > 0 ? 3 : 0;
  } catch (err) {
    reporter?.stop();
    if (err instanceof OutputError) {
      process.stderr.write(`loadgen: ${err.message}\n`);
      return 2;
    }
    if (err instanceof LoadError && err.result) process.stderr.write(summary(err.result) + "\n");
    if (err instanceof OptionsError || err instanceof ConfigError || err instanceof LoadError) process.stderr.write(`loadgen: ${err.message}\n`);
    else process.stderr.write(`loadgen: ${(err as Error).stack ?? err}\n`);
    return 1;
  } finally {
    process.off("SIGINT", onSigint);
    await emulator?.stop();
  }
}

if (require.main === module) {
  main().then((code) => process.exit(code));
}
