import * as z from "zod";

/**
 * The output row (SPEC section 4, the seed's DESTINATION_SQL_STREAM), one JSON object per
 * line in the `aggregated` lake. This schema is the single definition: the sessionizer builds
 * rows of this shape, the Glue `aggregated` table takes its columns from it, and the verifier
 * reads the lake with it. Key order here is the column order.
 */
const isoTimestamp = z.iso.datetime({ precision: 3 });

export const sessionRowSchema = z.strictObject({
  session_id: z.string(),
  user_id: z.number().int().min(0),
  device_id: z.string(),
  timeagg: isoTimestamp,
  events: z.number().int().min(1),
  beginnavigation: z.string(),
  endnavigation: z.string(),
  beginsession: isoTimestamp,
  endsession: isoTimestamp,
  duration_sec: z.number().int().min(0),
  /** `<session_id>@<window open time>`: a row delivered twice (at least once) has the same one. */
  window_id: z.string(),
  /** When the window closed: its open time (first arrival of its key) plus W. */
  emitted_at: isoTimestamp,
});

export type SessionRow = z.infer<typeof sessionRowSchema>;

/** Column names in order. */
export const SESSION_ROW_COLUMNS = Object.keys(sessionRowSchema.shape) as (keyof SessionRow)[];
