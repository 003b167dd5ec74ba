import { once } from "node:events";
import { createWriteStream, mkdirSync, openSync, writeFileSync, type WriteStream } from "node:fs";
import { Agent as HttpAgent } from "node:http";
import { Agent as HttpsAgent } from "node:https";
import * as path from "node:path";
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  KinesisClient,
  waitUntilStreamExists,
} from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { windowKey } from "../functions/core/stagger";
import { toIso } from "../functions/core/timestamp";
import { recordBytes, type OutRecord } from "./batch";
import { RealClock, VirtualClock, type Clock } from "./clock";
import { computeExpected, type EventLine, type Expected } from "./expected";
import { MAX_BYTES_PER_CALL, MAX_RECORDS_PER_CALL, SHARD_RECORDS_PER_SECOND } from "./limits";
import {
  SyntheticUser,
  eventPayload,
  formatTimestamp,
  makeCatalogue,
  malformedPayload,
  pickUserIds,
  thinkScaleMs,
  type Session,
  type Step,
} from "./model";
import { resolveOptions, type LoadOptions, type ResolvedOptions } from "./options";
import { writing } from "./output";
import { Prng } from "./prng";
import { putBatch } from "./producer";
import { Limiter } from "./ratelimit";
import { evenShardRanges, listOpenShards, shardIndexFor, type ShardRange } from "./shards";

export type { LoadOptions, ResolvedOptions } from "./options";
export type { EventLine, Expected } from "./expected";

/**
 * A load run: synthetic users browse in sessions; their records are pushed to Kinesis in real
 * time (client_timestamp ≈ the send time) or, in a dry run, on a simulated clock without any
 * network. Every acknowledged record is written to `<out>/events.ndjson` in send order, and
 * `<out>/expected.json` is computed from exactly those lines (see expected.ts).
 *
 * The pacing rules that make the send time a safe arrival estimate (docs/loadgen.md):
 * - an ordinary record of key k = (user, device, bucket) is sent only while
 *   t < first_send(k) + W − margin; otherwise it waits until its client timestamp has moved
 *   into the next bucket (at most margin + lag later) and becomes a record of the next key;
 * - a late record of k is sent at t ≥ first_send(k) + W + margin (one per key);
 * - a user has at most one record in all the calls in flight, and its next record is generated
 *   only after the previous one was acknowledged, so a user's records arrive in send order
 *   (Kinesis does not promise order inside one PutRecords call);
 * - a retried record is stamped again at its new attempt (the failed attempt stored nothing).
 */

export interface LoadProgress {
  readonly phase: "sending" | "draining" | "done";
  /** Run time on the scheduler's clock (simulated in a dry run). */
  readonly elapsedMs: number;
  /** Records generated so far (counted against --events). */
  readonly generated: number;
  readonly acknowledged: number;
  readonly failed: number;
  /** Entries sent again after a failed attempt. */
  readonly retried: number;
  /** Late records waiting for their send time. */
  readonly pendingLate: number;
  /** Acknowledged records a second (wall clock). */
  readonly ratePerSecond: number;
  /** --events, when given. */
  readonly target?: number;
  /** Estimated wall-clock time to the end of generation, ms. */
  readonly etaMs?: number;
}

export interface LoadHooks {
  /** Abort to stop cleanly: the call in flight finishes, the expectations are written for what was acknowledged. */
  signal?: AbortSignal;
  onProgress?: (p: LoadProgress) => void;
  /** A client to use instead of one built from the options (its retry settings are then the caller's). */
  kinesisClient?: KinesisClient;
}

export interface FailedRecord {
  readonly partition_key: string;
  readonly code: string;
  readonly message: string;
}

export interface LoadResult {
  readonly eventsPath: string;
  readonly expectedPath: string;
  readonly expected: Expected;
  readonly counts: {
    readonly generated: number;
    readonly acknowledged: number;
    readonly valid: number;
    readonly malformed: number;
    readonly late: number;
    readonly failed: number;
    readonly retried: number;
    /** Generated records never attempted (late records still waiting when the run was stopped). */
    readonly unsent: number;
  };
  /** The first 100 final failures. */
  readonly failures: FailedRecord[];
  /** Things the user should know (e.g. --rate above what the shards take). */
  readonly warnings: string[];
  readonly aborted: boolean;
  readonly dryRun: boolean;
  readonly options: ResolvedOptions;
  readonly shards: number;
  readonly calls: number;
  readonly maxCallMs: number | null;
  /** From the first to the last send, on the scheduler's clock. */
  readonly elapsedMs: number;
  /** Wall-clock time of the whole run, files included. */
  readonly wallMs: number;
  /** Acknowledged records a second, wall clock, over the sending loop. */
  readonly wallRatePerSecond: number;
}

export class LoadError extends Error {
  constructor(
    message: string,
    readonly result?: LoadResult,
  ) {
    super(message);
    this.name = "LoadError";
  }
}

/** Credentials for an emulator endpoint when the environment has none (never real ones). */
const EMULATOR_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" };

export function makeKinesisClient(options: Pick<ResolvedOptions, "region" | "endpoint">): KinesisClient {
  const agentOptions = { keepAlive: true, maxSockets: 16 };
  return new KinesisClient({
    region: options.region,
    // the producer retries failed entries itself and records the send time of each attempt
    maxAttempts: 1,
    ...(options.endpoint
      ? {
          endpoint: options.endpoint,
          ...(process.env.AWS_ACCESS_KEY_ID ? {} : { credentials: EMULATOR_CREDENTIALS }),
        }
      : {}),
    // HTTP/1.1 (an http:// emulator fails over HTTP/2)
    requestHandler: new NodeHttpHandler({
      httpAgent: new HttpAgent(agentOptions),
      httpsAgent: new HttpsAgent(agentOptions),
      requestTimeout: 30_000,
      connectionTimeout: 5_000,
    }),
  });
}

async function ensureStream(client: KinesisClient, stream: string, shards: number): Promise<void> {
  try {
    await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
    return;
  } catch (err) {
    if ((err as Error).name !== "ResourceNotFoundException") throw err;
  }
  await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: shards }));
  await waitUntilStreamExists({ client, maxWaitTime: 120, minDelay: 1, maxDelay: 5 }, { StreamName: stream });
}

// ---------------------------------------------------------------------------------------------

interface UserState {
  readonly model: SyntheticUser;
  readonly pk: string;
  readonly shard: number;
  session: Session | null;
  stepIndex: number;
  /** A step asked to be late but its key had not opened yet: the next possible step is late instead. */
  pendingLate: boolean;
  /** The user's next step (reused: a user has one step pending at a time). */
  item: StepItem;
}

interface ItemBase {
  due: number;
  seq: number;
  issued: boolean;
  readonly user: UserState;
}
interface StepItem extends ItemBase {
  readonly kind: "step";
}
interface LateItem extends ItemBase {
  readonly kind: "late";
  readonly data: string;
  readonly key: string;
}
type Item = StepItem | LateItem;

/** An entry of a call: its record and, for a valid record, its window key (set at each stamping). */
interface Entry {
  readonly item: Item;
  data: string;
  key?: string;
}

/** Min-heap on (due, seq): the next record to consider. */
class ItemHeap {
  private a: Item[] = [];
  get size(): number {
    return this.a.length;
  }
  peek(): Item | undefined {
    return this.a[0];
  }
  private less(x: Item, y: Item): boolean {
    return x.due < y.due || (x.due === y.due && x.seq < y.seq);
  }
  push(item: Item): void {
    const a = this.a;
    a.push(item);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.less(a[i], a[p])) break;
      [a[i], a[p]] = [a[p], a[i]];
      i = p;
    }
  }
  pop(): Item | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last !== undefined) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.less(a[l], a[m])) m = l;
        if (r < a.length && this.less(a[r], a[m])) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m], a[i]];
        i = m;
      }
    }
    return top;
  }
  /** Keeps the items for which `keep` is true. */
  filter(keep: (item: Item) => boolean): Item[] {
    const removed = this.a.filter((i) => !keep(i));
    const kept = this.a.filter(keep);
    this.a = [];
    for (const i of kept) this.push(i);
    return removed;
  }
  items(): readonly Item[] {
    return this.a;
  }
}

type Stamp = { kind: "record"; data: string; key?: string } | { kind: "defer"; until: number };

export async function runLoad(options: LoadOptions, hooks: LoadHooks = {}): Promise<LoadResult> {
  const wallStart = Date.now();
  const o = resolveOptions(options);
  // a client made here is closed here (its keep-alive sockets would hold the process open)
  const owned = !o.dryRun && hooks.kinesisClient === undefined ? makeKinesisClient(o) : undefined;
  try {
    return await run(o, { ...hooks, kinesisClient: hooks.kinesisClient ?? owned }, wallStart);
  } finally {
    owned?.destroy();
  }
}

async function run(o: ResolvedOptions, hooks: LoadHooks, wallStart: number): Promise<LoadResult> {
  const W = o.windowSeconds * 1000;
  const margin = o.marginMs;
  const signal = hooks.signal;

  // --- where the records go ---------------------------------------------------------------
  let client: KinesisClient | undefined;
  let ranges: ShardRange[];
  if (o.dryRun) {
    ranges = evenShardRanges(o.shards ?? o.configShards);
  } else {
    client = hooks.kinesisClient as KinesisClient;
    if (o.createStream) await ensureStream(client, o.stream, o.shards ?? o.configShards);
    if (o.shards !== undefined) ranges = evenShardRanges(o.shards);
    else {
      try {
        ranges = await listOpenShards(client, o.stream);
      } catch (err) {
        throw new LoadError(`cannot list the shards of stream ${o.stream}${o.endpoint ? ` at ${o.endpoint}` : ""}: ${(err as Error).message}`);
      }
      if (ranges.length === 0) throw new LoadError(`stream ${o.stream} has no open shards`);
    }
  }

  // --- clock: client time = clock time − offset ---------------------------------------------
  const clock: Clock = o.dryRun ? new VirtualClock(o.startMs as number) : new RealClock();
  const clockStart = clock.now();
  const offset = o.startMs === undefined ? 0 : clockStart - o.startMs;

  // --- users ----------------------------------------------------------------------------------
  const catalogue = makeCatalogue(o.seed);
  const scale = thinkScaleMs(o.users, o.rate);
  const ids = pickUserIds(o.users, o.seed);
  const heap = new ItemHeap();
  let seq = 0;
  const users: UserState[] = ids.map((userId, index) => {
    const model = new SyntheticUser(index, userId, catalogue, {
      seed: o.seed,
      thinkScaleMs: scale,
      lateFraction: o.lateFraction,
      malformedFraction: o.malformedFraction,
      maxLagMs: o.maxLagMs,
    });
    const pk = String(userId);
    const user: UserState = { model, pk, shard: shardIndexFor(pk, ranges), session: null, stepIndex: 0, pendingLate: false, item: undefined as never };
    user.item = { kind: "step", user, due: clockStart + o.maxLagMs + model.firstDelayMs(), seq: seq++, issued: false };
    return user;
  });
  for (const u of users) heap.push(u.item);

  const limiter = new Limiter({ rate: o.rate, shards: ranges.length }, clockStart);
  const warnings: string[] = [];
  const shardCap = ranges.length * SHARD_RECORDS_PER_SECOND * 0.95;
  if (o.rate > shardCap) {
    warnings.push(
      `--rate ${o.rate} is above what ${ranges.length} shard(s) take (${Math.round(shardCap)} records/s at 95 % of the per-shard quota): the shard quotas hold the rate`,
    );
  }

  // --- key state ---------------------------------------------------------------------------
  /** Send time of the first acknowledged record of each key. */
  const firstSend = new Map<string, number>();
  /** Keys that already have their late record. */
  const lateKeys = new Map<string, number>();

  // --- output ------------------------------------------------------------------------------
  writing(o.out, () => mkdirSync(o.out, { recursive: true }));
  const eventsPath = path.resolve(o.out, "events.ndjson");
  const expectedPath = path.resolve(o.out, "expected.json");
  // opened here, so that a file that cannot be written is one clear error before anything is sent
  const eventsFd = writing(eventsPath, () => openSync(eventsPath, "w"));
  const writer: WriteStream = createWriteStream(eventsPath, { encoding: "utf8", fd: eventsFd });
  const lines: EventLine[] = [];

  // --- counters ----------------------------------------------------------------------------
  let generated = 0;
  let failedCount = 0;
  let retried = 0;
  let calls = 0;
  let maxCallMs: number | null = null;
  let pendingLate = 0;
  const failures: FailedRecord[] = [];
  let fatal: Error | undefined;
  let firstSendAt: number | undefined;
  let lastSendAt = -Infinity;
  let loopWallStart = Date.now();
  let generationOpen = true;

  const generating = (): boolean => {
    if (!generationOpen) return false;
    const open =
      !signal?.aborted &&
      (o.events === undefined || generated < o.events) &&
      (o.durationSec === undefined || clock.now() < clockStart + o.durationSec * 1000);
    if (!open) {
      generationOpen = false;
      // users stop: their next steps (not generated yet) are dropped; late records stay
      heap.filter((i) => i.issued);
    }
    return open;
  };

  const currentStep = (user: UserState): Step => {
    if (user.session === null) {
      user.session = user.model.nextSession();
      user.stepIndex = 0;
    }
    return user.session.steps[user.stepIndex];
  };

  /** The user's next step is due at `due` (or the user stops, once generation is over). */
  const advance = (user: UserState, due: number): void => {
    user.stepIndex++;
    if (user.session !== null && user.stepIndex >= user.session.steps.length) user.session = null;
    if (!generating()) return;
    const item = user.item;
    item.due = due;
    item.seq = seq++;
    item.issued = false;
    heap.push(item);
  };

  /** The record of a step sent at clock time t, or when it must wait (the pacing rule). */
  const stamp = (user: UserState, step: Step, t: number): Stamp => {
    const clientMs = t - offset - step.lagMs;
    const session = user.session as Session;
    const fields = {
      user_id: user.model.userId,
      device_id: session.device_id,
      client_event: step.client_event,
      client_timestamp: formatTimestamp(clientMs, o.timestampFormat),
    };
    if (step.malformed !== undefined) {
      const p = new Prng(o.seed, "malformed", user.model.index, user.model.sessions, user.stepIndex);
      return { kind: "record", data: malformedPayload(step.malformed, fields, step.extras, p) };
    }
    const key = windowKey(
      { user_id: fields.user_id, device_id: fields.device_id, client_event: fields.client_event, client_timestamp_ms: clientMs },
      o.windowSeconds,
    );
    const first = firstSend.get(key.key);
    if (first !== undefined && t >= first + W - margin) {
      // too close to the key's window close: wait until the client timestamp is in the next bucket
      return { kind: "defer", until: (key.bucket + o.windowSeconds) * 1000 + offset + step.lagMs };
    }
    return { kind: "record", data: eventPayload(fields, step.extrasJson), key: key.key };
  };

  /** Takes the records due now into one call. */
  const collect = (now: number, busy: ReadonlySet<UserState>): { entries: Entry[]; full: boolean; blockedUntil: number } => {
    let blockedUntil = -Infinity;
    const entries: Entry[] = [];
    const inCall = new Set<UserState>();
    const setAside: Item[] = [];
    let bytes = 0;
    let full = false;
    while (heap.size > 0) {
      if (entries.length >= MAX_RECORDS_PER_CALL) {
        full = true;
        break;
      }
      const item = heap.peek() as Item;
      if (item.due > now) break;
      heap.pop();
      const user = item.user;
      if (inCall.has(user) || busy.has(user)) {
        setAside.push(item);
        continue;
      }
      if (!item.issued && !generating()) continue;
      // the cheap limits first: nothing is built for a record that cannot go now
      const totalWait = limiter.totalWaitMs(now);
      if (totalWait > 0) {
        setAside.push(item);
        blockedUntil = now + totalWait;
        break;
      }
      const shardWait = limiter.shardRecordWaitMs(user.shard, now);
      if (shardWait > 0) {
        item.due = now + shardWait;
        setAside.push(item);
        continue;
      }

      let entry: Entry;
      if (item.kind === "late") {
        entry = { item, data: item.data, key: item.key };
      } else {
        const step = currentStep(user);
        const s = stamp(user, step, now);
        if (s.kind === "defer") {
          item.due = s.until;
          item.seq = seq++;
          heap.push(item);
          continue;
        }
        if (s.key !== undefined && !item.issued && (step.late || user.pendingLate)) {
          const first = firstSend.get(s.key);
          if (first !== undefined && !lateKeys.has(s.key)) {
            // deliver this record late: after the key's window closed, with the margin
            const jitter = new Prng(o.seed, "late", s.key).int(0, Math.round(margin));
            heap.push({ kind: "late", user, due: first + W + margin + jitter, seq: seq++, issued: true, data: s.data, key: s.key });
            lateKeys.set(s.key, first);
            generated++;
            pendingLate++;
            user.pendingLate = false;
            advance(user, now + step.waitMs);
            continue;
          }
          if (step.late) user.pendingLate = true;
        }
        entry = { item, data: s.data, key: s.key };
      }
      const size = recordBytes({ data: entry.data, partitionKey: user.pk });
      if (bytes + size > MAX_BYTES_PER_CALL) {
        setAside.push(item);
        full = true;
        break;
      }
      if (!limiter.tryTake(user.shard, size, now)) {
        item.due = now + Math.max(1, limiter.msUntil(user.shard, size, now));
        setAside.push(item);
        continue;
      }
      if (!item.issued) {
        item.issued = true;
        generated++;
      }
      bytes += size;
      inCall.add(user);
      entries.push(entry);
    }
    for (const item of setAside) heap.push(item);
    return { entries, full, blockedUntil };
  };

  const pruneKeys = (now: number): void => {
    const horizon = now - (2 * W + 2 * margin + o.maxLagMs + 1000);
    for (const [k, f] of firstSend) if (f < horizon) firstSend.delete(k);
    for (const [k, f] of lateKeys) if (f < horizon) lateKeys.delete(k);
  };

  /** Appends lines; waits for the file to drain when its buffer is full (the listener is attached before anything can drain). */
  const writeLines = async (batch: EventLine[]): Promise<void> => {
    if (batch.length === 0) return;
    const text = batch.map((l) => JSON.stringify(l)).join("\n") + "\n";
    if (!writer.write(text)) await once(writer, "drain");
  };

  let lastProgress = 0;
  const progress = (phase: LoadProgress["phase"], force = false): void => {
    if (!hooks.onProgress) return;
    const wall = Date.now();
    if (!force && wall - lastProgress < 100) return;
    lastProgress = wall;
    const elapsedMs = clock.now() - clockStart;
    const acknowledged = lines.length;
    const wallElapsed = wall - loopWallStart;
    const ratePerSecond = wallElapsed > 0 ? (acknowledged * 1000) / wallElapsed : 0;
    let etaMs: number | undefined;
    if (o.events !== undefined && generated > 0) etaMs = Math.max(0, ((o.events - generated) / generated) * wallElapsed);
    else if (o.durationSec !== undefined) etaMs = Math.max(0, ((o.durationSec * 1000 - elapsedMs) / Math.max(1, elapsedMs)) * wallElapsed);
    hooks.onProgress({
      phase,
      elapsedMs,
      generated,
      acknowledged,
      failed: failedCount,
      retried,
      pendingLate,
      ratePerSecond,
      target: o.events,
      etaMs,
    });
  };

  const acknowledge = (entry: Entry, sentAt: number, data: string): EventLine => {
    const item = entry.item;
    if (entry.key !== undefined && !firstSend.has(entry.key)) firstSend.set(entry.key, sentAt);
    if (item.kind === "late") pendingLate--;
    else advance(item.user, sentAt + currentStep(item.user).waitMs);
    return { arrival: toIso(sentAt), data, partition_key: item.user.pk };
  };

  const fail = (entry: Entry, code: string, message: string, now: number): void => {
    failedCount++;
    if (failures.length < 100) failures.push({ partition_key: entry.item.user.pk, code, message });
    const item = entry.item;
    if (item.kind === "late") pendingLate--;
    else advance(item.user, now + currentStep(item.user).waitMs);
  };

  // --- the loop ------------------------------------------------------------------------------
  // Up to `concurrency` calls are in flight (one in a dry run). A user has at most one record in
  // all of them, so its records still arrive in send order. Acknowledged lines are written in
  // arrival order: a line waits until no call in flight can still produce an earlier one.
  const concurrency = client === undefined ? 1 : o.concurrency;
  const busyUsers = new Set<UserState>();
  interface Flight {
    attemptAt: number;
    promise: Promise<void>;
  }
  const flights = new Set<Flight>();
  let buffered: { line: EventLine; at: number; order: number }[] = [];
  let order = 0;

  const flushLines = async (all: boolean): Promise<void> => {
    if (buffered.length === 0) return;
    let watermark = Infinity;
    if (!all) for (const f of flights) watermark = Math.min(watermark, f.attemptAt);
    const ready = buffered.filter((b) => b.at <= watermark);
    if (ready.length === 0) return;
    buffered = ready.length === buffered.length ? [] : buffered.filter((b) => b.at > watermark);
    ready.sort((x, y) => x.at - y.at || x.order - y.order);
    const out = ready.map((b) => b.line);
    for (const l of out) lines.push(l);
    await writeLines(out);
  };

  const launch = (entries: Entry[], now: number, kinesis: KinesisClient): void => {
    for (const e of entries) busyUsers.add(e.item.user);
    const flight: Flight = { attemptAt: now, promise: Promise.resolve() };
    flight.promise = (async () => {
      try {
        const outcome = await putBatch<Entry>({
          client: kinesis,
          stream: o.stream,
          items: entries,
          maxAttempts: o.maxAttempts,
          baseDelayMs: o.retryBaseDelayMs,
          maxDelayMs: o.retryMaxDelayMs,
          signal,
          now: () => clock.now(),
          // the records were stamped at `now` by collect; a retry stamps them again
          firstAttemptAt: now,
          onAttempt: (t) => {
            flight.attemptAt = t;
          },
          prepare: (entry, t, attempt): OutRecord | null => {
            const item = entry.item;
            if (item.kind === "step" && attempt > 1) {
              const s = stamp(item.user, currentStep(item.user), t);
              if (s.kind === "defer") return null;
              entry.data = s.data;
              entry.key = s.key;
            }
            return { data: entry.data, partitionKey: item.user.pk };
          },
          beforeAttempt: async (pending, attempt) => {
            if (attempt === 1) return;
            // retries count against the shard quotas too
            for (const entry of pending) {
              const size = recordBytes({ data: entry.data, partitionKey: entry.item.user.pk });
              while (!limiter.tryTake(entry.item.user.shard, size, clock.now())) {
                await clock.sleep(Math.max(1, limiter.msUntil(entry.item.user.shard, size, clock.now())), signal);
                if (signal?.aborted) return;
              }
            }
          },
        });
        calls += outcome.attempts - 1;
        retried += outcome.retried;
        for (const ms of outcome.callMs) maxCallMs = Math.max(maxCallMs ?? 0, ms);
        for (const e of entries) busyUsers.delete(e.item.user);
        for (const a of outcome.acked) {
          buffered.push({ line: acknowledge(a.item, a.sentAt, a.record.data), at: a.sentAt, order: order++ });
          lastSendAt = Math.max(lastSendAt, a.sentAt);
        }
        const t = clock.now();
        for (const f of outcome.failed) fail(f.item, f.code, f.message, t);
        for (const entry of outcome.withdrawn) {
          // its stamp moved into the danger zone while it waited to be retried: back to the scheduler
          entry.item.due = t;
          entry.item.seq = seq++;
          heap.push(entry.item);
        }
        if (outcome.fatal) fatal ??= outcome.fatal;
      } catch (err) {
        fatal ??= err as Error;
      } finally {
        flights.delete(flight);
      }
    })();
    flights.add(flight);
  };

  /** Resolves when a call in flight completes or after `ms`. */
  const waitForFlightOr = async (ms: number): Promise<void> => {
    const stop = new AbortController();
    const timer = signal ? AbortSignal.any([signal, stop.signal]) : stop.signal;
    await Promise.race([...[...flights].map((f) => f.promise), clock.sleep(ms, timer)]);
    stop.abort();
  };

  loopWallStart = Date.now();
  let batches = 0;
  let lastLaunch = -Infinity;
  let lastYield = Date.now();
  for (;;) {
    if (signal?.aborted || fatal) break;
    if (heap.size === 0 && flights.size === 0) break;
    const now = clock.now();
    generating();
    let blockedUntil = -Infinity;
    let launched = false;
    let full = false;
    if (flights.size < concurrency && (flights.size === 0 || now >= lastLaunch + o.lingerMs)) {
      const collected = collect(now, busyUsers);
      blockedUntil = collected.blockedUntil;
      full = collected.full;
      const entries = collected.entries;
      if (entries.length > 0) {
        launched = true;
        calls++;
        batches++;
        firstSendAt ??= now;
        lastLaunch = now;
        if (client === undefined) {
          // dry run: every record is acknowledged at the simulated send time
          const acked = entries.map((e) => acknowledge(e, now, e.data));
          lastSendAt = now;
          for (const l of acked) lines.push(l);
          await writeLines(acked);
        } else launch(entries, now, client);
        if (batches % 2000 === 0) pruneKeys(now);
      }
    }
    progress(generationOpen ? "sending" : "draining");
    if (launched && full && flights.size < concurrency) continue;
    if (flights.size >= concurrency) {
      await Promise.race([...flights].map((f) => f.promise));
    } else if (heap.size > 0 || flights.size > 0) {
      const nextDue = heap.size > 0 ? Math.max((heap.peek() as Item).due, blockedUntil) : Infinity;
      const wake = launched || flights.size > 0 ? Math.max(nextDue, lastLaunch + o.lingerMs) : nextDue;
      const current = clock.now();
      const ms = Math.max(wake - current, launched && !flights.size ? 0 : 1);
      if (flights.size > 0) await waitForFlightOr(Number.isFinite(ms) ? ms : 60_000);
      else await clock.sleep(ms, signal);
    }
    await flushLines(false);
    if (clock.simulated && Date.now() - lastYield > 50) {
      // a dry run only awaits resolved promises: let timers and signals (Ctrl-C) in now and then
      await new Promise<void>((resolve) => setImmediate(resolve));
      lastYield = Date.now();
    }
  }
  // stopped or done: let the calls in flight finish, then write what they acknowledged
  while (flights.size > 0) await Promise.race([...flights].map((f) => f.promise));
  await flushLines(true);
  const loopWallMs = Date.now() - loopWallStart;
  const aborted = signal?.aborted ?? false;
  generationOpen = false;
  const unsent = heap.items().filter((i) => i.issued).length;

  await new Promise<void>((resolve, reject) => {
    writer.once("error", reject);
    writer.end(() => resolve());
  });

  const expected = computeExpected(lines, o.windowSeconds, {
    seed: o.seed,
    stream: o.stream,
    failed: failedCount,
    marginMs: margin,
    ...(maxCallMs === null ? {} : { maxCallMs }),
  });
  writing(expectedPath, () => writeFileSync(expectedPath, JSON.stringify(expected, null, 2) + "\n"));
  progress("done", true);

  const result: LoadResult = {
    eventsPath,
    expectedPath,
    expected,
    counts: {
      generated,
      acknowledged: lines.length,
      valid: expected.counts.valid,
      malformed: expected.counts.malformed,
      late: expected.counts.late,
      failed: failedCount,
      retried,
      unsent,
    },
    failures,
    warnings,
    aborted,
    dryRun: o.dryRun,
    options: o,
    shards: ranges.length,
    calls,
    maxCallMs,
    elapsedMs: firstSendAt === undefined ? 0 : Math.max(0, lastSendAt - firstSendAt),
    wallMs: Date.now() - wallStart,
    wallRatePerSecond: loopWallMs > 0 ? (lines.length * 1000) / loopWallMs : 0,
  };
  if (fatal) throw new LoadError(`PutRecords failed: ${fatal.name}: ${fatal.message}`, result);
  return result;
}
