import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  ListShardsCommand,
  type KinesisClient,
  type _Record,
  type ShardIteratorType,
} from "@aws-sdk/client-kinesis";
import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from "aws-lambda";
import { randomUUID } from "node:crypto";

/**
 * Reads every shard of a Kinesis stream the way AWS services do, for the local pipeline:
 *
 * - `ShardPoller`: one loop per shard, GetRecords from TRIM_HORIZON, records in order.
 * - `EventSourceMapping`: the Lambda Kinesis event source mapping on top of it: batches of up
 *   to `batchSize` records gathered for up to `batchingWindowSeconds`, real `KinesisStreamEvent`
 *   payloads, one batch in flight per shard, checkpoint after success, ReportBatchItemFailures
 *   (resume from the lowest reported sequence number; an unknown or empty identifier fails the whole
 *   batch, as in AWS), a thrown error splits the batch in two (BisectBatchOnFunctionError, as the
 *   analytics stack sets it) or retries it whole, at most `maxRetryAttempts` retries
 *   (or `maxRecordAgeSeconds`), then the on-failure destination gets the batch's
 *   `KinesisBatchInfo` and the shard moves on.
 *
 * Every loop is bounded by `stop()`; nothing polls faster than `idlePollMs` on an idle shard.
 */

export interface ShardReaderOptions {
  readonly kinesis: KinesisClient;
  readonly streamName: string;
  /** Idle poll interval per shard (ms). Lambda polls an idle shard once a second. */
  readonly idlePollMs?: number;
  readonly iteratorType?: ShardIteratorType;
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function listShardIds(kinesis: KinesisClient, streamName: string): Promise<string[]> {
  const ids: string[] = [];
  let token: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const out = await kinesis.send(new ListShardsCommand(token ? { NextToken: token } : { StreamName: streamName }));
    for (const s of out.Shards ?? []) if (s.ShardId) ids.push(s.ShardId);
    token = out.NextToken;
    if (!token) break;
  }
  return ids.sort();
}

/** Waits for the next wake-up or a timeout, whichever first. */
class Waker {
  private wake?: () => void;
  sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, ms);
      const self = this;
      function done() {
        clearTimeout(t);
        if (self.wake === done) self.wake = undefined;
        resolve();
      }
      this.wake = done;
    });
  }
  poke(): void {
    this.wake?.();
  }
}

/** One shard's reading position; `lastReadEmptyAt` is when a read last found nothing new. */
export class ShardCursor {
  private iterator?: string;
  /** Set when the next read must restart at a position (after a failure or a checkpoint). */
  private seek?: { type: ShardIteratorType; sequenceNumber?: string };
  closed = false;
  lastReadEmptyAt = 0;
  millisBehind = 0;
  readCalls = 0;

  constructor(
    private readonly kinesis: KinesisClient,
    private readonly streamName: string,
    readonly shardId: string,
    private readonly start: ShardIteratorType = "TRIM_HORIZON",
  ) {
    this.seek = { type: start };
  }

  /** Restart where the cursor began (no checkpoint yet). */
  restart(): void {
    this.seek = { type: this.start };
    this.iterator = undefined;
  }

  /** Restart reading at (AT_) or after (AFTER_) a sequence number. */
  seekTo(type: "AT_SEQUENCE_NUMBER" | "AFTER_SEQUENCE_NUMBER", sequenceNumber: string): void {
    this.seek = { type, sequenceNumber };
    this.iterator = undefined;
  }

  async read(limit: number): Promise<_Record[]> {
    if (this.closed) return [];
    if (this.seek) {
      const out = await this.kinesis.send(
        new GetShardIteratorCommand({
          StreamName: this.streamName,
          ShardId: this.shardId,
          ShardIteratorType: this.seek.type,
          StartingSequenceNumber: this.seek.sequenceNumber,
        }),
      );
      this.iterator = out.ShardIterator;
      this.seek = undefined;
    }
    if (!this.iterator) {
      this.closed = true;
      return [];
    }
    this.readCalls++;
    const started = Date.now();
    const out = await this.kinesis.send(new GetRecordsCommand({ ShardIterator: this.iterator, Limit: Math.max(1, Math.min(10000, limit)) }));
    this.iterator = out.NextShardIterator;
    if (!this.iterator) this.closed = true;
    this.millisBehind = out.MillisBehindLatest ?? 0;
    const records = out.Records ?? [];
    if (records.length === 0) this.lastReadEmptyAt = started;
    return records;
  }
}

export interface ShardProgress {
  shardId: string;
  recordsRead: number;
  /** Records whose batch succeeded (checkpointed). */
  recordsDone: number;
  batches: number;
  retries: number;
  /** Batches split in two after a function error. */
  bisections: number;
  /** Records handed to the on-failure destination. */
  recordsToDlq: number;
  checkpoint?: string;
  inFlight: boolean;
}

/** The on-failure destination record Lambda sends for a Kinesis batch (SQS/SNS/S3 shape). */
export interface KinesisOnFailureRecord {
  requestContext: { requestId: string; functionArn: string; condition: string; approximateInvokeCount: number };
  responseContext: { statusCode: number; executedVersion: string; functionError: string };
  version: "1.0";
  timestamp: string;
  KinesisBatchInfo: {
    shardId: string;
    startSequenceNumber: string;
    endSequenceNumber: string;
    approximateArrivalOfFirstRecord: string;
    approximateArrivalOfLastRecord: string;
    batchSize: number;
    streamArn: string;
  };
  /** Local addition, not in AWS's record: the failure that exhausted the retries. */
  lastError?: string;
}

export type KinesisHandler = (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse | void | undefined>;

export interface EventSourceMappingOptions extends ShardReaderOptions {
  readonly region: string;
  readonly functionName: string;
  readonly handler: KinesisHandler;
  readonly batchSize: number;
  readonly batchingWindowSeconds: number;
  readonly maxRetryAttempts: number;
  readonly maxRecordAgeSeconds?: number;
  /** Split a batch in two when the function throws (default true, as the analytics stack sets it). */
  readonly bisectBatchOnFunctionError?: boolean;
  readonly onFailure: (record: KinesisOnFailureRecord) => Promise<void>;
  /** Backoff before retry n (1-based), ms; default 100·2^(n-1) capped at 2 s. */
  readonly retryDelayMs?: (attempt: number) => number;
  readonly accountId?: string;
  /** Reports an error of the mapping itself (a failed GetRecords is retried). */
  readonly onError?: (err: unknown, shardId: string) => void;
}

export function streamArn(region: string, streamName: string, accountId = "000000000000"): string {
  return `arn:aws:kinesis:${region}:${accountId}:stream/${streamName}`;
}

/** A Kinesis record as the Lambda event source mapping delivers it. */
export function toLambdaRecord(record: _Record, shardId: string, arn: string, region: string, roleArn: string): KinesisStreamRecord {
  const arrival = record.ApproximateArrivalTimestamp instanceof Date ? record.ApproximateArrivalTimestamp.getTime() : Date.now();
  return {
    kinesis: {
      kinesisSchemaVersion: "1.0",
      partitionKey: record.PartitionKey ?? "",
      sequenceNumber: record.SequenceNumber ?? "",
      data: Buffer.from(record.Data ?? new Uint8Array()).toString("base64"),
      approximateArrivalTimestamp: arrival / 1000,
    },
    eventSource: "aws:kinesis",
    eventVersion: "1.0",
    eventID: `${shardId}:${record.SequenceNumber}`,
    eventName: "aws:kinesis:record",
    invokeIdentityArn: roleArn,
    awsRegion: region,
    eventSourceARN: arn,
  };
}

abstract class ShardLoops {
  protected stopping = false;
  protected readonly loops: Promise<void>[] = [];
  protected readonly cursors: ShardCursor[] = [];
  protected readonly wakers: Waker[] = [];
  protected readonly idlePollMs: number;

  constructor(protected readonly base: ShardReaderOptions) {
    this.idlePollMs = base.idlePollMs ?? 250;
  }

  async start(): Promise<void> {
    const ids = await listShardIds(this.base.kinesis, this.base.streamName);
    if (ids.length === 0) throw new Error(`stream ${this.base.streamName} has no shards`);
    for (const id of ids) {
      const cursor = new ShardCursor(this.base.kinesis, this.base.streamName, id, this.base.iteratorType ?? "TRIM_HORIZON");
      const waker = new Waker();
      this.cursors.push(cursor);
      this.wakers.push(waker);
      this.loops.push(this.run(cursor, waker, this.cursors.length - 1));
    }
  }

  protected abstract run(cursor: ShardCursor, waker: Waker, index: number): Promise<void>;

  /** Finishes the batches in flight and ends every shard loop. */
  async stop(): Promise<void> {
    this.stopping = true;
    for (const w of this.wakers) w.poke();
    await Promise.all(this.loops);
  }

  get shardIds(): string[] {
    return this.cursors.map((c) => c.shardId);
  }

  protected abstract idle(index: number): boolean;

  /**
   * Resolves once every shard has read past everything written before the call (an empty read that
   * started after the call) with nothing in flight. Bounded by `timeoutMs`.
   */
  async drained(timeoutMs: number): Promise<void> {
    const since = Date.now();
    const deadline = since + timeoutMs;
    for (const w of this.wakers) w.poke();
    while (Date.now() < deadline) {
      if (this.cursors.every((c, i) => c.closed || (c.lastReadEmptyAt >= since && c.millisBehind === 0 && this.idle(i)))) return;
      await sleep(50);
    }
    throw new Error(`the stream's shards were not drained within ${timeoutMs} ms`);
  }
}

/** Hands every record of every shard, in order, to `deliver` (Firehose with a Kinesis source). */
export class ShardPoller extends ShardLoops {
  records = 0;
  private busy: boolean[] = [];

  constructor(
    options: ShardReaderOptions,
    private readonly deliver: (records: _Record[], shardId: string) => void | Promise<void>,
    private readonly onError?: (err: unknown, shardId: string) => void,
  ) {
    super(options);
  }

  protected idle(i: number): boolean {
    return !this.busy[i];
  }

  protected async run(cursor: ShardCursor, waker: Waker, i: number): Promise<void> {
    let failures = 0;
    let lastDelivered: string | undefined;
    while (!this.stopping) {
      this.busy[i] = true;
      try {
        const records = await cursor.read(10000);
        if (records.length > 0) {
          await this.deliver(records, cursor.shardId);
          this.records += records.length;
          lastDelivered = records[records.length - 1].SequenceNumber;
        }
        failures = 0;
        this.busy[i] = false;
        if (cursor.closed) return;
        if (records.length === 0) await waker.sleep(this.idlePollMs);
      } catch (err) {
        this.busy[i] = false;
        this.onError?.(err, cursor.shardId);
        if (lastDelivered) cursor.seekTo("AFTER_SEQUENCE_NUMBER", lastDelivered);
        else cursor.restart();
        await waker.sleep(Math.min(2000, 100 * 2 ** Math.min(failures++, 5)));
      }
    }
  }
}

export class EventSourceMapping extends ShardLoops {
  private readonly progress: ShardProgress[] = [];
  private readonly arn: string;
  private readonly functionArn: string;
  private readonly roleArn: string;
  invocations = 0;

  constructor(private readonly options: EventSourceMappingOptions) {
    super(options);
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1 || options.batchSize > 10000) throw new RangeError(`batchSize must be 1..10000, got ${options.batchSize}`);
    const account = options.accountId ?? "000000000000";
    this.arn = streamArn(options.region, options.streamName, account);
    this.functionArn = `arn:aws:lambda:${options.region}:${account}:function:${options.functionName}`;
    this.roleArn = `arn:aws:iam::${account}:role/${options.functionName}`;
  }

  shardProgress(): ShardProgress[] {
    return this.progress.map((p) => ({ ...p }));
  }

  protected idle(i: number): boolean {
    const p = this.progress[i];
    return !p || !p.inFlight;
  }

  protected async run(cursor: ShardCursor, waker: Waker, i: number): Promise<void> {
    const p: ShardProgress = { shardId: cursor.shardId, recordsRead: 0, recordsDone: 0, batches: 0, retries: 0, bisections: 0, recordsToDlq: 0, inFlight: false };
    this.progress[i] = p;
    const { batchSize, batchingWindowSeconds } = this.options;
    let readFailures = 0;
    while (!this.stopping) {
      // Gather a batch: up to batchSize records, for up to the batching window after the first.
      const batch: _Record[] = [];
      let firstAt = 0;
      try {
        for (let reads = 0; reads < 1_000_000 && !this.stopping; reads++) {
          const got = await cursor.read(batchSize - batch.length);
          if (got.length > 0 && batch.length === 0) firstAt = Date.now();
          batch.push(...got);
          p.recordsRead += got.length;
          p.inFlight = batch.length > 0;
          if (batch.length >= batchSize || cursor.closed) break;
          if (batch.length > 0 && Date.now() - firstAt >= batchingWindowSeconds * 1000) break;
          if (got.length === 0) {
            const wait = batch.length === 0 ? this.idlePollMs : Math.min(this.idlePollMs, firstAt + batchingWindowSeconds * 1000 - Date.now());
            await waker.sleep(Math.max(1, wait));
          }
        }
        readFailures = 0;
      } catch (err) {
        p.inFlight = false;
        p.recordsRead -= batch.length;
        this.options.onError?.(err, cursor.shardId);
        // Whatever was gathered is read again: restart after the checkpoint.
        if (p.checkpoint) cursor.seekTo("AFTER_SEQUENCE_NUMBER", p.checkpoint);
        else cursor.restart();
        await waker.sleep(Math.min(2000, 100 * 2 ** Math.min(readFailures++, 5)));
        continue;
      }
      if (batch.length === 0) {
        p.inFlight = false;
        if (cursor.closed) return;
        continue;
      }
      p.inFlight = true;
      await this.invokeWithRetries(cursor, batch, p);
      p.inFlight = false;
      if (cursor.closed) return;
    }
  }

  private async invokeWithRetries(cursor: ShardCursor, records: _Record[], p: ShardProgress): Promise<void> {
    let remaining = records;
    let attempts = 0;
    let lastError = "";
    const maxAgeMs = (this.options.maxRecordAgeSeconds ?? Number.POSITIVE_INFINITY) * 1000;
    for (;;) {
      attempts++;
      p.batches++;
      this.invocations++;
      const event: KinesisStreamEvent = {
        Records: remaining.map((r) => toLambdaRecord(r, cursor.shardId, this.arn, this.options.region, this.roleArn)),
      };
      let failedAt = -1;
      let functionError = false;
      try {
        const response = await this.options.handler(event);
        const failures = response?.batchItemFailures ?? [];
        if (failures.length > 0) {
          const index = new Map(remaining.map((r, k) => [r.SequenceNumber, k]));
          let lowest = Number.POSITIVE_INFINITY;
          for (const f of failures) {
            const k = f?.itemIdentifier ? index.get(f.itemIdentifier) : undefined;
            // An empty or unknown identifier fails the whole batch (as in AWS).
            lowest = Math.min(lowest, k === undefined ? 0 : k);
          }
          failedAt = lowest;
          lastError = `batch item failure at ${remaining[failedAt].SequenceNumber}`;
        }
      } catch (err) {
        failedAt = 0;
        functionError = true;
        lastError = (err as Error)?.stack ?? String(err);
      }
      if (failedAt < 0) {
        this.checkpoint(remaining[remaining.length - 1], p, remaining.length);
        return;
      }
      if (failedAt > 0) {
        this.checkpoint(remaining[failedAt - 1], p, failedAt);
        remaining = remaining.slice(failedAt);
      }
      if (functionError && this.options.bisectBatchOnFunctionError !== false && remaining.length > 1 && !this.stopping) {
        // BisectBatchOnFunctionError: retry the two halves separately, in order.
        p.bisections++;
        const mid = Math.ceil(remaining.length / 2);
        await this.invokeWithRetries(cursor, remaining.slice(0, mid), p);
        await this.invokeWithRetries(cursor, remaining.slice(mid), p);
        return;
      }
      const oldest = remaining[0].ApproximateArrivalTimestamp?.getTime() ?? Date.now();
      const retriesLeft = attempts <= this.options.maxRetryAttempts && Date.now() - oldest < maxAgeMs;
      if (!retriesLeft || this.stopping) {
        if (!retriesLeft) {
          await this.sendToDlq(cursor.shardId, remaining, attempts, lastError);
          p.recordsToDlq += remaining.length;
          this.checkpoint(remaining[remaining.length - 1], p, 0);
        } else {
          // Stopping: leave the records unacknowledged, as a Lambda would on shutdown.
          cursor.seekTo("AT_SEQUENCE_NUMBER", remaining[0].SequenceNumber as string);
        }
        return;
      }
      p.retries++;
      const delay = this.options.retryDelayMs?.(attempts) ?? Math.min(2000, 100 * 2 ** (attempts - 1));
      await sleep(delay);
    }
  }

  /** Records the shard's checkpoint (in memory: the local mapping's lease table). */
  private checkpoint(last: _Record, p: ShardProgress, done: number): void {
    p.checkpoint = last.SequenceNumber;
    p.recordsDone += done;
  }

  private async sendToDlq(shardId: string, records: _Record[], attempts: number, lastError: string): Promise<void> {
    const first = records[0];
    const last = records[records.length - 1];
    const record: KinesisOnFailureRecord = {
      requestContext: {
        requestId: randomUUID(),
        functionArn: this.functionArn,
        condition: attempts > this.options.maxRetryAttempts ? "RetryAttemptsExhausted" : "RecordAgeExceeded",
        approximateInvokeCount: attempts,
      },
      responseContext: { statusCode: 200, executedVersion: "$LATEST", functionError: "Unhandled" },
      version: "1.0",
      timestamp: new Date().toISOString(),
      KinesisBatchInfo: {
        shardId,
        startSequenceNumber: first.SequenceNumber as string,
        endSequenceNumber: last.SequenceNumber as string,
        approximateArrivalOfFirstRecord: (first.ApproximateArrivalTimestamp ?? new Date()).toISOString(),
        approximateArrivalOfLastRecord: (last.ApproximateArrivalTimestamp ?? new Date()).toISOString(),
        batchSize: records.length,
        streamArn: this.arn,
      },
      lastError: lastError.slice(0, 2000),
    };
    await this.options.onFailure(record);
  }
}
