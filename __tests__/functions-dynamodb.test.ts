import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ScanCommand } from "@aws-sdk/client-dynamodb";
import { unmarshall } from "@aws-sdk/util-dynamodb";
import { EMULATOR_CREDENTIALS, startDynalite, type RunningEmulator } from "../local/emulators";
import { DynamoWindowStore } from "../functions/adapters/dynamodb-window-store";
import { MemoryMetrics } from "../functions/adapters/metrics";
import type { RejectedRecord } from "../functions/adapters/ports";
import { TOMBSTONE_TTL_SECONDS, windowTableDefinition } from "../functions/adapters/window-table";
import type { SessionRow } from "../functions/core/row";
import { openWindow, windowKey } from "../functions/core/stagger";
import { processBatch, type BatchRecord, type SessionizerDeps } from "../functions/sessionizer/process-batch";
import { sweep, SweepDeliveryError } from "../functions/sweeper/sweep";
import { DUE_INDEX_NAME } from "../functions/settings";

let dynalite: RunningEmulator;
let client: DynamoDBClient;
let tableNo = 0;

beforeAll(async () => {
  dynalite = await startDynalite();
  client = new DynamoDBClient({ endpoint: dynalite.endpoint, region: "us-east-1", credentials: EMULATOR_CREDENTIALS, maxAttempts: 2 });
});
afterAll(async () => {
  client.destroy();
  await dynalite.stop();
});

async function newTable(partitions = 4): Promise<{ name: string; store: DynamoWindowStore }> {
  const name = `windows-${++tableNo}`;
  await client.send(new CreateTableCommand(windowTableDefinition(name)));
  return { name, store: new DynamoWindowStore(client, { tableName: name, sweepPartitions: partitions }) };
}

const T0 = Date.UTC(2026, 11, 3, 10, 0, 0);
const enc = (o: unknown) => new TextEncoder().encode(JSON.stringify(o));
let seq = 1_000_000;

function rec(user: number, arrivalMs: number, name = "beer_products", tsMs = arrivalMs - 500, shardId = "shardId-000000000000"): BatchRecord {
  seq += 1;
  return {
    shardId,
    sequenceNumber: `4959${String(seq).padStart(12, "0")}`,
    partitionKey: String(user),
    arrivalMs,
    data: enc({ user_id: user, device_id: "mobile", client_event: name, client_timestamp: tsMs }),
  };
}

class CollectingSink {
  rows: SessionRow[] = [];
  failNext = 0;
  async send(rows: readonly SessionRow[]): Promise<void> {
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new Error("Firehose is down");
    }
    this.rows.push(...rows);
  }
}

function deps(store: DynamoWindowStore, sink: CollectingSink, extra: Partial<SessionizerDeps> = {}): SessionizerDeps {
  const rejected: RejectedRecord[] = [];
  return {
    store,
    rows: sink,
    rejected: { send: async (r) => void rejected.push(...r) },
    metrics: new MemoryMetrics(),
    clock: { now: () => T0 },
    windowSeconds: 60,
    ...extra,
  };
}

async function scan(table: string): Promise<Record<string, unknown>[]> {
  const out = await client.send(new ScanCommand({ TableName: table, ConsistentRead: true }));
  return (out.Items ?? []).map((i) => unmarshall(i));
}

/** Rows grouped by window_id; every copy of a window must be identical (at-least-once, same content). */
function uniqueRows(rows: SessionRow[]): Map<string, SessionRow> {
  const byId = new Map<string, SessionRow>();
  for (const r of rows) {
    const seen = byId.get(r.window_id);
    if (seen) expect(r).toEqual(seen);
    else byId.set(r.window_id, r);
  }
  return byId;
}

describe("window table definition", () => {
  test("creates the table with the by-due-time GSI, on demand", async () => {
    const { name } = await newTable();
    const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
    expect(Table?.KeySchema).toEqual([{ AttributeName: "pk", KeyType: "HASH" }]);
    expect(Table?.BillingModeSummary?.BillingMode).toBe("PAY_PER_REQUEST");
    const gsi = Table?.GlobalSecondaryIndexes?.[0];
    expect(gsi?.IndexName).toBe(DUE_INDEX_NAME);
    expect(gsi?.KeySchema).toEqual([
      { AttributeName: "sweep_partition", KeyType: "HASH" },
      { AttributeName: "closes_at", KeyType: "RANGE" },
    ]);
    expect(gsi?.Projection?.ProjectionType).toBe("ALL");
  });
});

describe("DynamoWindowStore", () => {
  test("versions, conflicts, freeze, retire to a tombstone, due query", async () => {
    const { name, store } = await newTable(1);
    const ev = { user_id: 3, device_id: "tv", client_event: "a", client_timestamp_ms: T0 };
    const key = windowKey(ev, 60);
    const w = openWindow(key, ev, T0 + 1000, 60);

    const absent = (await store.getMany([key.key, key.key])).get(key.key)!;
    expect(absent).toEqual({ key: key.key, exists: false, version: 0, frozen: false, positions: {} });
    expect(await store.save(absent, w, { s: "1" })).toBe(true);
    expect(await store.save(absent, w, { s: "1" })).toBe(false); // attribute_not_exists lost

    const v1 = (await store.getMany([key.key])).get(key.key)!;
    expect(v1).toEqual({ key: key.key, exists: true, version: 1, frozen: false, positions: { s: "1" }, window: w });
    expect(await store.queryDue("0", w.closes_at - 1, 10)).toEqual([]);
    expect((await store.queryDue("0", w.closes_at, 10)).map((r) => r.key)).toEqual([key.key]);

    const frozen = (await store.freeze(v1, w, v1.positions, { by: "sweeper", atMs: T0 + 61_000 }))!;
    expect(frozen).toMatchObject({ version: 2, frozen: true, frozenBy: "sweeper", frozenAt: T0 + 61_000 });
    expect((await store.getMany([key.key])).get(key.key)).toEqual(frozen); // who and when are stored
    expect(await store.freeze(v1, w, v1.positions, { by: "sessionizer", atMs: T0 })).toBeUndefined(); // stale version
    expect(await store.retire(v1, T0)).toBe(false);
    expect(await store.retire(frozen, T0)).toBe(true);

    const [item] = await scan(name);
    expect(item).toEqual({ pk: key.key, version: 3, positions: { s: "1" }, expires_at: Math.floor(T0 / 1000) + TOMBSTONE_TTL_SECONDS });
    expect(await store.queryDue("0", Number.MAX_SAFE_INTEGER, 10)).toEqual([]);
    const tomb = (await store.getMany([key.key])).get(key.key)!;
    expect(tomb).toEqual({ key: key.key, exists: true, version: 3, frozen: false, positions: { s: "1" } });
  });

  test("getMany reads more than 100 keys (BatchGetItem pages of 100)", async () => {
    const { store } = await newTable();
    const keys = Array.from({ length: 250 }, (_, i) => `${i}|mobile|0`);
    const seed = await store.getMany(keys.slice(0, 130));
    await Promise.all(
      keys.slice(0, 130).map((k, i) => {
        const ev = { user_id: i, device_id: "mobile", client_event: "a", client_timestamp_ms: 0 };
        return store.save(seed.get(k)!, openWindow(windowKey(ev, 60), ev, T0, 60), {});
      }),
    );
    const all = await store.getMany(keys);
    expect(all.size).toBe(250);
    expect([...all.values()].filter((r) => r.exists)).toHaveLength(130);
  });
});

describe("sessionizer and sweeper on dynalite", () => {
  test("concurrent merges of one key from many callers: no update lost", async () => {
    const { store } = await newTable();
    const sink = new CollectingSink();
    const d = deps(store, sink, { maxRounds: 40 });
    // 12 callers (as if 12 shards), 5 records each, all arriving inside the key's first minute.
    const batches = Array.from({ length: 12 }, (_, s) =>
      Array.from({ length: 5 }, (_, i) => rec(42, T0 + 1000 + s * 100 + i, `e${s}`, T0 + 2000, `shardId-${s}`)),
    );
    const outcomes = await Promise.all(batches.map((b) => processBatch(b, d)));
    expect(outcomes.every((o) => o.unfinished.size === 0)).toBe(true);
    expect(outcomes.reduce((n, o) => n + o.conflicts, 0)).toBeGreaterThan(0);
    const [state] = [...(await store.getMany([`42|mobile|${T0 / 1000}`])).values()];
    expect(state.window?.events).toBe(60);
    expect(Object.keys(state.positions)).toHaveLength(12);
    expect(sink.rows).toEqual([]);

    const result = await sweep({ store, rows: sink, metrics: new MemoryMetrics(), sweepPartitions: 4, graceSeconds: 10 }, T0 + 200_000);
    expect(result).toMatchObject({ swept: 1, due: 1, claimsLost: 0, failed: 0 });
    expect(sink.rows.map((r) => r.events)).toEqual([60]);
  });

  test("a retried batch is not counted twice", async () => {
    const { store } = await newTable();
    const sink = new CollectingSink();
    const d = deps(store, sink);
    const batch = [rec(1, T0 + 1000), rec(1, T0 + 2000), rec(2, T0 + 3000)];
    await processBatch(batch, d);
    const again = await processBatch([...batch, rec(1, T0 + 4000)], d);
    expect(again).toMatchObject({ duplicatesSkipped: 3, keys: 2, unfinished: new Map() });
    const states = await store.getMany([`1|mobile|${T0 / 1000}`, `2|mobile|${T0 / 1000}`]);
    expect([...states.values()].map((s) => s.window?.events)).toEqual([3, 1]);
  });

  test("a failed delivery reports the lowest unfinished sequence number; the retry delivers once", async () => {
    const { store } = await newTable();
    const sink = new CollectingSink();
    const d = deps(store, sink);
    const b0 = T0 / 1000;
    // Users 1 and 2 open windows in bucket T0 (closing at T0 + 61 s).
    await processBatch([rec(1, T0 + 1000, "a", T0 + 500), rec(2, T0 + 1000, "a", T0 + 500)], d);
    const batch = [
      rec(3, T0 + 60_000, "x", T0 + 59_000), // user 3: a new window, no row
      rec(2, T0 + 70_000, "late", T0 + 600), // closes user 2's window: a row
      rec(1, T0 + 71_000, "late", T0 + 700), // closes user 1's window: a row
    ];
    sink.failNext = 1;
    const failed = await processBatch(batch, d);
    expect([...failed.failedKeys].sort()).toEqual([`1|mobile|${b0}`, `2|mobile|${b0}`]);
    expect([...failed.unfinished]).toEqual([["shardId-000000000000", batch[1].sequenceNumber]]);
    expect(sink.rows).toEqual([]);

    // Lambda retries from the reported record onward.
    const retried = await processBatch(batch.slice(1), d);
    expect(retried).toMatchObject({ unfinished: new Map(), rowsEmitted: 2, duplicatesSkipped: 0 });
    expect(sink.rows.map((r) => [r.user_id, r.events, r.window_id]).sort()).toEqual([
      [1, 1, `1_MOB${b0}@${new Date(T0 + 1000).toISOString()}`],
      [2, 1, `2_MOB${b0}@${new Date(T0 + 1000).toISOString()}`],
    ]);
    const states = await store.getMany([`1|mobile|${b0}`, `3|mobile|${b0}`]);
    expect([...states.values()].map((s) => [s.frozen, s.window?.events, s.window?.first_event])).toEqual([
      [false, 1, "late"],
      [false, 1, "x"],
    ]);
    // A second retry of the whole batch changes nothing.
    const again = await processBatch(batch, d);
    expect(again).toMatchObject({ duplicatesSkipped: 3, rowsEmitted: 0 });
  });

  test("sweeper vs sessionizer race: nothing lost, nothing doubled, duplicates identical", async () => {
    const { name, store } = await newTable(4);
    const sink = new CollectingSink();
    const d = deps(store, sink, { maxRounds: 10 });
    const sweepDeps = { store, rows: sink, metrics: new MemoryMetrics(), sweepPartitions: 4, graceSeconds: 0 };
    const users = Array.from({ length: 90 }, (_, i) => 1000 + i);
    let total = 0;
    for (let round = 0; round < 3; round++) {
      const t = T0 + round * 600_000;
      // Open one window per user (bucket of t), then race: the sweeper at the close time and a
      // lagging sessionizer call with records that arrived before the close (they may join,
      // or find the window frozen and open a new one).
      await processBatch(users.map((u) => rec(u, t + 1000, "open", t + 500)), d);
      total += users.length;
      const late = users.map((u, i) => rec(u, t + 30_000 + i, "late", t + 600));
      const split = [late.slice(0, 30), late.slice(30, 60), late.slice(60)];
      const results = await Promise.all([
        sweep(sweepDeps, t + 61_000),
        ...split.map((b) => processBatch(b, d)),
        sweep(sweepDeps, t + 61_000),
      ]);
      total += late.length;
      for (const r of results) if ("unfinished" in r) expect(r.unfinished.size).toBe(0);
      if (process.env.RACE_DEBUG) console.log(JSON.stringify(results.map((r) => ("unfinished" in r ? { conflicts: r.conflicts, rows: r.rowsEmitted } : { swept: r.swept, lost: r.claimsLost, sup: r.superseded }))));
      const open = (await scan(name)).filter((i) => i.opened_at !== undefined);
      const emittedEvents = [...uniqueRows(sink.rows).values()].reduce((n, r) => n + r.events, 0);
      const openEvents = open.reduce((n, i) => n + Number(i.events), 0);
      expect(emittedEvents + openEvents).toBe(total);
    }
    const final = await sweep(sweepDeps, Number.MAX_SAFE_INTEGER);
    expect(final.failed).toBe(0);
    const unique = uniqueRows(sink.rows);
    expect(sink.rows).toHaveLength(unique.size); // no copies without a crash or a retry
    expect([...unique.values()].reduce((n, r) => n + r.events, 0)).toBe(total);
    expect((await scan(name)).filter((i) => i.opened_at !== undefined)).toEqual([]);
    // Every user's every bucket accounts for exactly its two records.
    const perSession = new Map<string, number>();
    for (const r of unique.values()) perSession.set(r.session_id, (perSession.get(r.session_id) ?? 0) + r.events);
    expect(perSession.size).toBe(users.length * 3);
    expect([...perSession.values()].every((n) => n === 2)).toBe(true);
  });

  test("a window frozen by an interrupted sessionizer call: its retry re-emits it at once; the sweeper waits out the lease", async () => {
    const { store } = await newTable(2);
    const sink = new CollectingSink();
    const d = deps(store, sink);
    await processBatch([rec(7, T0 + 1000), rec(8, T0 + 1000)], d);
    const states = await store.getMany([`7|mobile|${T0 / 1000}`, `8|mobile|${T0 / 1000}`]);
    // Both frozen by a sessionizer call that then crashed (before its emit).
    for (const s of states.values()) await store.freeze(s, s.window!, s.positions, { by: "sessionizer", atMs: T0 + 61_000 });

    // user 8: the retried batch (a sessionizer) meets its own freeze: emits it, opens a new window.
    await processBatch([rec(8, T0 + 61_000, "after_freeze", T0 + 900)], d);
    const sweepDeps = { store, rows: sink, metrics: new MemoryMetrics(), sweepPartitions: 2, graceSeconds: 0, frozenLeaseMs: 120_000 };
    // user 7 was never retried: within the lease the sweeper leaves it to the sessionizer...
    expect(await sweep(sweepDeps, T0 + 62_000)).toMatchObject({ due: 1, swept: 0, leftToSessionizer: 1 });
    expect(sink.rows.map((x) => x.user_id)).toEqual([8]);
    // ... and after the lease it claims it over and emits it, once (with user 8's new window, now due).
    expect(await sweep(sweepDeps, T0 + 61_000 + 120_000)).toMatchObject({ due: 2, swept: 2, leftToSessionizer: 0, claimsLost: 0 });
    expect(await sweep(sweepDeps, T0 + 61_000 + 180_000)).toMatchObject({ due: 0, swept: 0 });
    expect(sink.rows.map((x) => [x.user_id, x.events, x.window_id]).sort()).toEqual(
      [
        [7, 1, `7_MOB${T0 / 1000}@${new Date(T0 + 1000).toISOString()}`],
        [8, 1, `8_MOB${T0 / 1000}@${new Date(T0 + 1000).toISOString()}`],
        [8, 1, `8_MOB${T0 / 1000}@${new Date(T0 + 61_000).toISOString()}`],
      ].sort(),
    );
  });

  test("the normal interleavings of a sessionizer closing a window and a sweeper tick deliver each row once", async () => {
    const { store } = await newTable(2);
    const b0 = T0 / 1000;
    const sweepRows = new CollectingSink();
    const sessRows = new CollectingSink();
    const sweepDeps = (s: typeof store | DynamoWindowStore) => ({ store: s, rows: sweepRows, metrics: new MemoryMetrics(), sweepPartitions: 2, graceSeconds: 10 });
    // The window of user u opens at T0 + 1 s and closes at T0 + 61 s; due for the sweeper from T0 + 71 s.
    const open = (u: number) => processBatch([rec(u, T0 + 1000, "first", T0 + 500)], deps(store, sessRows));
    const closing = (u: number) => [rec(u, T0 + 70_500, "closing", T0 + 800)];
    const at = T0 + 72_000;

    // 1. A sweeper tick runs between the sessionizer's freeze and its write of the next window.
    await open(1);
    let tick1: Awaited<ReturnType<typeof sweep>> | undefined;
    const hooked1 = Object.create(store) as DynamoWindowStore;
    hooked1.freeze = async (...args) => {
      const r = await store.freeze(...args);
      tick1 = await sweep(sweepDeps(store), at);
      return r;
    };
    await processBatch(closing(1), deps(hooked1, sessRows, { clock: { now: () => at } }));
    expect(tick1).toMatchObject({ due: 1, swept: 0, leftToSessionizer: 1 });

    // 2. The sweeper claims the window, then the sessionizer reads it while the sweeper is still emitting.
    await open(2);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    let claimedSeen!: () => void;
    const claimed = new Promise<void>((r) => (claimedSeen = r));
    const slowSink = { send: async (rows: readonly SessionRow[]) => (claimedSeen(), await gate, sweepRows.send(rows)) };
    const tick2 = sweep({ ...sweepDeps(store), rows: slowSink }, at);
    await claimed;
    const sess2 = processBatch(closing(2), deps(store, sessRows, { clock: { now: () => at } }));
    setTimeout(release, 100);
    const [t2, s2] = await Promise.all([tick2, sess2]);
    expect(t2).toMatchObject({ swept: 1, superseded: 0 });
    expect(s2.claimWaits).toBeGreaterThan(0);

    // 3. The sweeper's claim lands between the sessionizer's read and its freeze (the freeze loses).
    await open(3);
    const hooked3 = Object.create(store) as DynamoWindowStore;
    let tick3: Awaited<ReturnType<typeof sweep>> | undefined;
    hooked3.getMany = async (keys) => {
      const r = await store.getMany(keys);
      tick3 ??= await sweep(sweepDeps(store), at);
      return r;
    };
    const s3 = await processBatch(closing(3), deps(hooked3, sessRows, { clock: { now: () => at } }));
    expect(tick3).toMatchObject({ swept: 1 });
    expect(s3.conflicts).toBe(1);

    // 4. The sweeper reads the window open, the sessionizer freezes it first (the claim loses).
    await open(4);
    const hooked4 = Object.create(store) as DynamoWindowStore;
    hooked4.queryDue = async (...args) => {
      const r = await store.queryDue(...args);
      if (r.length > 0) await processBatch(closing(4), deps(store, sessRows, { clock: { now: () => at } }));
      return r;
    };
    expect(await sweep(sweepDeps(hooked4), at)).toMatchObject({ swept: 0, claimsLost: 1 });

    // Every closed window once, and each user's second window (opened by "closing") still open.
    const all = [...sweepRows.rows, ...sessRows.rows];
    const ids = all.map((r) => r.window_id).sort();
    expect(ids).toEqual([1, 2, 3, 4].map((u) => `${u}_MOB${b0}@${new Date(T0 + 1000).toISOString()}`).sort());
    const states = await store.getMany([1, 2, 3, 4].map((u) => `${u}|mobile|${b0}`));
    expect([...states.values()].map((s) => [s.frozen, s.window?.first_event, s.window?.opened_at])).toEqual(
      [1, 2, 3, 4].map(() => [false, "closing", T0 + 70_500]),
    );
  });

  test("a sweeper that crashed after its claim: a sessionizer waits for it, then emits the window once", async () => {
    const { store } = await newTable(2);
    const sink = new CollectingSink();
    await processBatch([rec(9, T0 + 1000)], deps(store, sink));
    const [s] = (await store.getMany([`9|mobile|${T0 / 1000}`])).values();
    await store.freeze(s, s.window!, s.positions, { by: "sweeper", atMs: T0 + 71_000 }); // ... and the tick died
    const waits: number[] = [];
    const out = await processBatch(
      [rec(9, T0 + 75_000, "next", T0 + 900)],
      deps(store, sink, { clock: { now: () => T0 + 75_500 }, frozenWaitMs: 200, sleep: async (ms) => void waits.push(ms) }),
    );
    expect(out).toMatchObject({ rowsEmitted: 1, unfinished: new Map() });
    expect(waits.reduce((a, b) => a + b, 0)).toBe(200);
    // A later tick finds the key's new window, not the claimed one: the claimed window was emitted once.
    expect(await sweep({ store, rows: sink, metrics: new MemoryMetrics(), sweepPartitions: 2, graceSeconds: 0 }, T0 + 200_000)).toMatchObject({ swept: 1 });
    expect(sink.rows.map((r) => r.window_id)).toEqual([
      `9_MOB${T0 / 1000}@${new Date(T0 + 1000).toISOString()}`,
      `9_MOB${T0 / 1000}@${new Date(T0 + 75_000).toISOString()}`,
    ]);

    // With the claim older than the lease the sessionizer takes it over at once, without waiting.
    await processBatch([rec(10, T0 + 1000)], deps(store, sink));
    const [s10] = (await store.getMany([`10|mobile|${T0 / 1000}`])).values();
    await store.freeze(s10, s10.window!, s10.positions, { by: "sweeper", atMs: T0 + 71_000 });
    const waits10: number[] = [];
    await processBatch([rec(10, T0 + 200_000, "next", T0 + 900)], deps(store, sink, { clock: { now: () => T0 + 71_000 + 120_000 }, sleep: async (ms) => void waits10.push(ms) }));
    expect(waits10).toEqual([]);
    expect(sink.rows.filter((r) => r.user_id === 10)).toHaveLength(1);
  });

  test("the sweeper: an undelivered tick leaves the windows frozen for the next; maxWindows bounds a tick", async () => {
    const { store } = await newTable(2);
    const sink = new CollectingSink();
    await processBatch(Array.from({ length: 6 }, (_, i) => rec(500 + i, T0 + 1000 + i)), deps(store, sink));
    const sweepDeps = { store, rows: sink, metrics: new MemoryMetrics(), sweepPartitions: 2, graceSeconds: 10 };

    expect(await sweep(sweepDeps, T0 + 70_000)).toMatchObject({ due: 0, swept: 0, dueBefore: T0 + 60_000 });
    sink.failNext = 1;
    const err = await sweep(sweepDeps, T0 + 80_000).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(SweepDeliveryError);
    expect((err as SweepDeliveryError).result).toMatchObject({ due: 6, failed: 6, swept: 0 });
    const frozen = await store.getMany(Array.from({ length: 6 }, (_, i) => `${500 + i}|mobile|${T0 / 1000}`));
    expect([...frozen.values()].every((r) => r.frozen && r.window?.events === 1)).toBe(true);

    const bounded = await sweep({ ...sweepDeps, maxWindows: 2 }, T0 + 90_000);
    expect(bounded).toMatchObject({ due: 2, swept: 2, more: true });
    const rest = await sweep(sweepDeps, T0 + 90_000);
    expect(rest).toMatchObject({ due: 4, swept: 4, more: false, claimsLost: 0 });
    expect(sink.rows.map((r) => r.user_id).sort()).toEqual([500, 501, 502, 503, 504, 505]);
  });

  test("malformed records interleaved with good ones: all good ones windowed, all bad ones rejected, nothing failed", async () => {
    const { store } = await newTable();
    const sink = new CollectingSink();
    const rejected: RejectedRecord[] = [];
    const d = { ...deps(store, sink), rejected: { send: async (r: readonly RejectedRecord[]) => void rejected.push(...r) } };
    const bad = (data: Uint8Array | string): BatchRecord => ({ ...rec(0, T0), data: typeof data === "string" ? new TextEncoder().encode(data) : data });
    const batch = [
      rec(11, T0 + 1000, "a", T0 + 100),
      bad("{"),
      rec(11, T0 + 2000, "b", T0 + 200),
      bad(new Uint8Array([0xc3, 0x28])),
      bad(JSON.stringify({ user_id: 11, device_id: "mobile", client_event: "c", client_timestamp: "soon" })),
      rec(12, T0 + 3000, "a", T0 + 300),
      bad("[]"),
      rec(11, T0 + 4000, "c", T0 + 400),
    ];
    const out = await processBatch(batch, d);
    expect(out).toMatchObject({ records: 8, rejected: 4, keys: 2, unfinished: new Map(), failedKeys: [] });
    expect(rejected.map((r) => r.reason)).toEqual(["invalid_json", "invalid_utf8", "bad_timestamp", "not_an_object"]);
    expect(rejected.map((r) => r.sequence_number)).toEqual([1, 3, 4, 6].map((i) => batch[i].sequenceNumber));
    const states = await store.getMany([`11|mobile|${T0 / 1000}`, `12|mobile|${T0 / 1000}`]);
    expect([...states.values()].map((s) => [s.window?.events, s.window?.first_event, s.window?.last_event])).toEqual([
      [3, "a", "c"],
      [1, "a", "a"],
    ]);
  });
});
