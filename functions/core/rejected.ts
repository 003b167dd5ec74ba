import * as z from "zod";
import { REJECT_REASONS } from "./event";

/**
 * A record the sessionizer could not parse, as written (one JSON object per line) to the Firehose
 * `rejected` delivery stream, S3 `<errorPrefix>/rejected/year=/month=/day=/hour=/`. This schema is
 * the single definition: the sessionizer builds records of this shape, the Glue `rejected` table
 * takes its columns from it, and the local lake reads the error output with it. Key order here is
 * the column order.
 */
export const rejectedRecordSchema = z.strictObject({
  /** The parser's reason code (functions/core/event.ts REJECT_REASONS). */
  reason: z.enum(REJECT_REASONS),
  /** The offending field, when one is to blame. */
  field: z.string().optional(),
  detail: z.string(),
  /** The payload as UTF-8 text, or base64 when it is not valid UTF-8 (then data_encoding is "base64"). */
  data: z.string(),
  data_encoding: z.literal("base64").optional(),
  /** Set when the payload was cut to fit a Firehose record. */
  data_truncated: z.literal(true).optional(),
  partition_key: z.string(),
  shard_id: z.string(),
  /** Kinesis sequence number (a decimal string of up to 128 digits: text, not a number). */
  sequence_number: z.string(),
  /** Kinesis arrival time, ISO-8601 UTC with milliseconds. */
  arrival: z.iso.datetime({ precision: 3 }),
});

export type RejectedRecord = Readonly<z.infer<typeof rejectedRecordSchema>>;

/** Column names in order. */
export const REJECTED_COLUMNS = Object.keys(rejectedRecordSchema.shape) as (keyof RejectedRecord)[];

/** The Glue table over the error output (the catalog stack creates it; the verifier reads it). */
export const REJECTED_TABLE = "rejected";
