import { PutRecordBatchCommand, type FirehoseClient } from "@aws-sdk/client-firehose";
import { backOff } from "exponential-backoff";
import type { SessionRow } from "../core/row";
import type { RejectedRecord, RejectedSink, RowSink } from "./ports";

/** Firehose PutRecordBatch limits. */
export const FIREHOSE_MAX_BATCH_RECORDS = 500;
export const FIREHOSE_MAX_BATCH_BYTES = 4 * 1024 * 1024;
export const FIREHOSE_MAX_RECORD_BYTES = 1000 * 1024;

export interface FirehoseSinkOptions {
  /** Total attempts of one batch (the first call included); at least 1. */
  readonly maxAttempts?: number;
  readonly startingDelayMs?: number;
  readonly maxDelayMs?: number;
  readonly maxBatchRecords?: number;
  readonly maxBatchBytes?: number;
}

/** Raised when records are still undelivered after the last attempt (or on a non-retryable error). */
export class FirehoseDeliveryError extends Error {
  constructor(
    readonly streamName: string,
    readonly failedCount: number,
    readonly totalCount: number,
    readonly errorCodes: Readonly<Record<string, number>>,
    readonly attempts: number,
    /** Positions (in the array given to send) of the objects that were not delivered. */
    readonly failedIndexes: readonly number[],
    cause?: unknown,
  ) {
    const codes = Object.entries(errorCodes)
      .map(([code, n]) => `${code} x${n}`)
      .join(", ");
    super(
      `${failedCount} of ${totalCount} records failed to reach Firehose stream ${streamName} after ${attempts} attempt(s): ${codes || "no error code"}`,
      { cause },
    );
    this.name = "FirehoseDeliveryError";
  }
}

export { undeliveredIndexes } from "./ports";

/** Errors a retry cannot fix (wrong stream, bad request, permissions). */
const FATAL = new Set([
  "ResourceNotFoundException",
  "InvalidArgumentException",
  "InvalidKMSResourceException",
  "AccessDeniedException",
  "ValidationException",
  "UnrecognizedClientException",
]);

class PartialFailure extends Error {}

const encoder = new TextEncoder();

/**
 * Writes objects to a Firehose delivery stream, one JSON object + "\n" per Firehose record,
 * in PutRecordBatch calls of at most 500 records and 4 MiB. Only the entries Firehose reports
 * as failed are sent again, with exponential backoff and full jitter, a bounded number of times.
 */
export class FirehoseNdjsonSink<T> {
  private readonly maxAttempts: number;
  private readonly startingDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly maxBatchRecords: number;
  private readonly maxBatchBytes: number;

  constructor(
    private readonly client: FirehoseClient,
    readonly streamName: string,
    options: FirehoseSinkOptions = {},
  ) {
    this.maxAttempts = Math.max(1, options.maxAttempts ?? 6);
    this.startingDelayMs = options.startingDelayMs ?? 100;
    this.maxDelayMs = options.maxDelayMs ?? 3000;
    this.maxBatchRecords = Math.min(FIREHOSE_MAX_BATCH_RECORDS, options.maxBatchRecords ?? FIREHOSE_MAX_BATCH_RECORDS);
    this.maxBatchBytes = Math.min(FIREHOSE_MAX_BATCH_BYTES, options.maxBatchBytes ?? FIREHOSE_MAX_BATCH_BYTES);
  }

  /** Splits encoded records into calls within the count and size limits; returns their positions. */
  batches(records: readonly Uint8Array[]): number[][] {
    const out: number[][] = [];
    let current: number[] = [];
    let bytes = 0;
    records.forEach((r, i) => {
      if (r.length > FIREHOSE_MAX_RECORD_BYTES) {
        throw new RangeError(`a record of ${r.length} bytes exceeds Firehose's ${FIREHOSE_MAX_RECORD_BYTES}-byte record limit`);
      }
      if (current.length > 0 && (current.length === this.maxBatchRecords || bytes + r.length > this.maxBatchBytes)) {
        out.push(current);
        current = [];
        bytes = 0;
      }
      current.push(i);
      bytes += r.length;
    });
    if (current.length > 0) out.push(current);
    return out;
  }

  async send(objects: readonly T[]): Promise<void> {
    if (objects.length === 0) return;
    const records = objects.map((o) => encoder.encode(JSON.stringify(o) + "\n"));
    const failures: FirehoseDeliveryError[] = [];
    // Batches go one after another: a throttled stream is not helped by more parallel calls.
    for (const batch of this.batches(records)) {
      try {
        await this.sendBatch(records, batch);
      } catch (err) {
        if (err instanceof FirehoseDeliveryError) failures.push(err);
        else throw err;
      }
    }
    if (failures.length > 0) {
      const codes: Record<string, number> = {};
      for (const f of failures) for (const [c, n] of Object.entries(f.errorCodes)) codes[c] = (codes[c] ?? 0) + n;
      const failed = failures.flatMap((f) => f.failedIndexes);
      throw new FirehoseDeliveryError(
        this.streamName,
        failed.length,
        records.length,
        codes,
        Math.max(...failures.map((f) => f.attempts)),
        failed,
        failures[0].cause,
      );
    }
  }

  /** Sends `records[i]` for each i in `batch`, retrying only the entries Firehose reports failed. */
  private async sendBatch(records: readonly Uint8Array[], batch: readonly number[]): Promise<void> {
    let pending = batch;
    let codes: Record<string, number> = {};
    let attempts = 0;
    try {
      await backOff(
        async () => {
          attempts += 1;
          let out;
          try {
            out = await this.client.send(
              new PutRecordBatchCommand({ DeliveryStreamName: this.streamName, Records: pending.map((i) => ({ Data: records[i] })) }),
            );
          } catch (err) {
            const name = (err as Error)?.name ?? "Error";
            codes = { [name]: pending.length };
            throw err;
          }
          if (!out.FailedPutCount) {
            pending = [];
            return;
          }
          const responses = out.RequestResponses ?? [];
          const failed: number[] = [];
          codes = {};
          pending.forEach((index, i) => {
            const code = responses[i]?.ErrorCode ?? (responses[i]?.RecordId ? undefined : "MissingResponse");
            if (code !== undefined) {
              failed.push(index);
              codes[code] = (codes[code] ?? 0) + 1;
            }
          });
          pending = failed;
          if (pending.length > 0) throw new PartialFailure(`${pending.length} records failed`);
        },
        {
          numOfAttempts: this.maxAttempts,
          startingDelay: this.startingDelayMs,
          maxDelay: this.maxDelayMs,
          timeMultiple: 2,
          jitter: "full",
          retry: (err: unknown) => err instanceof PartialFailure || !FATAL.has((err as Error)?.name),
        },
      );
    } catch (err) {
      throw new FirehoseDeliveryError(
        this.streamName,
        pending.length,
        batch.length,
        codes,
        attempts,
        pending,
        err instanceof PartialFailure ? undefined : err,
      );
    }
  }
}

/** Session rows to Firehose `aggregated`. */
export class FirehoseRowSink extends FirehoseNdjsonSink<SessionRow> implements RowSink {}

/** Malformed records to Firehose `rejected`. */
export class FirehoseRejectedSink extends FirehoseNdjsonSink<RejectedRecord> implements RejectedSink {}
