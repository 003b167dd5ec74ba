import * as z from "zod";
import { parseClientTimestamp } from "./timestamp";

/**
 * The input event (SPEC section 3). This schema is the single definition: the parser below,
 * the Glue `rawdata` columns (see `columns.ts`), the DuckDB reads and the load generator use it.
 * Extra fields are allowed: they stay in the raw lake and the windowing ignores them.
 */
export const eventSchema = z.looseObject({
  user_id: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  device_id: z.string().min(1).max(10),
  client_event: z.string().min(1).max(32),
  client_timestamp: z.union([z.string(), z.number()]),
});

export type RawEvent = z.infer<typeof eventSchema>;

/** A validated event with its timestamp resolved to epoch milliseconds. */
export interface ClickEvent {
  readonly user_id: number;
  readonly device_id: string;
  readonly client_event: string;
  readonly client_timestamp_ms: number;
}

export const REJECT_REASONS = [
  "invalid_utf8",
  "invalid_json",
  "not_an_object",
  "missing_field",
  "wrong_type",
  "out_of_range",
  "bad_timestamp",
] as const;
export type RejectReason = (typeof REJECT_REASONS)[number];

export interface Rejection {
  readonly reason: RejectReason;
  /** The offending field, when one is to blame. */
  readonly field?: string;
  readonly detail: string;
}

export type ParseResult = { ok: true; event: ClickEvent } | { ok: false; rejection: Rejection };

const reject = (reason: RejectReason, detail: string, field?: string): ParseResult => ({
  ok: false,
  rejection: field === undefined ? { reason, detail } : { reason, field, detail },
});

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Parses one Kinesis record payload (bytes or an already-decoded string). */
export function parseRecord(data: Uint8Array | string): ParseResult {
  let text: string;
  if (typeof data === "string") text = data;
  else {
    try {
      text = utf8.decode(data);
    } catch {
      return reject("invalid_utf8", `payload of ${data.length} bytes is not valid UTF-8`);
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return reject("invalid_json", (err as Error).message);
  }
  return validateEvent(json);
}

/** Validates a decoded JSON value against the event schema. */
export function validateEvent(json: unknown): ParseResult {
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    return reject("not_an_object", `expected a JSON object, got ${Array.isArray(json) ? "an array" : json === null ? "null" : typeof json}`);
  }
  const result = eventSchema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    const field = String(issue.path[0]);
    const value = (json as Record<string, unknown>)[field];
    if (value === undefined) return reject("missing_field", `required field ${field} is missing`, field);
    if (issue.code === "invalid_type" || issue.code === "invalid_union") {
      return reject("wrong_type", `${field}: ${issue.message}`, field);
    }
    return reject("out_of_range", `${field}: ${issue.message}`, field);
  }
  const ts = parseClientTimestamp(result.data.client_timestamp);
  if (typeof ts === "string") return reject("bad_timestamp", `client_timestamp: ${ts}`, "client_timestamp");
  return {
    ok: true,
    event: {
      user_id: result.data.user_id,
      device_id: result.data.device_id,
      client_event: result.data.client_event,
      client_timestamp_ms: ts,
    },
  };
}
