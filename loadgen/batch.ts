import { MAX_BYTES_PER_CALL, MAX_PARTITION_KEY_LENGTH, MAX_RECORDS_PER_CALL, MAX_RECORD_BYTES } from "./limits";

/** A record to put: the payload string (sent as its UTF-8 bytes) and the partition key. */
export interface OutRecord {
  readonly data: string;
  readonly partitionKey: string;
}

/** Bytes a record counts against the request and shard limits: data plus partition key. */
export function recordBytes(record: OutRecord): number {
  return Buffer.byteLength(record.data, "utf8") + Buffer.byteLength(record.partitionKey, "utf8");
}

/** An upper bound of recordBytes without encoding: UTF-8 takes at most 3 bytes per UTF-16 unit. */
export function recordBytesBound(record: OutRecord): number {
  return 3 * (record.data.length + record.partitionKey.length);
}

export class RecordRefusedError extends Error {
  constructor(
    readonly index: number,
    readonly reason: string,
  ) {
    super(`record ${index} refused before sending: ${reason}`);
    this.name = "RecordRefusedError";
  }
}

/** Why a record may not be sent at all, or undefined if it may. */
export function refusal(record: OutRecord): string | undefined {
  const pk = record.partitionKey;
  if (pk.length < 1 || pk.length > MAX_PARTITION_KEY_LENGTH) return `partition key must be 1 to ${MAX_PARTITION_KEY_LENGTH} characters, got ${pk.length}`;
  if (recordBytesBound(record) <= MAX_RECORD_BYTES) return undefined;
  const bytes = recordBytes(record);
  if (bytes > MAX_RECORD_BYTES) return `${bytes} bytes (data + partition key) is over the ${MAX_RECORD_BYTES}-byte record limit`;
  return undefined;
}

export interface BatchPlan<T extends OutRecord> {
  /** Consecutive runs of the input: each at most 500 records and 5 MiB. */
  readonly batches: T[][];
  /** Records over the record limit, never sent. */
  readonly refused: { record: T; index: number; reason: string }[];
}

/** Splits records, in order, into PutRecords calls within the request limits. */
export function planBatches<T extends OutRecord>(records: readonly T[]): BatchPlan<T> {
  const batches: T[][] = [];
  const refused: BatchPlan<T>["refused"] = [];
  let current: T[] = [];
  let bytes = 0;
  records.forEach((record, index) => {
    const why = refusal(record);
    if (why !== undefined) {
      refused.push({ record, index, reason: why });
      return;
    }
    const size = recordBytes(record);
    if (current.length === MAX_RECORDS_PER_CALL || bytes + size > MAX_BYTES_PER_CALL) {
      batches.push(current);
      current = [];
      bytes = 0;
    }
    current.push(record);
    bytes += size;
  });
  if (current.length > 0) batches.push(current);
  return { batches, refused };
}
