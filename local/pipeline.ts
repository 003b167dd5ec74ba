import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ScanCommand, type AttributeValue } from "@aws-sdk/client-dynamodb";
import { CreateStreamCommand, DescribeStreamSummaryCommand, KinesisClient } from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from "aws-lambda";
import { appendFileSync, createWriteStream, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, type WriteStream } from "node:fs";
import * as path from "node:path";
import { format } from "node:util";
import { loadConfig } from "../config/load";
import type { SessionizationConfig } from "../config/schema";
import { WINDOW_ATTR, windowTableDefinition } from "../functions/adapters/window-table";
import { functionEnvironment, functionSettings } from "../functions/settings";
import { OutputError, writing } from "../loadgen/output";
import { EMULATOR_CREDENTIALS, startDynalite, startEmulatorProcess, startKinesalite, type RunningEmulator } from "./emulators";
import { LocalFirehose, type DeliveryStreamStats } from "./firehose";
import { lakeLayout, LocalLake } from "./lake";
import { localNames, type LocalNames } from "./names";
import { EventSourceMapping, ShardPoller, type KinesisOnFailureRecord } from "./shard-consumer";
import { SweeperClock } from "./sweeper-clock";
import { allPassed, readExpectedFile, reportJson, skippedCheck, verify, type Check, type Report } from "./verify";

/**
 * The whole pipeline on one machine (docs/local.md):
 *
 *   load generator ──► kinesalite ──► shard poller ──► local Firehose raw ──► <out>/lake/rawdata/
 *                          │
 *                          └─► event source mapping ──► sessionizer handler ◄──► dynalite window table
 *                                                             │                      ▲
 *                                                             │       sweeper handler on a clock
 *                                                             ▼                      │
 *                                      local Firehose aggregated / rejected ◄────────┘
 *                                                             │
 *                                   <out>/lake/aggregated/, <out>/lake/errors/rejected/
 *                                                             │
 *                         DuckDB + sql/*.sql ──► verifier ──► <out>/report.json
 *
 * The Lambda handlers run unchanged, in this process: their AWS clients find the emulators
 * through AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_FIREHOSE, and their settings through the
 * same environment variables the analytics stack sets (functions/settings.ts).
 */

export interface LoadProgress {
  sent?: number;
  acknowledged?: number;
  total?: number;
  retried?: number;
  failed?: number;
}

export interface LoadContext {
  readonly kinesis: KinesisClient;
  readonly kinesisEndpoint: string;
  readonly region: string;
  readonly streamName: string;
  readonly shardCount: number;
  readonly windowSeconds: number;
  readonly outDir: string;
  readonly signal: AbortSignal;
  onProgress(progress: LoadProgress): void;
}

export interface LoadOutcome {
  /** The expected.json the load wrote. */
  readonly expectedFile: string;
}

/** Pushes the load into the stream in real time and writes the expectations (loadgen/run.ts). */
export type LoadRunner = (ctx: LoadContext) => Promise<LoadOutcome>;

export interface LocalPipelineOptions {
  readonly outDir: string;
  readonly load: LoadRunner;
  readonly config?: SessionizationConfig;
  /** W in seconds; default the config's. */
  readonly windowSeconds?: number;
  /** Shard count of the local stream; default 4 (more than the config's 1–2, to exercise several shards). */
  readonly shards?: number;
  /** Local Firehose buffer interval (s); default the config's divided by `bufferScale`. */
  readonly bufferIntervalSeconds?: number;
  /** Divides the config's buffer interval locally (default 100: 300 s → 3 s). */
  readonly bufferScale?: number;
  readonly bufferSizeMB?: number;
  /** Sweeper schedule locally (ms); default 1000. */
  readonly sweepIntervalMs?: number;
  /** The sweeper's grace; default the config's session.sweepGraceSeconds. */
  readonly graceSeconds?: number;
  readonly batchSize?: number;
  readonly batchingWindowSeconds?: number;
  readonly idlePollMs?: number;
  /** kinesalite and dynalite in this process (default) or each in a child process of its own (more throughput). */
  readonly emulators?: "in-process" | "child";
  /** Fixed ports on 127.0.0.1 (0 or unset: a free one). */
  readonly ports?: { kinesis?: number; dynamodb?: number; firehose?: number };
  readonly signal?: AbortSignal;
  readonly onProgress?: (status: PipelineStatus) => void;
  readonly progressIntervalMs?: number;
  /** Bound on each wait for the shards to drain and the windows to close (ms). */
  readonly drainTimeoutMs?: number;
  /** Test hook: wraps the sessionizer handler (fault injection). */
  readonly wrapSessionizer?: (handler: (e: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse>) => (e: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse>;
  /** Test hook: PutRecordBatch entries to fail at the local Firehose. */
  readonly failFirehoseEntry?: (stream: string, index: number, data: Buffer) => string | undefined;
}

export type Phase = "starting" | "loading" | "draining" | "closing windows" | "flushing" | "verifying" | "done";

export interface PipelineStatus {
  phase: Phase;
  elapsedMs: number;
  load: LoadProgress;
  /** Records the sessionizer finished (checkpointed). */
  processed: number;
  invocations: number;
  rawDelivered: number;
  rowsDelivered: number;
  rejectedDelivered: number;
  firehoseBuffered: number;
  openWindows?: number;
  sweeps: number;
  maxLagMs: number;
  /** The emulators' endpoints, once started. */
  endpoints: Record<string, string>;
}

export interface LocalRunResult {
  readonly report: Report;
  readonly reportFile: string;
  readonly expectedFile: string;
  readonly lakeDir: string;
  readonly timings: { totalMs: number; startMs: number; loadMs: number; drainMs: number; closeMs: number; verifyMs: number };
  readonly stats: {
    acknowledged: number;
    shards: number;
    invocations: number;
    retries: number;
    bisections: number;
    recordsToDlq: number;
    sweeps: number;
    sweepFailures: number;
    maxLagMs: number;
    functionErrors: number;
    firehose: Record<string, DeliveryStreamStats>;
  };
  readonly settings: { windowSeconds: number; shards: number; bufferIntervalSeconds: number; bufferSizeMB: number; graceSeconds: number; sweepIntervalMs: number; batchSize: number; batchingWindowSeconds: number };
}

export class PipelineAbortedError extends Error {
  constructor() {
    super("the local pipeline was interrupted");
    this.name = "PipelineAbortedError";
  }
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** The environment the handlers read, set for the run and put back afterwards. */
class Environment {
  private readonly saved = new Map<string, string | undefined>();
  set(vars: Record<string, string | undefined>): void {
    for (const [k, v] of Object.entries(vars)) {
      if (!this.saved.has(k)) this.saved.set(k, process.env[k]);
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
  }
  restore(): void {
    for (const [k, v] of this.saved) {
      if (v === undefined) delete process.env[k];
      else process.env[k] = v;
    }
    this.saved.clear();
  }
}

/** The functions' console output (their CloudWatch Logs) goes to a file while the run lasts. */
class ConsoleCapture {
  private readonly original = { log: console.log, info: console.info, warn: console.warn, error: console.error, debug: console.debug };
  private stream?: WriteStream;
  errors = 0;
  emf = { sessionDurationSum: 0, sessionEventsSum: 0, rowMetrics: 0, rejected: 0 };

  start(file: string): void {
    mkdirSync(path.dirname(file), { recursive: true });
    const stream = createWriteStream(file, { flags: "a" });
    this.stream = stream;
    const write = (level: string) => (...args: unknown[]) => {
      const line = format(...args);
      if (level === "error" || line.includes('"level":"ERROR"')) this.errors++;
      if (line.startsWith("{") && line.includes('"_aws"')) this.readEmf(line);
      stream.write(`${line}\n`);
    };
    console.log = write("log");
    console.info = write("info");
    console.warn = write("warn");
    console.error = write("error");
    console.debug = write("debug");
  }

  /** Sums the EMF metrics (session_duration, session_events, rejected_records) the functions printed. */
  private readEmf(line: string): void {
    try {
      const doc = JSON.parse(line) as Record<string, unknown>;
      const values = (v: unknown): number[] => (Array.isArray(v) ? v.map(Number) : v === undefined ? [] : [Number(v)]);
      const d = values(doc.session_duration);
      const e = values(doc.session_events);
      this.emf.sessionDurationSum += d.reduce((a, b) => a + b, 0);
      this.emf.sessionEventsSum += e.reduce((a, b) => a + b, 0);
      this.emf.rowMetrics += e.length;
      this.emf.rejected += values(doc.rejected_records).reduce((a, b) => a + b, 0);
    } catch {
      // not a JSON document: a plain log line
    }
  }

  async stop(): Promise<void> {
    Object.assign(console, this.original);
    const stream = this.stream;
    this.stream = undefined;
    if (stream) await new Promise<void>((r) => stream.end(() => r()));
  }
}

async function waitFor(what: string, timeoutMs: number, signal: AbortSignal | undefined, test: () => Promise<boolean> | boolean, everyMs = 100): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 1_000_000; i++) {
    if (signal?.aborted) throw new PipelineAbortedError();
    if (await test()) return;
    if (Date.now() > deadline) throw new Error(`${what}: not done within ${Math.round(timeoutMs / 1000)} s`);
    await sleep(everyMs);
  }
}

/** Open windows in the table (tombstones, which only keep positions, are not counted). */
export async function countOpenWindows(dynamo: DynamoDBClient, table: string): Promise<number> {
  let n = 0;
  let start: Record<string, AttributeValue> | undefined;
  for (let page = 0; page < 100_000; page++) {
    const out = await dynamo.send(
      new ScanCommand({
        TableName: table,
        Select: "COUNT",
        FilterExpression: "attribute_exists(#o)",
        ExpressionAttributeNames: { "#o": WINDOW_ATTR.openedAt },
        ExclusiveStartKey: start,
      }),
    );
    n += out.Count ?? 0;
    start = out.LastEvaluatedKey;
    if (!start) break;
  }
  return n;
}

/** Every object under a folder (recursively). */
function objectsUnder(dir: string): string[] {
  if (!existsSync(dir)) return [];
  const out: string[] = [];
  for (const name of readdirSync(dir)) {
    const p = path.join(dir, name);
    if (statSync(p).isDirectory()) out.push(...objectsUnder(p));
    else out.push(p);
  }
  return out;
}

/** The raw lake holds exactly the acknowledged payloads (events.ndjson), byte for byte, as a multiset. */
export function rawLakeCheck(eventsFile: string, rawDir: string): Check {
  const name = "raw: the raw lake holds every acknowledged payload, byte for byte";
  if (!existsSync(eventsFile)) return skippedCheck(name, `no ${eventsFile}`);
  const tally = new Map<string, number>();
  let sent = 0;
  for (const line of readFileSync(eventsFile, "utf8").split("\n")) {
    if (!line) continue;
    const data = (JSON.parse(line) as { data: string }).data;
    tally.set(data, (tally.get(data) ?? 0) + 1);
    sent++;
  }
  let found = 0;
  let unexpectedCount = 0;
  const unexpected: string[] = [];
  for (const file of objectsUnder(rawDir)) {
    const text = readFileSync(file, "utf8");
    const records = text.endsWith("\n") ? text.slice(0, -1).split("\n") : text.split("\n");
    for (const r of records) {
      found++;
      const n = tally.get(r);
      if (n) tally.set(r, n - 1);
      else if (unexpectedCount++ < 5) unexpected.push(r);
    }
  }
  const missing = [...tally].filter(([, n]) => n > 0).flatMap(([d, n]) => Array<string>(n).fill(d));
  return {
    name,
    passed: missing.length === 0 && unexpectedCount === 0 && found === sent,
    expected: { records: sent },
    actual: { records: found, missing: missing.length, unexpected: unexpectedCount, first_missing: missing.slice(0, 5), first_unexpected: unexpected },
    summary: `${sent} acknowledged, ${found} in the raw lake (${missing.length} missing, ${unexpectedCount} unexpected)`,
  };
}

/** The file a run writes into its out folder; only a folder that has it (or an empty or new one) is cleared. */
export const RUN_MARKER = ".local-run.json";

/** `--out` names a folder that is not empty and not a local run's output: nothing is deleted. */
export class OutDirRefusedError extends Error {
  constructor(readonly dir: string) {
    super(
      `refusing to use ${dir} as the out folder: it is not empty and has no ${RUN_MARKER}, so it is not a local run's output, and a run would delete its lake/, dlq/, logs/ and report.json. ` +
        `Give --out a new or empty folder, or a previous run's out folder (it has ${RUN_MARKER}); an old run's folder from before the marker: remove it yourself.`,
    );
    this.name = "OutDirRefusedError";
  }
}

function isRunMarker(file: string): boolean {
  try {
    const marker = JSON.parse(readFileSync(file, "utf8")) as { started_at?: unknown };
    return typeof marker === "object" && marker !== null && typeof marker.started_at === "string";
  } catch {
    return false;
  }
}

/**
 * Clears what a previous run left in the out folder, and marks the folder as this run's
 * (`.local-run.json`, with the start time). Only a missing or empty folder, or one with the
 * marker, is touched: anything else is an OutDirRefusedError, and nothing is deleted. A folder
 * that cannot be written is an OutputError.
 */
export function prepareOutDir(outDir: string, previous: string[], startedAt = new Date()): void {
  let entries: string[] = [];
  if (existsSync(outDir)) {
    if (!statSync(outDir).isDirectory()) throw new OutputError(outDir, "not a directory (ENOTDIR)");
    entries = writing(outDir, () => readdirSync(outDir));
  }
  if (entries.length > 0 && !isRunMarker(path.join(outDir, RUN_MARKER))) throw new OutDirRefusedError(outDir);
  writing(outDir, () => mkdirSync(outDir, { recursive: true }));
  for (const p of previous) writing(p, () => rmSync(p, { recursive: true, force: true }));
  const marker = path.join(outDir, RUN_MARKER);
  writing(marker, () => writeFileSync(marker, `${JSON.stringify({ tool: "npm run local", started_at: startedAt.toISOString(), pid: process.pid })}\n`));
}

export async function runLocalPipeline(options: LocalPipelineOptions): Promise<LocalRunResult> {
  const t0 = Date.now();
  const base = options.config ?? loadConfig();
  const windowSeconds = options.windowSeconds ?? base.windowSeconds;
  const config: SessionizationConfig = { ...base, windowSeconds };
  const names: LocalNames = localNames(config);
  const layout = lakeLayout(config);
  const shards = options.shards ?? 4;
  const bufferIntervalSeconds = options.bufferIntervalSeconds ?? Math.max(0.5, config.firehose.bufferIntervalSeconds / (options.bufferScale ?? 100));
  const bufferSizeMB = options.bufferSizeMB ?? config.firehose.bufferSizeMB;
  const graceSeconds = options.graceSeconds ?? config.session.sweepGraceSeconds;
  const sweepIntervalMs = options.sweepIntervalMs ?? 1000;
  const batchSize = options.batchSize ?? config.analytics.batchSize;
  const batchingWindowSeconds = options.batchingWindowSeconds ?? config.analytics.batchingWindowSeconds;
  const drainTimeoutMs = options.drainTimeoutMs ?? 120_000;
  const signal = options.signal;
  const settings = { windowSeconds, shards, bufferIntervalSeconds, bufferSizeMB, graceSeconds, sweepIntervalMs, batchSize, batchingWindowSeconds };

  const outDir = path.resolve(options.outDir);
  const lakeDir = path.join(outDir, "lake");
  const dlqFile = path.join(outDir, "dlq", `${names.deadLetterQueue}.ndjson`);
  const logFile = path.join(outDir, "logs", "functions.log");
  prepareOutDir(outDir, [lakeDir, path.dirname(dlqFile), path.dirname(logFile), path.join(outDir, "report.json")], new Date(t0));
  writing(lakeDir, () => mkdirSync(lakeDir, { recursive: true }));
  writing(path.dirname(dlqFile), () => mkdirSync(path.dirname(dlqFile), { recursive: true }));

  const status: PipelineStatus = {
    phase: "starting",
    elapsedMs: 0,
    load: {},
    processed: 0,
    invocations: 0,
    rawDelivered: 0,
    rowsDelivered: 0,
    rejectedDelivered: 0,
    firehoseBuffered: 0,
    sweeps: 0,
    maxLagMs: 0,
    endpoints: {},
  };
  const emulators: RunningEmulator[] = [];
  const env = new Environment();
  const capture = new ConsoleCapture();
  let esm: EventSourceMapping | undefined;
  let rawPoller: ShardPoller | undefined;
  let clock: SweeperClock | undefined;
  let firehose: LocalFirehose | undefined;
  let dynamo: DynamoDBClient | undefined;
  let kinesis: KinesisClient | undefined;
  let progressTimer: NodeJS.Timeout | undefined;
  let dlqCount = 0;
  const timings = { totalMs: 0, startMs: 0, loadMs: 0, drainMs: 0, closeMs: 0, verifyMs: 0 };
  let maxLagMs = 0;
  const aborted = () => {
    if (signal?.aborted) throw new PipelineAbortedError();
  };

  const refresh = () => {
    status.elapsedMs = Date.now() - t0;
    if (esm) {
      const p = esm.shardProgress();
      status.processed = p.reduce((n, s) => n + s.recordsDone, 0);
      status.invocations = esm.invocations;
    }
    if (firehose) {
      status.rawDelivered = firehose.statsOf(names.rawDelivery).records;
      status.rowsDelivered = firehose.statsOf(names.rowsDelivery).records;
      status.rejectedDelivered = firehose.statsOf(names.rejectedDelivery).records;
      status.firehoseBuffered = firehose.bufferedRecords;
    }
    status.sweeps = clock?.ticks ?? 0;
    status.maxLagMs = maxLagMs;
    options.onProgress?.({ ...status, load: { ...status.load }, endpoints: { ...status.endpoints } });
  };
  const setPhase = (phase: Phase) => {
    status.phase = phase;
    refresh();
  };

  let expectedFile = "";
  try {
    // --- emulators ---
    const ports = options.ports ?? {};
    if (options.emulators === "child") {
      emulators.push(await startEmulatorProcess("kinesalite", ports.kinesis ?? 0));
      emulators.push(await startEmulatorProcess("dynalite", ports.dynamodb ?? 0));
    } else {
      emulators.push(await startKinesalite(ports.kinesis ?? 0));
      emulators.push(await startDynalite(ports.dynamodb ?? 0));
    }
    firehose = new LocalFirehose({
      lakeDir,
      port: ports.firehose ?? 0,
      bufferIntervalSeconds,
      bufferSizeBytes: bufferSizeMB * 1024 * 1024,
      failEntry: options.failFirehoseEntry,
      streams: [
        // short names as the stacks give them (stacks/ingest.ts, stacks/analytics.ts)
        { name: names.rawDelivery, prefix: layout.rawdata, errorPrefix: config.lake.errorPrefix, shortName: "raw", appendDelimiter: true },
        { name: names.rowsDelivery, prefix: layout.aggregated, errorPrefix: config.lake.errorPrefix, shortName: "aggregated" },
        { name: names.rejectedDelivery, prefix: layout.rejected, errorPrefix: config.lake.errorPrefix, shortName: "rejected" },
      ],
    });
    emulators.push(await firehose.start());
    const [kinesalite, dynalite] = emulators;
    for (const e of emulators) status.endpoints[e.name] = e.endpoint;
    if (options.progressIntervalMs !== 0) progressTimer = setInterval(refresh, options.progressIntervalMs ?? 500);
    aborted();

    // --- stream and table, from the same definitions the stacks use ---
    const clientConfig = { region: config.region, credentials: EMULATOR_CREDENTIALS, requestHandler: new NodeHttpHandler() };
    kinesis = new KinesisClient({ ...clientConfig, endpoint: kinesalite.endpoint });
    dynamo = new DynamoDBClient({ ...clientConfig, endpoint: dynalite.endpoint });
    await kinesis.send(new CreateStreamCommand({ StreamName: names.stream, ShardCount: shards }));
    const k = kinesis;
    await waitFor("creating the local stream", 10_000, signal, async () => (await k.send(new DescribeStreamSummaryCommand({ StreamName: names.stream }))).StreamDescriptionSummary?.StreamStatus === "ACTIVE", 20);
    await dynamo.send(new CreateTableCommand(windowTableDefinition(names.table)));
    const d = dynamo;
    await waitFor("creating the window table", 10_000, signal, async () => (await d.send(new DescribeTableCommand({ TableName: names.table }))).Table?.TableStatus === "ACTIVE", 20);

    // --- the functions, unchanged, pointed at the emulators ---
    env.set({
      AWS_REGION: config.region,
      AWS_DEFAULT_REGION: config.region,
      AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
      // the emulators' credentials only: nothing from a profile or a session
      AWS_SESSION_TOKEN: undefined,
      AWS_PROFILE: undefined,
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_ENDPOINT_URL_DYNAMODB: dynalite.endpoint,
      AWS_ENDPOINT_URL_FIREHOSE: firehose.endpoint,
      AWS_LAMBDA_FUNCTION_NAME: names.sessionizer,
      // Powertools writes EMF through the global console (captured into the log file) and keeps metrics on.
      POWERTOOLS_DEV: "true",
      POWERTOOLS_METRICS_DISABLED: "false",
      ...functionEnvironment(
        functionSettings({ ...config, session: { ...config.session, sweepGraceSeconds: graceSeconds } }, {
          tableName: names.table,
          rowsDeliveryStream: names.rowsDelivery,
          rejectedDeliveryStream: names.rejectedDelivery,
        }),
      ),
    });
    const sessionizerModule = await import("../functions/sessionizer/handler");
    const sweeperModule = await import("../functions/sweeper/handler");
    sessionizerModule.resetSessionizer();
    sweeperModule.resetSweeper();
    capture.start(logFile);

    const baseHandler = async (event: KinesisStreamEvent) => {
      const oldest = Math.min(...event.Records.map((r) => r.kinesis.approximateArrivalTimestamp * 1000));
      maxLagMs = Math.max(maxLagMs, Date.now() - oldest);
      return sessionizerModule.handler(event);
    };
    const handler = options.wrapSessionizer ? options.wrapSessionizer(baseHandler) : baseHandler;
    esm = new EventSourceMapping({
      kinesis,
      streamName: names.stream,
      region: config.region,
      functionName: names.sessionizer,
      handler,
      batchSize,
      batchingWindowSeconds,
      maxRetryAttempts: config.analytics.maxRetryAttempts,
      maxRecordAgeSeconds: config.analytics.maxRecordAgeSeconds,
      // as the analytics stack configures the mapping (ParallelizationFactor: one batch per shard at a time locally)
      bisectBatchOnFunctionError: true,
      idlePollMs: options.idlePollMs ?? 200,
      onFailure: async (record: KinesisOnFailureRecord) => {
        dlqCount++;
        appendFileSync(dlqFile, `${JSON.stringify(record)}\n`);
      },
      onError: (err, shardId) => console.error(`event source mapping ${shardId}: ${(err as Error)?.message ?? err}`),
    });
    const fh = firehose;
    rawPoller = new ShardPoller(
      { kinesis, streamName: names.stream, idlePollMs: options.idlePollMs ?? 200 },
      (records) => {
        for (const r of records) fh.put(names.rawDelivery, [r.Data ?? new Uint8Array()], r.ApproximateArrivalTimestamp?.getTime());
      },
      (err, shardId) => console.error(`raw delivery ${shardId}: ${(err as Error)?.message ?? err}`),
    );
    clock = new SweeperClock(() => sweeperModule.handler(), sweepIntervalMs, (err) => console.error(`sweeper: ${(err as Error)?.message ?? err}`));
    await esm.start();
    await rawPoller.start();
    clock.start();
    timings.startMs = Date.now() - t0;

    // --- the load, in real time ---
    setPhase("loading");
    const loadController = new AbortController();
    const onAbort = () => loadController.abort();
    signal?.addEventListener("abort", onAbort);
    const tLoad = Date.now();
    let outcome: LoadOutcome;
    try {
      outcome = await options.load({
        kinesis,
        kinesisEndpoint: kinesalite.endpoint,
        region: config.region,
        streamName: names.stream,
        shardCount: shards,
        windowSeconds,
        outDir,
        signal: loadController.signal,
        onProgress: (p) => Object.assign(status.load, p),
      });
    } finally {
      signal?.removeEventListener("abort", onAbort);
    }
    aborted();
    expectedFile = outcome.expectedFile;
    timings.loadMs = Date.now() - tLoad;

    // --- every record consumed, every window closed, every buffer flushed ---
    setPhase("draining");
    const tDrain = Date.now();
    await Promise.all([esm.drained(drainTimeoutMs), rawPoller.drained(drainTimeoutMs)]);
    timings.drainMs = Date.now() - tDrain;
    aborted();
    setPhase("closing windows");
    const tClose = Date.now();
    const c = clock;
    await waitFor(
      "closing the open windows",
      (windowSeconds + graceSeconds) * 1000 + drainTimeoutMs,
      signal,
      async () => {
        status.openWindows = await countOpenWindows(d, names.table);
        return status.openWindows === 0;
      },
      250,
    );
    // A sweep in progress may still be delivering what it claimed: let one full tick pass.
    await c.tickAfter(Date.now(), sweepIntervalMs * 3 + 30_000);
    timings.closeMs = Date.now() - tClose;
    setPhase("flushing");
    await clock.stop();
    await esm.stop();
    await rawPoller.stop();
    await firehose.stop();
  } finally {
    if (progressTimer) clearInterval(progressTimer);
    await clock?.stop().catch(() => undefined);
    await esm?.stop().catch(() => undefined);
    await rawPoller?.stop().catch(() => undefined);
    await capture.stop();
    for (const e of [...emulators].reverse()) await e.stop().catch(() => undefined);
    kinesis?.destroy();
    dynamo?.destroy();
    env.restore();
  }

  // --- the catalog's SQL on DuckDB, then the verifier ---
  setPhase("verifying");
  const tVerify = Date.now();
  const expected = readExpectedFile(expectedFile);
  const fhStats = (firehose as LocalFirehose).allStats();
  const sp = (esm as EventSourceMapping).shardProgress();
  const extraChecks: Check[] = [
    {
      name: "sessionizer: no batch sent to the on-failure destination",
      passed: dlqCount === 0,
      expected: 0,
      actual: dlqCount,
      summary: dlqCount === 0 ? "none" : `${dlqCount} batches (${sp.reduce((n, s) => n + s.recordsToDlq, 0)} records) in ${path.relative(process.cwd(), dlqFile)}`,
    },
    {
      name: "firehose: every object delivered (nothing at the error prefix)",
      passed: Object.values(fhStats).every((s) => s.failedRecords === 0),
      expected: 0,
      actual: Object.fromEntries(Object.entries(fhStats).map(([n, s]) => [n, s.failedRecords])),
      summary: Object.entries(fhStats)
        .map(([n, s]) => `${n}: ${s.records} records in ${s.objects} objects, ${s.failedRecords} failed`)
        .join("; "),
    },
    {
      name: "firehose: every Direct PUT record ends in a newline (NDJSON)",
      passed: Object.values(fhStats).every((s) => s.recordsWithoutNewline === 0),
      expected: 0,
      actual: Object.fromEntries(Object.entries(fhStats).map(([n, s]) => [n, s.recordsWithoutNewline])),
      summary: `${Object.values(fhStats).reduce((n, s) => n + s.recordsWithoutNewline, 0)} records without a trailing newline`,
    },
    {
      name: "windows: none left open in the table",
      passed: status.openWindows === 0,
      expected: 0,
      actual: status.openWindows ?? null,
    },
    {
      name: "sessionizer: processing lag stayed under the sweep grace",
      passed: maxLagMs < graceSeconds * 1000,
      expected: `< ${graceSeconds * 1000} ms`,
      actual: maxLagMs,
      summary: `max ${maxLagMs} ms (grace ${graceSeconds * 1000} ms; a longer lag lets the sweeper close a window before a record that arrived in time is applied)`,
    },
  ];
  extraChecks.unshift(rawLakeCheck(path.join(path.dirname(expectedFile), "events.ndjson"), path.join(lakeDir, layout.rawdata)));
  const lake = await LocalLake.open(lakeDir, layout);
  let report: Report;
  try {
    report = await verify(lake, expected, { extraChecks });
    // SPEC section 7: one session_duration and one session_events value per emitted row (EMF, through Powertools).
    const [delivered] = await lake.query("SELECT count(*) AS rows, coalesce(sum(events), 0) AS events, coalesce(sum(duration_sec), 0) AS duration FROM aggregated");
    const lakeSide = { rows: Number(delivered.rows), session_events_sum: Number(delivered.events), session_duration_sum: Number(delivered.duration) };
    const emfSide = { rows: capture.emf.rowMetrics, session_events_sum: capture.emf.sessionEventsSum, session_duration_sum: capture.emf.sessionDurationSum };
    const metricsCheck: Check = {
      name: "metrics: EMF session_events / session_duration, one value per delivered row",
      passed: JSON.stringify(lakeSide) === JSON.stringify(emfSide),
      expected: lakeSide,
      actual: emfSide,
      summary: `${emfSide.rows} row metrics for ${lakeSide.rows} delivered rows (copies included); sums ${emfSide.session_events_sum} events, ${emfSide.session_duration_sum} s`,
    };
    report.checks.push(metricsCheck);
    report.passed = allPassed(report.checks);
  } finally {
    await lake.close();
  }
  const reportFile = path.join(outDir, "report.json");
  writeFileSync(reportFile, reportJson(report));
  timings.verifyMs = Date.now() - tVerify;
  timings.totalMs = Date.now() - t0;
  setPhase("done");
  return {
    report,
    reportFile,
    expectedFile,
    lakeDir,
    timings,
    settings,
    stats: {
      acknowledged: expected.counts.acknowledged,
      shards,
      invocations: (esm as EventSourceMapping).invocations,
      retries: sp.reduce((n, s) => n + s.retries, 0),
      bisections: sp.reduce((n, s) => n + s.bisections, 0),
      recordsToDlq: sp.reduce((n, s) => n + s.recordsToDlq, 0),
      sweeps: (clock as SweeperClock).ticks,
      sweepFailures: (clock as SweeperClock).failures,
      maxLagMs,
      functionErrors: capture.errors,
      firehose: fhStats,
    },
  };
}
