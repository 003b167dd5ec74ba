import { Command, InvalidArgumentError, Option } from "commander";
import * as path from "node:path";
import { ConfigError, loadConfig } from "../config/load";
import type { SessionizationConfig } from "../config/schema";
import { interruptHandler } from "../loadgen/interrupt";
import { OutputError } from "../loadgen/output";
import { EmulatorStartError } from "./emulators";
import { loadgenLoad } from "./loadgen-runner";
import { OutDirRefusedError, PipelineAbortedError, runLocalPipeline, type LoadRunner, type PipelineStatus } from "./pipeline";
import { formatReport } from "./verify";

/**
 * `npm run local -- [--events N] [--window S] [--rate R] [--out DIR] …`: the whole pipeline on
 * this machine (docs/local.md). Exit status: 0 every check passed, 1 a check failed, 2 the run
 * could not complete, 130 interrupted.
 */

const int = (min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`a whole number from ${min} to ${max}`);
  return n;
};
const num = (min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < min || n > max) throw new InvalidArgumentError(`a number from ${min} to ${max}`);
  return n;
};

interface Options {
  events: number;
  window: number;
  rate: number;
  out: string;
  shards: number;
  seed: number;
  users?: number;
  lateFraction: number;
  malformedFraction: number;
  bufferInterval?: number;
  bufferSizeMb?: number;
  grace?: number;
  sweepEvery: number;
  emulators: "in-process" | "child";
  kinesisPort: number;
  dynamodbPort: number;
  firehosePort: number;
  progress: boolean;
}

function statusLine(s: PipelineStatus): string {
  const l = s.load;
  const load = l.total ? `sent ${l.sent ?? 0}/${l.total} acked ${l.acknowledged ?? 0}` : `acked ${l.acknowledged ?? 0}`;
  const open = s.openWindows === undefined ? "" : ` open windows ${s.openWindows}`;
  return `[${(s.elapsedMs / 1000).toFixed(0).padStart(3)} s] ${s.phase.padEnd(15)} ${load} | processed ${s.processed} | rows ${s.rowsDelivered} rejected ${s.rejectedDelivered} raw ${s.rawDelivered} (buffered ${s.firehoseBuffered})${open} | sweeps ${s.sweeps} lag ${s.maxLagMs} ms`;
}

export async function main(argv: string[]): Promise<number> {
  // The SDK's notice about its releases after January 2027 (the lockfile pins this one): not news for a local run.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  // A bad config is reported after the arguments are read (so that --help still works), as one message.
  let config: SessionizationConfig | undefined;
  let configError: ConfigError | undefined;
  try {
    config = loadConfig();
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    configError = err;
  }
  const theConfigs = (v: number | undefined, unit = "") => (v === undefined ? "the config's" : `the config's ${v}${unit}`);
  const program = new Command()
    .name("local")
    .description("Run the clickstream sessionization pipeline on this machine (kinesalite, dynalite, a local Firehose, DuckDB) and verify it.")
    .option("--events <n>", "events to send", int(1, 10_000_000), 3500)
    .option("--window <s>", "stagger window W in seconds (60 = the seed's minutes)", int(1, 3600), 5)
    .option("--rate <r>", "events per second", num(1, 100_000), 100)
    .option("--out <dir>", "output folder (lake, expected.json, report.json, logs)", path.join("out", "local"))
    .option("--shards <n>", `shards of the local stream (${config ? `the config has ${config.stream.shardCount}` : "the config allows 1-2"}; more exercise the per-shard consumers)`, int(1, 64), 4)
    .option("--seed <n>", "load generator seed", int(0, 2 ** 31 - 1), 1)
    .option("--users <n>", "synthetic users (default: the load generator's)", int(1, 1_000_000))
    .option("--late-fraction <f>", "share of late records", num(0, 0.5), 0.03)
    .option("--malformed-fraction <f>", "share of malformed records", num(0, 0.5), 0.02)
    .option("--buffer-interval <s>", `local Firehose buffer interval (default: ${theConfigs(config?.firehose.bufferIntervalSeconds, " s")} / 100)`, num(0.1, 900))
    .option("--buffer-size-mb <mb>", `local Firehose buffer size (default: ${theConfigs(config?.firehose.bufferSizeMB, " MB")})`, num(0.01, 128))
    .option("--grace <s>", `sweeper grace (default: ${theConfigs(config?.session.sweepGraceSeconds, " s")})`, int(0, 300))
    .option("--sweep-every <ms>", "sweeper schedule locally (AWS: every minute)", int(50, 60_000), 1000)
    .addOption(new Option("--emulators <where>", "kinesalite and dynalite in this process, or each in a child process").choices(["in-process", "child"]).default("in-process"))
    .option("--kinesis-port <port>", "kinesalite's port on 127.0.0.1 (default: a free one)", int(0, 65535), 0)
    .option("--dynamodb-port <port>", "dynalite's port on 127.0.0.1 (default: a free one)", int(0, 65535), 0)
    .option("--firehose-port <port>", "the local Firehose's port on 127.0.0.1 (default: a free one)", int(0, 65535), 0)
    .option("--no-progress", "no progress line")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    program.parse(argv, { from: "user" });
  } catch (err) {
    return (err as { exitCode?: number }).exitCode === 0 ? 0 : 2;
  }
  const o = program.opts<Options>();
  if (!config) {
    process.stderr.write(`local: ${configError?.message ?? "no configuration"}\n`);
    return 1;
  }

  const controller = new AbortController();
  // tsx forwards the terminal's SIGINT to this process as well: a second one within 500 ms is the same Ctrl-C.
  const onSigint = interruptHandler({
    onFirst: () => {
      process.stderr.write("\nlocal: interrupted; stopping the load and the emulators (Ctrl-C again to quit at once)\n");
      controller.abort();
    },
  });
  process.on("SIGINT", onSigint);
  process.on("SIGTERM", onSigint);

  const tty = Boolean(process.stderr.isTTY);
  let lastPrinted = 0;
  const onProgress = (s: PipelineStatus) => {
    if (!o.progress) return;
    if (tty) {
      const line = statusLine(s);
      const width = process.stderr.columns ?? 160;
      process.stderr.write(`\r${line.slice(0, width - 1).padEnd(Math.min(width - 1, line.length + 10))}`);
    } else if (s.elapsedMs - lastPrinted >= 5000 || s.phase === "done") {
      lastPrinted = s.elapsedMs;
      process.stderr.write(`${statusLine(s)}\n`);
    }
  };

  const load: LoadRunner = loadgenLoad({
    events: o.events,
    rate: o.rate,
    users: o.users,
    lateFraction: o.lateFraction,
    malformedFraction: o.malformedFraction,
    seed: o.seed,
  });

  process.stderr.write(
    `local: ${o.events} events at ${o.rate}/s, W = ${o.window} s, ${o.shards} shards, out ${o.out}\n`,
  );
  try {
    const result = await runLocalPipeline({
      outDir: o.out,
      config,
      load,
      windowSeconds: o.window,
      shards: o.shards,
      bufferIntervalSeconds: o.bufferInterval,
      bufferSizeMB: o.bufferSizeMb,
      graceSeconds: o.grace,
      sweepIntervalMs: o.sweepEvery,
      emulators: o.emulators,
      ports: { kinesis: o.kinesisPort, dynamodb: o.dynamodbPort, firehose: o.firehosePort },
      signal: controller.signal,
      onProgress,
    });
    if (tty && o.progress) process.stderr.write("\n");
    const t = result.timings;
    const s = result.settings;
    const rel = (p: string) => path.relative(process.cwd(), p) || ".";
    process.stdout.write(`${formatReport(result.report, Boolean(process.stdout.isTTY))}\n`);
    process.stdout.write(
      [
        "",
        `settings: W ${s.windowSeconds} s, ${s.shards} shards, batch ${s.batchSize} / ${s.batchingWindowSeconds} s window, sweep every ${s.sweepIntervalMs} ms with ${s.graceSeconds} s grace, Firehose buffer ${s.bufferIntervalSeconds} s / ${s.bufferSizeMB} MB`,
        `time: ${(t.totalMs / 1000).toFixed(1)} s in all (start ${(t.startMs / 1000).toFixed(1)}, load ${(t.loadMs / 1000).toFixed(1)}, drain ${(t.drainMs / 1000).toFixed(1)}, windows closing ${(t.closeMs / 1000).toFixed(1)}, verify ${(t.verifyMs / 1000).toFixed(1)}); ${Math.round(result.stats.acknowledged / (t.totalMs / 1000))} events/s end to end (the load is paced by --rate)`,
        `work: ${result.stats.invocations} sessionizer invocations (${result.stats.retries} retries, ${result.stats.bisections} bisections, ${result.stats.recordsToDlq} records dead-lettered), ${result.stats.sweeps} sweeps (${result.stats.sweepFailures} failed), max lag ${result.stats.maxLagMs} ms, ${result.stats.functionErrors} function error log lines`,
        `files: lake ${rel(result.lakeDir)}, report ${rel(result.reportFile)}, expected ${rel(result.expectedFile)}, function logs ${rel(path.join(o.out, "logs", "functions.log"))}`,
        "",
      ].join("\n"),
    );
    return result.report.passed ? 0 : 1;
  } catch (err) {
    if (tty && o.progress) process.stderr.write("\n");
    if (err instanceof PipelineAbortedError || controller.signal.aborted) {
      process.stderr.write("local: interrupted; emulators stopped\n");
      return 130;
    }
    if (err instanceof OutDirRefusedError) {
      process.stderr.write(`local: ${err.message}\n`);
      return 2;
    }
    if (err instanceof OutputError || err instanceof ConfigError) {
      process.stderr.write(`local: ${err.message}\n`);
      return err instanceof OutputError ? 2 : 1;
    }
    if (err instanceof EmulatorStartError) {
      process.stderr.write(`local: ${err.message}\n`);
      return 2;
    }
    process.stderr.write(`local: the run failed: ${(err as Error)?.stack ?? err}\n`);
    return 2;
  } finally {
    process.off("SIGINT", onSigint);
    process.off("SIGTERM", onSigint);
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`local: ${(err as Error)?.stack ?? err}\n`);
      process.exit(2);
    },
  );
}
