import { KinesisClient, ListShardsCommand, PutRecordsCommand, type PutRecordsCommandInput } from "@aws-sdk/client-kinesis";
import { mockClient } from "aws-sdk-client-mock";
import { readFileSync } from "node:fs";
import { planBatches, recordBytes, type OutRecord } from "../loadgen/batch";
import { computeExpected } from "../loadgen/expected";
import { MAX_RECORD_BYTES } from "../loadgen/limits";
import { putBatch } from "../loadgen/producer";
import { Limiter } from "../loadgen/ratelimit";
import { evenShardRanges, shardIndexFor } from "../loadgen/shards";
import { pickUserIds } from "../loadgen/model";
import { runLoad } from "../loadgen/run";
import { readLines, tmpDir } from "./loadgen-helpers";

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

/** PutRecords limits and partial-failure retries, against aws-sdk-client-mock. */

const kinesis = mockClient(KinesisClient);
const client = () => new KinesisClient({ region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
const ok = (input: PutRecordsCommandInput) => ({
  FailedRecordCount: 0,
  Records: (input.Records ?? []).map((_, i) => ({ SequenceNumber: String(i + 1), ShardId: "shardId-000000000000" })),
});
const sentData = (call: number) =>
  ((kinesis.commandCalls(PutRecordsCommand)[call].args[0].input as PutRecordsCommandInput).Records ?? []).map((r) => Buffer.from(r.Data as Uint8Array).toString("utf8"));

beforeEach(() => kinesis.reset());

async function putAll(records: OutRecord[]) {
  const plan = planBatches(records);
  const outcomes = [];
  for (const batch of plan.batches) {
    outcomes.push(await putBatch({ client: client(), stream: "s", items: batch, prepare: (r) => r, baseDelayMs: 1, maxDelayMs: 2 }));
  }
  return { plan, outcomes };
}

describe("batching limits", () => {
  test("1,001 records make 3 PutRecords calls (500 + 500 + 1)", async () => {
    kinesis.on(PutRecordsCommand).callsFake(ok);
    const records = Array.from({ length: 1001 }, (_, i) => ({ data: `{"n":${i}}`, partitionKey: String(i % 7) }));
    const { outcomes } = await putAll(records);
    const calls = kinesis.commandCalls(PutRecordsCommand);
    expect(calls.map((c) => c.args[0].input.Records?.length)).toEqual([500, 500, 1]);
    expect(outcomes.reduce((n, o) => n + o.acked.length, 0)).toBe(1001);
    // in order, nothing lost
    expect([...sentData(0), ...sentData(1), ...sentData(2)]).toEqual(records.map((r) => r.data));
  });

  test("a record of 1 MiB + 1 byte is refused before sending; one of exactly 1 MiB is sent", async () => {
    kinesis.on(PutRecordsCommand).callsFake(ok);
    const pk = "k";
    const exact = { data: "x".repeat(MAX_RECORD_BYTES - 1), partitionKey: pk };
    const over = { data: "x".repeat(MAX_RECORD_BYTES), partitionKey: pk };
    expect(recordBytes(exact)).toBe(1024 * 1024);
    expect(recordBytes(over)).toBe(1024 * 1024 + 1);
    const plan = planBatches([exact, over]);
    expect(plan.refused.map((r) => r.index)).toEqual([1]);
    expect(plan.refused[0].reason).toMatch(/1048577 bytes/);
    expect(plan.batches).toEqual([[exact]]);
    // the producer refuses it too, without a call
    const out = await putBatch({ client: client(), stream: "s", items: [over], prepare: (r) => r });
    expect(kinesis.commandCalls(PutRecordsCommand)).toHaveLength(0);
    expect(out.failed.map((f) => f.code)).toEqual(["RecordTooLarge"]);
  });

  test("a call stays within 5 MiB: six records of ~1 MiB make two calls", async () => {
    kinesis.on(PutRecordsCommand).callsFake(ok);
    const records = Array.from({ length: 6 }, (_, i) => ({ data: "y".repeat(1000 * 1000), partitionKey: String(i) }));
    const { plan } = await putAll(records);
    expect(plan.batches.map((b) => b.length)).toEqual([5, 1]);
    for (const c of kinesis.commandCalls(PutRecordsCommand)) {
      const bytes = (c.args[0].input.Records ?? []).reduce((n, r) => n + (r.Data as Uint8Array).length + (r.PartitionKey as string).length, 0);
      expect(bytes).toBeLessThanOrEqual(5 * 1024 * 1024);
    }
  });
});

describe("partial failures", () => {
  test("only the failed entries are resent, with the same records", async () => {
    let call = 0;
    kinesis.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => {
      call++;
      const n = input.Records?.length ?? 0;
      if (call === 1) {
        // of 6: 1 throttled, 3 internal failure, 4 a non-retryable error
        return {
          FailedRecordCount: 3,
          Records: Array.from({ length: n }, (_, i) =>
            i === 1
              ? { ErrorCode: "ProvisionedThroughputExceededException", ErrorMessage: "slow down" }
              : i === 3
                ? { ErrorCode: "InternalFailure", ErrorMessage: "oops" }
                : i === 4
                  ? { ErrorCode: "AccessDeniedException", ErrorMessage: "no" }
                  : { SequenceNumber: `1-${i}`, ShardId: "shardId-000000000000" },
          ),
        };
      }
      return ok(input);
    });
    const records = Array.from({ length: 6 }, (_, i) => ({ data: `r${i}`, partitionKey: "p" }));
    const out = await putBatch({ client: client(), stream: "s", items: records, prepare: (r) => r, baseDelayMs: 1, maxDelayMs: 2 });
    expect(sentData(0)).toEqual(["r0", "r1", "r2", "r3", "r4", "r5"]);
    expect(sentData(1)).toEqual(["r1", "r3"]);
    expect(kinesis.commandCalls(PutRecordsCommand)).toHaveLength(2);
    expect(out.acked.map((a) => a.record.data)).toEqual(["r0", "r2", "r5", "r1", "r3"]);
    expect(out.failed).toEqual([{ item: records[4], code: "AccessDeniedException", message: "no" }]);
    expect(out.retried).toBe(2);
  });

  test("retries are bounded: an entry that keeps failing is given up after maxAttempts calls", async () => {
    kinesis.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => ({
      FailedRecordCount: 1,
      Records: (input.Records ?? []).map((r, i) =>
        Buffer.from(r.Data as Uint8Array).toString() === "bad"
          ? { ErrorCode: "ProvisionedThroughputExceededException", ErrorMessage: "throttled" }
          : { SequenceNumber: String(i), ShardId: "shardId-000000000000" },
      ),
    }));
    const out = await putBatch({
      client: client(),
      stream: "s",
      items: [{ data: "good", partitionKey: "a" }, { data: "bad", partitionKey: "b" }],
      prepare: (r) => r,
      maxAttempts: 4,
      baseDelayMs: 1,
      maxDelayMs: 2,
    });
    expect(kinesis.commandCalls(PutRecordsCommand)).toHaveLength(4);
    expect([1, 2, 3].map(sentData)).toEqual([["bad"], ["bad"], ["bad"]]);
    expect(out.acked.map((a) => a.record.data)).toEqual(["good"]);
    expect(out.failed.map((f) => [f.item.data, f.code])).toEqual([["bad", "ProvisionedThroughputExceededException"]]);
  });

  test("a whole-call throttling error retries the whole batch; a non-retryable one stops", async () => {
    const throttle = Object.assign(new Error("Rate exceeded"), { name: "ProvisionedThroughputExceededException" });
    kinesis.on(PutRecordsCommand).rejectsOnce(throttle).callsFake(ok);
    const out = await putBatch({ client: client(), stream: "s", items: [{ data: "a", partitionKey: "a" }], prepare: (r) => r, baseDelayMs: 1 });
    expect(out.acked).toHaveLength(1);
    expect(kinesis.commandCalls(PutRecordsCommand)).toHaveLength(2);

    kinesis.reset();
    const missing = Object.assign(new Error("Stream s not found"), { name: "ResourceNotFoundException" });
    kinesis.on(PutRecordsCommand).rejects(missing);
    const out2 = await putBatch({ client: client(), stream: "s", items: [{ data: "a", partitionKey: "a" }], prepare: (r) => r, baseDelayMs: 1 });
    expect(kinesis.commandCalls(PutRecordsCommand)).toHaveLength(1);
    expect(out2.fatal?.name).toBe("ResourceNotFoundException");
    expect(out2.failed).toHaveLength(1);
  });

  test("in a run, records that finally fail are reported and left out of events.ndjson and expected.json", async () => {
    // one user's records are always throttled; the rest are acknowledged (some after a retry)
    const victim = String(pickUserIds(40, 1)[0]);
    let calls = 0;
    kinesis.on(ListShardsCommand).rejects(new Error("not used: --shards is given"));
    kinesis.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => {
      calls++;
      const records = input.Records ?? [];
      return {
        FailedRecordCount: 0,
        Records: records.map((r, i) =>
          r.PartitionKey === victim || (calls % 3 === 0 && i % 4 === 0)
            ? { ErrorCode: "ProvisionedThroughputExceededException", ErrorMessage: "throttled" }
            : { SequenceNumber: `${calls}-${i}`, ShardId: "shardId-000000000000" },
        ),
      };
    });
    const out = tmpDir("loadgen-retry");
    const result = await runLoad(
      { endpoint: "http://127.0.0.1:1", stream: "s", shards: 2, users: 40, events: 400, rate: 4000, lateFraction: 0, malformedFraction: 0.05, out, maxAttempts: 3, retryBaseDelayMs: 1, retryMaxDelayMs: 4, concurrency: 2 },
      { kinesisClient: client() },
    );
    const lines = readLines(result.eventsPath);
    expect(result.counts.failed).toBeGreaterThan(0);
    expect(result.counts.retried).toBeGreaterThan(result.counts.failed);
    expect(result.failures.every((f) => f.partition_key === victim && f.code === "ProvisionedThroughputExceededException")).toBe(true);
    expect(lines.some((l) => l.partition_key === victim)).toBe(false);
    expect(lines.length + result.counts.failed).toBe(400);
    const expected = JSON.parse(readFileSync(result.expectedPath, "utf8"));
    expect(expected.counts.acknowledged).toBe(lines.length);
    expect(expected.counts.failed).toBe(result.counts.failed);
    expect(expected.rows.some((r: { user_id: number }) => String(r.user_id) === victim)).toBe(false);
    // expected.json is exactly the expectation of the acknowledged lines
    const again = computeExpected(lines, expected.window_seconds, {
      seed: 1,
      stream: "s",
      failed: result.counts.failed,
      marginMs: expected.safety.margin_ms,
      maxCallMs: expected.safety.max_call_ms,
    });
    expect(again).toEqual(expected);
    // every acknowledged line was in a PutRecords request and acknowledged there
    const acked = new Set<string>();
    for (const c of kinesis.commandCalls(PutRecordsCommand)) for (const r of c.args[0].input.Records ?? []) acked.add(Buffer.from(r.Data as Uint8Array).toString());
    for (const l of lines) expect(acked.has(l.data)).toBe(true);
  });
});

describe("re-stamping on retry", () => {
  test("prepare can take an item back before a retry: it is neither resent nor failed", async () => {
    kinesis.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => ({
      FailedRecordCount: 0,
      Records: (input.Records ?? []).map(() => ({ ErrorCode: "InternalFailure", ErrorMessage: "x" })),
    }));
    const items = [{ data: "a", partitionKey: "1" }, { data: "b", partitionKey: "2" }];
    const out = await putBatch({
      client: client(),
      stream: "s",
      items,
      prepare: (r, _t, attempt) => (attempt > 1 && r.data === "a" ? null : r),
      maxAttempts: 3,
      baseDelayMs: 1,
      maxDelayMs: 2,
    });
    expect([0, 1, 2].map(sentData)).toEqual([["a", "b"], ["b"], ["b"]]);
    expect(out.withdrawn).toEqual([items[0]]);
    expect(out.failed.map((f) => f.item)).toEqual([items[1]]);
  });

  test("in a run, a retried record is stamped again: the acknowledged payload is the retry's", async () => {
    // one call in flight: odd calls are first attempts (all throttled), even calls their retries
    let call = 0;
    kinesis.on(PutRecordsCommand).callsFake((input: PutRecordsCommandInput) => {
      call++;
      return {
        FailedRecordCount: 0,
        Records: (input.Records ?? []).map((_, i) =>
          call % 2 === 1 ? { ErrorCode: "ProvisionedThroughputExceededException", ErrorMessage: "throttled" } : { SequenceNumber: `${call}-${i}`, ShardId: "shardId-000000000000" },
        ),
      };
    });
    const out = tmpDir("loadgen-restamp");
    const result = await runLoad(
      { endpoint: "http://127.0.0.1:1", stream: "s", shards: 2, users: 30, events: 150, rate: 3000, lateFraction: 0, malformedFraction: 0, out, maxAttempts: 3, retryBaseDelayMs: 100, retryMaxDelayMs: 200 },
      { kinesisClient: client() },
    );
    expect(result.counts.failed).toBe(0);
    expect(result.counts.retried).toBe(150);
    const calls = kinesis.commandCalls(PutRecordsCommand).map((c) => (c.args[0].input.Records ?? []).map((r) => Buffer.from(r.Data as Uint8Array).toString()));
    const first = calls.filter((_, i) => i % 2 === 0).flat();
    const retries = calls.filter((_, i) => i % 2 === 1).flat();
    const lines = readLines(result.eventsPath);
    // exactly the retries' payloads were acknowledged and written
    expect(lines.map((l) => l.data).sort()).toEqual([...retries].sort());
    // and they were stamped again (a backoff of up to 100 ms later): most differ from the first attempt's
    const same = retries.filter((d, i) => d === first[i]).length;
    expect(same).toBeLessThan(retries.length / 2);
    for (const l of lines) {
      const lag = Date.parse(l.arrival) - Date.parse(JSON.parse(l.data).client_timestamp.replace(" ", "T") + "Z");
      expect(lag).toBeGreaterThanOrEqual(0);
      expect(lag).toBeLessThanOrEqual(200);
    }
  });
});

describe("rate limits", () => {
  test("a shard never gets more than 1,000 records in any second", () => {
    const limiter = new Limiter({ rate: Infinity, shards: 1 }, 0);
    const admitted: number[] = [];
    for (let t = 0; t < 5000; t++) for (let k = 0; k < 10; k++) if (limiter.tryTake(0, 100, t)) admitted.push(t);
    for (let start = 0; start + 1000 <= 5000; start += 50) {
      const n = admitted.filter((t) => t >= start && t < start + 1000).length;
      expect(n).toBeLessThanOrEqual(1000);
    }
    expect(admitted.length).toBeGreaterThan(4500);
  });

  test("a shard never gets more than 1 MiB in any second", () => {
    const limiter = new Limiter({ rate: Infinity, shards: 1 }, 0);
    const admitted: number[] = [];
    for (let t = 0; t < 3000; t++) if (limiter.tryTake(0, 20_000, t)) admitted.push(t);
    for (let start = 0; start + 1000 <= 3000; start += 50) {
      expect(admitted.filter((t) => t >= start && t < start + 1000).length * 20_000).toBeLessThanOrEqual(1024 * 1024);
    }
  });

  test("--rate holds over the stream", () => {
    const limiter = new Limiter({ rate: 200, shards: 4 }, 0);
    let n = 0;
    for (let t = 0; t < 10_000; t++) for (let s = 0; s < 4; s++) if (limiter.tryTake(s, 100, t)) n++;
    expect(n).toBeLessThanOrEqual(200 * 10 + 10);
    expect(n).toBeGreaterThanOrEqual(200 * 10 - 10);
  });

  test("partition keys map to shards like Kinesis' even split of the md5 hash space", () => {
    const ranges = evenShardRanges(4);
    expect(ranges[3].end).toBe((1n << 128n) - 1n);
    const counts = [0, 0, 0, 0];
    for (let u = 50; u <= 280; u++) counts[shardIndexFor(String(u), ranges)]++;
    for (const c of counts) expect(c).toBeGreaterThan(30);
  });
});
