import {
  GetRecordsCommand,
  GetShardIteratorCommand,
  KinesisClient,
  ListShardsCommand,
  type _Record,
} from "@aws-sdk/client-kinesis";
import { readFileSync } from "node:fs";
import { startKinesalite, type RunningEmulator } from "../local/emulators";
import { makeKinesisClient, runLoad, type LoadResult } from "../loadgen/run";
import { evenShardRanges, shardIndexFor } from "../loadgen/shards";
import { canonical, naiveExpected, readLines, tmpDir, type Line } from "./loadgen-helpers";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

/** A real push to kinesalite on 127.0.0.1 (HTTP/1.1 handler), read back from every shard. */

let kinesalite: RunningEmulator;
let client: KinesisClient;

beforeAll(async () => {
  kinesalite = await startKinesalite();
  client = makeKinesisClient({ region: "us-east-1", endpoint: kinesalite.endpoint });
});
afterAll(async () => {
  client?.destroy();
  await kinesalite?.stop();
});

async function readStream(stream: string): Promise<{ shardId: string; record: _Record }[]> {
  const shards = (await client.send(new ListShardsCommand({ StreamName: stream }))).Shards ?? [];
  const out: { shardId: string; record: _Record }[] = [];
  for (const s of shards) {
    let iterator = (
      await client.send(new GetShardIteratorCommand({ StreamName: stream, ShardId: s.ShardId, ShardIteratorType: "TRIM_HORIZON" }))
    ).ShardIterator;
    for (;;) {
      const page = await client.send(new GetRecordsCommand({ ShardIterator: iterator, Limit: 10_000 }));
      for (const record of page.Records ?? []) out.push({ shardId: s.ShardId as string, record });
      if (!page.Records?.length) break;
      iterator = page.NextShardIterator;
    }
  }
  return out;
}

describe("a push to kinesalite", () => {
  const stream = "loadgen-test";
  const window = 4;
  let result: LoadResult;
  let lines: Line[];
  let stored: { shardId: string; record: _Record }[];

  beforeAll(async () => {
    result = await runLoad({
      endpoint: kinesalite.endpoint,
      stream,
      createStream: true,
      shards: 3,
      users: 150,
      events: 3000,
      rate: 3000,
      window,
      // more room than the default 1 s: jest runs other suites beside this one
      marginMs: 1500,
      lateFraction: 0.05,
      malformedFraction: 0.03,
      // two calls in flight: a user's records still arrive in order, lines still in arrival order
      concurrency: 2,
      out: tmpDir("loadgen-kinesalite"),
    });
    lines = readLines(result.eventsPath);
    stored = await readStream(stream);
  });

  test("events.ndjson is in arrival (send-time) order", () => {
    for (let i = 1; i < lines.length; i++) expect(Date.parse(lines[i].arrival)).toBeGreaterThanOrEqual(Date.parse(lines[i - 1].arrival));
  });

  test("every acknowledged record is in the stream, byte for byte, and nothing else", () => {
    expect(result.counts.failed).toBe(0);
    expect(lines).toHaveLength(3000);
    expect(stored).toHaveLength(3000);
    const fromStream = stored.map((s) => Buffer.from(s.record.Data as Uint8Array));
    const fromFile = lines.map((l) => Buffer.from(l.data, "utf8"));
    const hex = (bs: Buffer[]) => bs.map((b) => b.toString("hex")).sort();
    expect(hex(fromStream)).toEqual(hex(fromFile));
  });

  test("partition key = user id; each shard holds a user's records in send order; shards as predicted", () => {
    const ranges = evenShardRanges(3);
    const byKeyStream = new Map<string, string[]>();
    for (const s of stored) {
      const pk = s.record.PartitionKey as string;
      expect(s.shardId).toBe(ranges[shardIndexFor(pk, ranges)].shardId);
      byKeyStream.set(pk, [...(byKeyStream.get(pk) ?? []), Buffer.from(s.record.Data as Uint8Array).toString("utf8")]);
    }
    const byKeyFile = new Map<string, string[]>();
    for (const l of lines) {
      const data = JSON.parse(l.data.startsWith("{") && l.data.endsWith("}") ? l.data : "{}");
      if (typeof data.user_id === "number" && data.user_id >= 0) expect(l.partition_key).toBe(String(data.user_id));
      byKeyFile.set(l.partition_key, [...(byKeyFile.get(l.partition_key) ?? []), l.data]);
    }
    expect(new Map([...byKeyStream].sort())).toEqual(new Map([...byKeyFile].sort()));
    expect(new Set(stored.map((s) => s.shardId)).size).toBe(3);
  });

  test("the stream's own arrival times give the same rows as the send times (the estimate is safe)", () => {
    const arrivalByData = new Map<string, number[]>();
    for (const s of stored) {
      const d = Buffer.from(s.record.Data as Uint8Array).toString("utf8");
      arrivalByData.set(d, [...(arrivalByData.get(d) ?? []), (s.record.ApproximateArrivalTimestamp as Date).getTime()]);
    }
    // replay in the stream's arrival order (stable for equal timestamps: send order)
    const withArrival = lines.map((l, i) => ({ l, i, a: (arrivalByData.get(l.data) as number[]).shift() as number }));
    withArrival.sort((x, y) => x.a - y.a || x.i - y.i);
    const byStream = naiveExpected(
      withArrival.map((x) => x.l),
      window,
      (_l, i) => withArrival[i].a,
    );
    const expected = JSON.parse(readFileSync(result.expectedPath, "utf8"));
    // the claim (docs/loadgen.md): with every call faster than the margin, the rows are certain
    expect(expected.safety.margin_ms).toBe(1500);
    if (expected.safety.max_call_ms >= expected.safety.margin_ms) {
      console.warn(`a PutRecords call took ${expected.safety.max_call_ms} ms, not below the margin: the arrival-time comparison is not claimed`);
      return;
    }
    expect(canonical(byStream.rows)).toEqual(canonical(expected.rows));
    expect(expected.counts.late).toBeGreaterThan(0);
    expect(expected.counts.late).toBe(byStream.late);
    expect(expected.safety.uncertain).toBe(0);
  });

  test("client_timestamp is the send time (less the client lag) in real time", () => {
    for (const l of lines.slice(0, 300)) {
      let v: { client_timestamp?: unknown };
      try {
        v = JSON.parse(l.data);
      } catch {
        continue;
      }
      if (typeof v?.client_timestamp !== "string" || !/^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{3}$/.test(v.client_timestamp)) continue;
      const lag = Date.parse(l.arrival) - Date.parse(v.client_timestamp.replace(" ", "T") + "Z");
      const late = lag > 200;
      // ordinary records: 0-200 ms behind; late ones: at least W + margin behind their key's first send
      if (!late) expect(lag).toBeGreaterThanOrEqual(0);
      else expect(lag).toBeGreaterThan(window * 1000);
    }
  });

  test("stopping a real-time run keeps the stream and the expectations in agreement", async () => {
    const controller = new AbortController();
    const aborted = await runLoad(
      { endpoint: kinesalite.endpoint, stream: "loadgen-abort", createStream: true, shards: 2, users: 100, events: 50_000, rate: 5000, window, lateFraction: 0.05, out: tmpDir("loadgen-kinesalite-abort") },
      { signal: controller.signal, onProgress: (p) => p.acknowledged >= 500 && controller.abort() },
    );
    expect(aborted.aborted).toBe(true);
    const got = await readStream("loadgen-abort");
    const abortedLines = readLines(aborted.eventsPath);
    expect(got.length).toBe(abortedLines.length);
    expect(aborted.expected.counts.acknowledged).toBe(abortedLines.length);
    expect(abortedLines.length).toBeLessThan(50_000);
  });
});
