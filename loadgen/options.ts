import { z } from "zod";
import { loadConfig } from "../config/load";
import type { SessionizationConfig } from "../config/schema";
import { MAX_WINDOW_SECONDS, MIN_WINDOW_SECONDS } from "../functions/core/stagger";
import { parseClientTimestamp } from "../functions/core/timestamp";
import { DEFAULT_RETRY } from "./producer";

/** Options of a load run; the CLI flags mirror them. Omitted values default from the shared config. */
export interface LoadOptions {
  /** Kinesis stream name (default: the config's stream.name). */
  stream?: string;
  /** AWS region (default: the config's region). */
  region?: string;
  /** A Kinesis endpoint URL (an emulator); otherwise AWS with the default credential chain. */
  endpoint?: string;
  /** Synthetic users (default 231: the seed's ids 50–280). */
  users?: number;
  /** Records to generate (valid, late and malformed together). Default 10,000 when no duration. */
  events?: number;
  /** Seconds of generation (real or simulated); late records still due are sent after it. */
  duration?: number;
  /** Records a second over the whole stream (default 100). */
  rate?: number;
  /** Shards to spread and limit over: default the stream's open shards (ListShards), or the config's shard count in a dry run. */
  shards?: number;
  /** Seed of every random choice (default 1). */
  seed?: number;
  /** Window W in seconds (default: the config's windowSeconds, as the deployed sessionizer). */
  window?: number;
  /** ISO-8601 start of the client timestamps (historic data); default: now, or 2026-01-01T00:00:00Z in a dry run. */
  start?: string;
  /** Fraction of valid records delivered late (after their key's window closed). Default 0.02. */
  lateFraction?: number;
  /** Fraction of records sent malformed. Default 0.01. */
  malformedFraction?: number;
  /** Output folder for events.ndjson and expected.json (default `out`). */
  out?: string;
  /** No network: simulated send times from `start`. */
  dryRun?: boolean;

  /** Safety margin around window boundaries, ms (default clamp(10 % of W, 1 s, 10 s), at most W/4). */
  marginMs?: number;
  /** PutRecords attempts per batch, first included (default 8). */
  maxAttempts?: number;
  retryBaseDelayMs?: number;
  retryMaxDelayMs?: number;
  /** Minimum time between two calls that are not full, ms (default 25). */
  lingerMs?: number;
  /** PutRecords calls in flight at once (default 1); a user never has records in two of them. */
  concurrency?: number;
  /** Create the stream (with `shards` shards, default the config's) if it does not exist: for emulators. */
  createStream?: boolean;
  /** client_timestamp form: `seed` (`2018-11-02 19:36:39.427`, UTC), `iso` (with Z) or `epoch` (ms). */
  timestampFormat?: "seed" | "iso" | "epoch";
  /** Largest lag of the client clock behind the send time, ms (default 200). */
  maxLagMs?: number;
  /** Use this config instead of loading config/<env>.json. */
  config?: SessionizationConfig;
}

export const DEFAULT_DRY_RUN_START = "2026-01-01T00:00:00.000Z";

export interface ResolvedOptions {
  readonly stream: string;
  readonly region: string;
  readonly endpoint?: string;
  readonly users: number;
  readonly events?: number;
  readonly durationSec?: number;
  readonly rate: number;
  readonly shards?: number;
  readonly configShards: number;
  readonly seed: number;
  readonly windowSeconds: number;
  /** Epoch ms of the first client timestamp, if given (or the dry-run default). */
  readonly startMs?: number;
  readonly lateFraction: number;
  readonly malformedFraction: number;
  readonly out: string;
  readonly dryRun: boolean;
  readonly marginMs: number;
  readonly maxAttempts: number;
  readonly retryBaseDelayMs: number;
  readonly retryMaxDelayMs: number;
  readonly lingerMs: number;
  readonly concurrency: number;
  readonly createStream: boolean;
  readonly timestampFormat: "seed" | "iso" | "epoch";
  readonly maxLagMs: number;
}

/** clamp(10 % of W, 1 s, 10 s), but never more than W/4 (so W = 1 s still leaves room). */
export function defaultMarginMs(windowSeconds: number): number {
  const W = windowSeconds * 1000;
  return Math.min(Math.max(0.1 * W, 1000), 10_000, W / 4);
}

const positiveInt = z.number().int().positive();
const fraction = z.number().min(0).max(0.5);

const optionsSchema = z.object({
  stream: z.string().regex(/^[a-zA-Z0-9_.-]{1,128}$/, "a Kinesis stream name").optional(),
  region: z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/, "an AWS region such as us-east-1").optional(),
  endpoint: z.url({ protocol: /^https?$/ }).optional(),
  users: positiveInt.max(1_000_000).optional(),
  events: positiveInt.optional(),
  duration: z.number().positive().optional(),
  rate: z.number().positive().max(10_000_000).optional(),
  shards: positiveInt.max(10_000).optional(),
  seed: z.number().int().min(0).max(2 ** 32 - 1).optional(),
  window: z.number().int().min(MIN_WINDOW_SECONDS).max(MAX_WINDOW_SECONDS).optional(),
  start: z
    .string()
    .refine((s) => typeof parseClientTimestamp(s) === "number", "an ISO-8601 timestamp such as 2026-01-01T00:00:00Z")
    .optional(),
  lateFraction: fraction.optional(),
  malformedFraction: fraction.optional(),
  out: z.string().min(1).optional(),
  dryRun: z.boolean().optional(),
  marginMs: z.number().min(0).optional(),
  maxAttempts: positiveInt.max(100).optional(),
  retryBaseDelayMs: z.number().min(0).optional(),
  retryMaxDelayMs: z.number().min(0).optional(),
  lingerMs: z.number().min(0).max(10_000).optional(),
  concurrency: positiveInt.max(64).optional(),
  createStream: z.boolean().optional(),
  timestampFormat: z.enum(["seed", "iso", "epoch"]).optional(),
  maxLagMs: z.number().int().min(0).max(60_000).optional(),
  config: z.any().optional(),
});

export class OptionsError extends Error {
  constructor(problems: string[]) {
    super(`Invalid load generator options:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "OptionsError";
  }
}

export function resolveOptions(input: LoadOptions): ResolvedOptions {
  const parsed = optionsSchema.safeParse(input);
  if (!parsed.success) {
    throw new OptionsError(parsed.error.issues.map((i) => `${i.path.join(".") || "(options)"}: ${i.message}`));
  }
  const o = parsed.data;
  const config: SessionizationConfig = (input.config as SessionizationConfig | undefined) ?? loadConfig();
  const windowSeconds = o.window ?? config.windowSeconds;
  const marginMs = o.marginMs ?? defaultMarginMs(windowSeconds);
  const problems: string[] = [];
  if (marginMs > (windowSeconds * 1000) / 2) problems.push(`marginMs: at most half the window (${windowSeconds * 500} ms), got ${marginMs}`);
  const maxLagMs = o.maxLagMs ?? 200;
  if (problems.length) throw new OptionsError(problems);
  const dryRun = o.dryRun ?? false;
  const start = o.start ?? (dryRun ? DEFAULT_DRY_RUN_START : undefined);
  return {
    stream: o.stream ?? config.stream.name,
    region: o.region ?? config.region,
    endpoint: o.endpoint,
    users: o.users ?? 231,
    events: o.events ?? (o.duration === undefined ? 10_000 : undefined),
    durationSec: o.duration,
    rate: o.rate ?? 100,
    shards: o.shards,
    configShards: config.stream.shardCount,
    seed: o.seed ?? 1,
    windowSeconds,
    startMs: start === undefined ? undefined : (parseClientTimestamp(start) as number),
    lateFraction: o.lateFraction ?? 0.02,
    malformedFraction: o.malformedFraction ?? 0.01,
    out: o.out ?? "out",
    dryRun,
    marginMs,
    maxAttempts: o.maxAttempts ?? DEFAULT_RETRY.maxAttempts,
    retryBaseDelayMs: o.retryBaseDelayMs ?? DEFAULT_RETRY.baseDelayMs,
    retryMaxDelayMs: o.retryMaxDelayMs ?? DEFAULT_RETRY.maxDelayMs,
    lingerMs: o.lingerMs ?? 25,
    concurrency: o.concurrency ?? 1,
    createStream: o.createStream ?? false,
    timestampFormat: o.timestampFormat ?? "seed",
    maxLagMs,
  };
}
