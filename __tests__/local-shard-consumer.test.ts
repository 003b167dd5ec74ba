import { CreateStreamCommand, DescribeStreamSummaryCommand, KinesisClient, PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from "aws-lambda";
import { startKinesalite, type RunningEmulator } from "../local/emulators";
import { EventSourceMapping, ShardPoller, type KinesisHandler, type KinesisOnFailureRecord } from "../local/shard-consumer";

/** The event source mapping emulation against kinesalite on 127.0.0.1. */

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

let kinesalite: RunningEmulator;
let kinesis: KinesisClient;
let streamNo = 0;

beforeAll(async () => {
  kinesalite = await startKinesalite();
  kinesis = new KinesisClient({
    region: "us-east-1",
    endpoint: kinesalite.endpoint,
    credentials: { accessKeyId: "local", secretAccessKey: "local" },
    requestHandler: new NodeHttpHandler(),
  });
});

afterAll(async () => {
  kinesis.destroy();
  await kinesalite.stop();
});

/** A new stream with `shards` shards and `n` records (partition keys 0..keys-1); returns its name. */
async function streamWith(shards: number, n: number, keys = 8): Promise<string> {
  const name = `s${++streamNo}`;
  await kinesis.send(new CreateStreamCommand({ StreamName: name, ShardCount: shards }));
  for (let i = 0; i < 50; i++) {
    const d = await kinesis.send(new DescribeStreamSummaryCommand({ StreamName: name }));
    if (d.StreamDescriptionSummary?.StreamStatus === "ACTIVE") break;
    await new Promise((r) => setTimeout(r, 20));
  }
  for (let start = 0; start < n; start += 500) {
    const Records = Array.from({ length: Math.min(500, n - start) }, (_, j) => ({
      Data: Buffer.from(JSON.stringify({ i: start + j })),
      PartitionKey: String((start + j) % keys),
    }));
    await kinesis.send(new PutRecordsCommand({ StreamName: name, Records }));
  }
  return name;
}

const decode = (e: KinesisStreamEvent) => e.Records.map((r) => JSON.parse(Buffer.from(r.kinesis.data, "base64").toString()).i as number);

function mapping(stream: string, handler: KinesisHandler, extra: Partial<ConstructorParameters<typeof EventSourceMapping>[0]> = {}) {
  const dlq: KinesisOnFailureRecord[] = [];
  const esm = new EventSourceMapping({
    kinesis,
    streamName: stream,
    region: "us-east-1",
    functionName: "fn",
    handler,
    batchSize: 100,
    batchingWindowSeconds: 0,
    maxRetryAttempts: 3,
    idlePollMs: 20,
    retryDelayMs: () => 1,
    onFailure: async (r) => {
      dlq.push(r);
    },
    ...extra,
  });
  return { esm, dlq };
}

test("every record once, in order per shard, as real KinesisStreamEvent payloads within the batch size", async () => {
  const stream = await streamWith(3, 700);
  const seen = new Map<string, number[]>();
  const events: KinesisStreamEvent[] = [];
  const { esm } = mapping(stream, async (event) => {
    events.push(event);
    for (const r of event.Records) {
      const shard = r.eventID.split(":")[0];
      seen.set(shard, [...(seen.get(shard) ?? []), JSON.parse(Buffer.from(r.kinesis.data, "base64").toString()).i]);
    }
    return { batchItemFailures: [] };
  });
  await esm.start();
  await esm.drained(20_000);
  await esm.stop();

  expect(esm.shardIds).toHaveLength(3);
  const all = [...seen.values()].flat().sort((a, b) => a - b);
  expect(all).toEqual(Array.from({ length: 700 }, (_, i) => i));
  for (const list of seen.values()) expect(list).toEqual([...list].sort((a, b) => a - b)); // per-shard order = send order
  for (const e of events) expect(e.Records.length).toBeLessThanOrEqual(100);

  const r = events[0].Records[0];
  expect(r).toMatchObject({
    eventSource: "aws:kinesis",
    eventName: "aws:kinesis:record",
    eventVersion: "1.0",
    awsRegion: "us-east-1",
    eventSourceARN: `arn:aws:kinesis:us-east-1:000000000000:stream/${stream}`,
    kinesis: { kinesisSchemaVersion: "1.0", partitionKey: expect.any(String), sequenceNumber: expect.stringMatching(/^\d+$/) },
  });
  expect(r.eventID).toBe(`${r.eventID.split(":")[0]}:${r.kinesis.sequenceNumber}`);
  expect(r.eventID).toMatch(/^shardId-\d{12}:/);
  const arrival = r.kinesis.approximateArrivalTimestamp;
  expect(Number.isFinite(arrival)).toBe(true);
  expect(Math.abs(arrival * 1000 - Date.now())).toBeLessThan(600_000); // seconds, not ms
  expect(esm.shardProgress().reduce((n, p) => n + p.recordsDone, 0)).toBe(700);
});

test("ReportBatchItemFailures: the batch resumes at the reported record; records before it are not sent again", async () => {
  const stream = await streamWith(1, 50);
  const calls: number[][] = [];
  let failedOnce = false;
  const { esm } = mapping(stream, async (event): Promise<KinesisStreamBatchResponse> => {
    const ids = decode(event);
    calls.push(ids);
    const at = event.Records.findIndex((_, k) => ids[k] === 20);
    if (at >= 0 && !failedOnce) {
      failedOnce = true;
      // report 20 and 30: Lambda resumes at the lowest
      return { batchItemFailures: [{ itemIdentifier: event.Records[at + 10].kinesis.sequenceNumber }, { itemIdentifier: event.Records[at].kinesis.sequenceNumber }] };
    }
    return { batchItemFailures: [] };
  });
  await esm.start();
  await esm.drained(20_000);
  await esm.stop();
  expect(calls[0]).toEqual(Array.from({ length: 50 }, (_, i) => i));
  expect(calls[1]).toEqual(Array.from({ length: 30 }, (_, i) => i + 20));
  expect(calls).toHaveLength(2);
  expect(esm.shardProgress()[0]).toMatchObject({ recordsDone: 50, retries: 1, recordsToDlq: 0 });
});

test("without bisection a thrown error retries the whole batch; an unknown itemIdentifier also fails the whole batch", async () => {
  const stream = await streamWith(1, 10);
  let call = 0;
  const sizes: number[] = [];
  const { esm } = mapping(
    stream,
    async (event) => {
      sizes.push(event.Records.length);
      call++;
      if (call === 1) throw new Error("boom");
      if (call === 2) return { batchItemFailures: [{ itemIdentifier: "not-a-sequence-number" }] };
      return { batchItemFailures: [] };
    },
    { bisectBatchOnFunctionError: false },
  );
  await esm.start();
  await esm.drained(20_000);
  await esm.stop();
  expect(sizes).toEqual([10, 10, 10]);
});

test("retries are bounded: then the on-failure destination gets the batch's KinesisBatchInfo and the shard moves on", async () => {
  const stream = await streamWith(1, 30);
  const delivered: number[] = [];
  const { esm, dlq } = mapping(
    stream,
    async (event) => {
      const ids = decode(event);
      const bad = ids.indexOf(12);
      // records before the failing one were processed by this call
      delivered.push(...(bad >= 0 ? ids.slice(0, bad) : ids));
      if (bad >= 0) return { batchItemFailures: [{ itemIdentifier: event.Records[bad].kinesis.sequenceNumber }] };
      return { batchItemFailures: [] };
    },
    { batchSize: 10, maxRetryAttempts: 2 },
  );
  await esm.start();
  await esm.drained(20_000);
  await esm.stop();
  expect(dlq).toHaveLength(1);
  expect(dlq[0]).toMatchObject({
    requestContext: { condition: "RetryAttemptsExhausted", approximateInvokeCount: 3, functionArn: "arn:aws:lambda:us-east-1:000000000000:function:fn" },
    version: "1.0",
    KinesisBatchInfo: { shardId: "shardId-000000000000", batchSize: 8, streamArn: `arn:aws:kinesis:us-east-1:000000000000:stream/${stream}` },
  });
  expect(dlq[0].KinesisBatchInfo.startSequenceNumber <= dlq[0].KinesisBatchInfo.endSequenceNumber).toBe(true);
  // 10, 11 of the failing batch were checkpointed before the failure; 12–19 went to the DLQ
  expect(delivered).toEqual([...Array.from({ length: 12 }, (_, i) => i), ...Array.from({ length: 10 }, (_, i) => i + 20)]);
  expect(esm.shardProgress()[0]).toMatchObject({ recordsDone: 22, recordsToDlq: 8 });
});

test("BisectBatchOnFunctionError: a batch that throws is split until the poison record is alone; only it is dead-lettered", async () => {
  const stream = await streamWith(1, 16);
  const delivered: number[] = [];
  const sizes: number[] = [];
  const { esm, dlq } = mapping(
    stream,
    async (event) => {
      const ids = decode(event);
      sizes.push(ids.length);
      if (ids.includes(7)) throw new Error("poison");
      delivered.push(...ids);
      return { batchItemFailures: [] };
    },
    { maxRetryAttempts: 1 },
  );
  await esm.start();
  await esm.drained(20_000);
  await esm.stop();
  expect(delivered).toEqual(Array.from({ length: 16 }, (_, i) => i).filter((i) => i !== 7)); // in order
  // 16 ✗ → 0-7 ✗ → 0-3 ✓ → 4-7 ✗ → 4,5 ✓ → 6,7 ✗ → 6 ✓ → 7 ✗ ✗ (dead-lettered) → 8-15 ✓
  expect(sizes).toEqual([16, 8, 4, 4, 2, 2, 1, 1, 1, 8]);
  expect(dlq).toHaveLength(1);
  expect(dlq[0].KinesisBatchInfo.batchSize).toBe(1);
  expect(esm.shardProgress()[0]).toMatchObject({ bisections: 4, recordsToDlq: 1, recordsDone: 15 });
});

test("the batching window gathers records up to the batch size", async () => {
  const stream = await streamWith(1, 0);
  const sizes: number[] = [];
  const { esm } = mapping(
    stream,
    async (event) => {
      sizes.push(event.Records.length);
      return { batchItemFailures: [] };
    },
    { batchSize: 25, batchingWindowSeconds: 300 },
  );
  await esm.start();
  for (let i = 0; i < 5; i++) {
    await kinesis.send(new PutRecordsCommand({ StreamName: stream, Records: Array.from({ length: 10 }, (_, j) => ({ Data: Buffer.from(JSON.stringify({ i: i * 10 + j })), PartitionKey: "k" })) }));
    await new Promise((r) => setTimeout(r, 30));
  }
  for (let i = 0; i < 500 && sizes.reduce((a, b) => a + b, 0) < 50; i++) await new Promise((r) => setTimeout(r, 10));
  await esm.stop();
  expect(sizes).toEqual([25, 25]);
});

test("ShardPoller hands every record of every shard to its consumer", async () => {
  const stream = await streamWith(2, 300);
  const got: string[] = [];
  const poller = new ShardPoller({ kinesis, streamName: stream, idlePollMs: 20 }, (records, shardId) => {
    for (const r of records) got.push(`${shardId}:${r.SequenceNumber}`);
  });
  await poller.start();
  await poller.drained(20_000);
  await poller.stop();
  expect(new Set(got).size).toBe(300);
  expect(poller.records).toBe(300);
});
