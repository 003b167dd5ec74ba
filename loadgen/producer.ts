import { KinesisClient, PutRecordsCommand, type PutRecordsResultEntry } from "@aws-sdk/client-kinesis";
import { backOff } from "exponential-backoff";
import { type OutRecord, refusal, recordBytes, recordBytesBound } from "./batch";
import { MAX_BYTES_PER_CALL, MAX_RECORDS_PER_CALL } from "./limits";

/**
 * One PutRecords batch with retries of only the entries that failed for a transient reason
 * (ProvisionedThroughputExceededException, InternalFailure), exponential backoff with full
 * jitter (exponential-backoff), a bounded number of attempts. Whatever is still failing at the
 * end is returned as failed: never counted, never in the expectations.
 */

export const RETRYABLE_ENTRY_CODES = new Set(["ProvisionedThroughputExceededException", "InternalFailure"]);

/** Whole-call errors worth another attempt (throttling, 5xx, the network). */
export function isRetryableCallError(err: unknown): boolean {
  const e = err as { name?: string; code?: string; $retryable?: unknown; $metadata?: { httpStatusCode?: number } };
  if (e?.$retryable) return true;
  const name = e?.name ?? "";
  if (
    [
      "ProvisionedThroughputExceededException",
      "LimitExceededException",
      "InternalFailure",
      "InternalFailureException",
      "ServiceUnavailable",
      "ServiceUnavailableException",
      "ThrottlingException",
      "TimeoutError",
      "RequestTimeout",
    ].includes(name)
  )
    return true;
  const status = e?.$metadata?.httpStatusCode;
  if (status !== undefined && status >= 500) return true;
  return ["ECONNRESET", "ECONNREFUSED", "EPIPE", "ETIMEDOUT", "EAI_AGAIN", "ECONNABORTED"].includes(e?.code ?? name);
}

export interface RetryOptions {
  /** Attempts in all (first + retries), ≥ 1. */
  readonly maxAttempts: number;
  readonly baseDelayMs: number;
  readonly maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryOptions = { maxAttempts: 8, baseDelayMs: 100, maxDelayMs: 5000 };

export interface Acked<T> {
  readonly item: T;
  readonly record: OutRecord;
  /** The send time of the attempt that was acknowledged (epoch ms). */
  readonly sentAt: number;
  readonly shardId: string;
  readonly sequenceNumber: string;
}

export interface Failed<T> {
  readonly item: T;
  readonly code: string;
  readonly message: string;
}

export interface PutOutcome<T> {
  /** In acknowledgement order: the first attempt's in request order, then each retry's. */
  readonly acked: Acked<T>[];
  readonly failed: Failed<T>[];
  /** Items `prepare` took back before a retry (they go back to the scheduler). */
  readonly withdrawn: T[];
  readonly attempts: number;
  /** Entries sent again. */
  readonly retried: number;
  /** Duration of each call from its recorded send time to its answer, ms. */
  readonly callMs: number[];
  /** A non-retryable whole-call error (e.g. the stream does not exist); the run should stop. */
  readonly fatal?: Error;
}

export interface PutBatchOptions<T> extends Partial<RetryOptions> {
  readonly client: KinesisClient;
  readonly stream: string;
  readonly items: readonly T[];
  /**
   * The record of an item for an attempt at time `t` (the recorded send time), or null to
   * withdraw the item; lets the load generator stamp client_timestamp at each attempt.
   */
  readonly prepare: (item: T, t: number, attempt: number) => OutRecord | null;
  readonly now?: () => number;
  readonly signal?: AbortSignal;
  /** Before each attempt (e.g. to wait for rate-limiter tokens). */
  readonly beforeAttempt?: (items: readonly T[], attempt: number) => Promise<void>;
  /** The send time to record for the first attempt (when the caller stamped the records already); default now(). */
  readonly firstAttemptAt?: number;
  /** Told the send time of each attempt before it is made. */
  readonly onAttempt?: (t: number, attempt: number) => void;
}

class RetryLater extends Error {}
class Aborted extends Error {}

export async function putBatch<T>(opts: PutBatchOptions<T>): Promise<PutOutcome<T>> {
  const now = opts.now ?? Date.now;
  const retry: RetryOptions = {
    maxAttempts: opts.maxAttempts ?? DEFAULT_RETRY.maxAttempts,
    baseDelayMs: opts.baseDelayMs ?? DEFAULT_RETRY.baseDelayMs,
    maxDelayMs: opts.maxDelayMs ?? DEFAULT_RETRY.maxDelayMs,
  };
  const acked: Acked<T>[] = [];
  const failed: Failed<T>[] = [];
  const withdrawn: T[] = [];
  const callMs: number[] = [];
  let pending: T[] = [...opts.items];
  /** The last failure of each pending item, reported if it never succeeds. */
  let lastFailure = new Map<T, { code: string; message: string }>();
  let attempts = 0;
  let retried = 0;
  let fatal: Error | undefined;

  const attempt = async () => {
    if (opts.signal?.aborted && attempts > 0) throw new Aborted();
    attempts++;
    if (attempts > 1) retried += pending.length;
    if (opts.beforeAttempt) await opts.beforeAttempt(pending, attempts);
    const t = attempts === 1 && opts.firstAttemptAt !== undefined ? opts.firstAttemptAt : now();
    opts.onAttempt?.(t, attempts);
    const items: T[] = [];
    const records: OutRecord[] = [];
    let bytes = 0;
    for (const item of pending) {
      const record = opts.prepare(item, t, attempts);
      if (record === null) {
        withdrawn.push(item);
        continue;
      }
      const why = refusal(record);
      if (why !== undefined) {
        failed.push({ item, code: "RecordTooLarge", message: why });
        continue;
      }
      bytes += recordBytesBound(record);
      items.push(item);
      records.push(record);
    }
    // the cheap bound first; the exact size only when the bound is over the limit
    if (bytes > MAX_BYTES_PER_CALL) bytes = records.reduce((n, r) => n + recordBytes(r), 0);
    if (records.length > MAX_RECORDS_PER_CALL || bytes > MAX_BYTES_PER_CALL) {
      throw new RangeError(`putBatch: ${records.length} records / ${bytes} bytes exceed one PutRecords call; plan the batches first`);
    }
    pending = [];
    if (records.length === 0) return;
    // the call's duration is counted from the recorded send time: it bounds how far the arrival is from it
    const started = t;
    let result: PutRecordsResultEntry[];
    try {
      const out = await opts.client.send(
        new PutRecordsCommand({
          StreamName: opts.stream,
          Records: records.map((r) => ({ Data: Buffer.from(r.data, "utf8"), PartitionKey: r.partitionKey })),
        }),
      );
      result = out.Records ?? [];
    } catch (err) {
      callMs.push(now() - started);
      const e = err as Error;
      if (!isRetryableCallError(err)) {
        fatal = e;
        for (const item of items) failed.push({ item, code: e.name || "Error", message: e.message });
        return;
      }
      pending = items;
      lastFailure = new Map(items.map((i) => [i, { code: e.name || "Error", message: e.message }]));
      throw new RetryLater();
    }
    callMs.push(now() - started);
    const next = new Map<T, { code: string; message: string }>();
    items.forEach((item, i) => {
      const entry = result[i];
      if (entry && !entry.ErrorCode && entry.SequenceNumber) {
        acked.push({ item, record: records[i], sentAt: t, shardId: entry.ShardId ?? "", sequenceNumber: entry.SequenceNumber });
        return;
      }
      const code = entry?.ErrorCode ?? "MissingResult";
      const message = entry?.ErrorMessage ?? "no result entry for the record";
      if (RETRYABLE_ENTRY_CODES.has(code)) {
        pending.push(item);
        next.set(item, { code, message });
      } else failed.push({ item, code, message });
    });
    lastFailure = next;
    if (pending.length > 0) throw new RetryLater();
  };

  try {
    await backOff(attempt, {
      numOfAttempts: Math.max(1, retry.maxAttempts),
      startingDelay: retry.baseDelayMs,
      timeMultiple: 2,
      maxDelay: retry.maxDelayMs,
      jitter: "full",
      delayFirstAttempt: false,
      retry: (e) => e instanceof RetryLater && !opts.signal?.aborted,
    });
  } catch (err) {
    const stopped = err instanceof Aborted || (err instanceof RetryLater && opts.signal?.aborted);
    if (!stopped && !(err instanceof RetryLater)) {
      fatal = err as Error;
    }
    for (const item of pending) {
      const f = lastFailure.get(item) ?? { code: (err as Error).name, message: (err as Error).message };
      failed.push(stopped ? { item, code: f.code, message: `${f.message} (not retried: stopped)` } : { item, ...f });
    }
    pending = [];
  }
  return { acked, failed, withdrawn, attempts, retried, callMs, fatal };
}
