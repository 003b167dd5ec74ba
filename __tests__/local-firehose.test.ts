import { FirehoseClient, ListDeliveryStreamsCommand, PutRecordBatchCommand, PutRecordCommand } from "@aws-sdk/client-firehose";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import * as path from "node:path";
import { LOCAL_ERROR_OUTPUT_TYPE, LocalFirehose, hivePartition } from "../local/firehose";
import { firehoseErrorPrefix } from "../modules/firehose-prefixes";

/** The local Firehose through the real SDK client (JSON 1.1 over HTTP on 127.0.0.1). */

const T0 = Date.parse("2026-01-02T03:04:05.678Z");
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

function files(dir: string): string[] {
  const out: string[] = [];
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = path.join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else out.push(path.relative(dir, p));
    }
  };
  walk(dir);
  return out.sort();
}

describe("local Firehose", () => {
  let lake: string;
  let firehose: LocalFirehose;
  let client: FirehoseClient;
  let now = T0;
  const failing = new Set<number>();

  beforeEach(async () => {
    lake = mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "local-firehose-"));
    now = T0;
    failing.clear();
    firehose = new LocalFirehose({
      lakeDir: lake,
      bufferIntervalSeconds: 3600,
      bufferSizeBytes: 1000,
      now: () => now,
      failEntry: (_s, i) => (failing.has(i) ? "ServiceUnavailableException" : undefined),
      streams: [
        { name: "rows", prefix: "aggregated/", errorPrefix: "errors", shortName: "aggregated" },
        { name: "raw", prefix: "rawdata/", errorPrefix: "errors", shortName: "raw", appendDelimiter: true },
      ],
    });
    const running = await firehose.start();
    expect(running.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    client = new FirehoseClient({ region: "us-east-1", endpoint: running.endpoint, credentials: { accessKeyId: "local", secretAccessKey: "local" } });
  });

  afterEach(async () => {
    client.destroy();
    await firehose.stop();
    rmSync(lake, { recursive: true, force: true });
  });

  test("PutRecordBatch: the SDK's response shape, then one NDJSON object under the arrival hour", async () => {
    const out = await client.send(
      new PutRecordBatchCommand({
        DeliveryStreamName: "rows",
        Records: [{ Data: Buffer.from('{"a":1}\n') }, { Data: Buffer.from('{"a":2}\n') }],
      }),
    );
    expect(out.FailedPutCount).toBe(0);
    expect(out.RequestResponses).toHaveLength(2);
    for (const r of out.RequestResponses ?? []) expect(r.RecordId).toEqual(expect.any(String));
    expect(firehose.statsOf("rows")).toMatchObject({ records: 2, buffered: 2, objects: 0 });

    await firehose.flush();
    const written = files(lake).filter((f) => !f.startsWith(".firehose-staging"));
    expect(written).toHaveLength(1);
    expect(written[0]).toMatch(/^aggregated\/year=2026\/month=01\/day=02\/hour=03\/rows-1-2026-01-02-03-04-05-[0-9a-f-]{36}$/);
    expect(readFileSync(path.join(lake, written[0]), "utf8")).toBe('{"a":1}\n{"a":2}\n');
  });

  test("PutRecord, and ListDeliveryStreams", async () => {
    const out = await client.send(new PutRecordCommand({ DeliveryStreamName: "rows", Record: { Data: Buffer.from("x\n") } }));
    expect(out.RecordId).toEqual(expect.any(String));
    const list = await client.send(new ListDeliveryStreamsCommand({}));
    expect(list.DeliveryStreamNames).toEqual(["raw", "rows"]);
  });

  test("an unknown delivery stream is ResourceNotFoundException", async () => {
    await expect(client.send(new PutRecordBatchCommand({ DeliveryStreamName: "nope", Records: [{ Data: Buffer.from("x") }] }))).rejects.toMatchObject({
      name: "ResourceNotFoundException",
      message: expect.stringContaining("nope"),
      $metadata: expect.objectContaining({ httpStatusCode: 400 }),
    });
  });

  test("more than 500 records in a call is a ValidationException", async () => {
    const Records = Array.from({ length: 501 }, () => ({ Data: Buffer.from("x\n") }));
    await expect(client.send(new PutRecordBatchCommand({ DeliveryStreamName: "rows", Records }))).rejects.toMatchObject({ name: "ValidationException" });
  });

  test("a partial failure: FailedPutCount and per-entry ErrorCode; only the good entries are delivered", async () => {
    failing.add(1);
    const out = await client.send(
      new PutRecordBatchCommand({ DeliveryStreamName: "rows", Records: ["a\n", "b\n", "c\n"].map((s) => ({ Data: Buffer.from(s) })) }),
    );
    expect(out.FailedPutCount).toBe(1);
    expect(out.RequestResponses?.[1]).toEqual({ ErrorCode: "ServiceUnavailableException", ErrorMessage: expect.any(String) });
    expect(out.RequestResponses?.[0].RecordId).toBeDefined();
    await firehose.flush();
    const [file] = files(path.join(lake, "aggregated"));
    expect(readFileSync(path.join(lake, "aggregated", file), "utf8")).toBe("a\nc\n");
  });

  test("buffer size: a full buffer is delivered at once, in order, several objects", async () => {
    const records = Array.from({ length: 30 }, (_, i) => ({ Data: Buffer.from(`${JSON.stringify({ i, pad: "x".repeat(80) })}\n`) }));
    await client.send(new PutRecordBatchCommand({ DeliveryStreamName: "rows", Records: records }));
    await firehose.flush();
    const objects = files(path.join(lake, "aggregated"));
    expect(objects.length).toBeGreaterThanOrEqual(3);
    const lines = objects.flatMap((f) => readFileSync(path.join(lake, "aggregated", f), "utf8").trim().split("\n"));
    expect(lines.map((l) => JSON.parse(l).i).sort((a, b) => a - b)).toEqual(records.map((_, i) => i));
    for (const f of objects) expect(statSync(path.join(lake, "aggregated", f)).size).toBeLessThanOrEqual(1000);
  });

  test("a Kinesis-sourced stream (put) appends the delimiter and partitions by the records' arrival", async () => {
    const arrival = Date.parse("2026-03-04T23:59:59.000Z");
    firehose.put("raw", [Buffer.from('{"r":1}'), Buffer.from("not json")], arrival);
    await firehose.flush();
    const [file] = files(path.join(lake, "rawdata"));
    expect(file.startsWith("year=2026/month=03/day=04/hour=23/")).toBe(true);
    expect(readFileSync(path.join(lake, "rawdata", file), "utf8")).toBe('{"r":1}\nnot json\n');
  });

  test("records without a trailing newline on a Direct PUT stream are counted (Firehose adds no delimiter)", async () => {
    await client.send(new PutRecordBatchCommand({ DeliveryStreamName: "rows", Records: [{ Data: Buffer.from('{"a":1}') }] }));
    expect(firehose.statsOf("rows").recordsWithoutNewline).toBe(1);
  });

  test("the buffer interval delivers without a flush", async () => {
    const quick = new LocalFirehose({ lakeDir: lake, bufferIntervalSeconds: 0.05, bufferSizeBytes: 1 << 20, streams: [{ name: "q", prefix: "q/", errorPrefix: "errors", shortName: "q" }] });
    quick.put("q", [Buffer.from("1\n")]);
    for (let i = 0; i < 200 && quick.statsOf("q").objects === 0; i++) await new Promise((r) => setTimeout(r, 10));
    expect(quick.statsOf("q")).toMatchObject({ objects: 1, buffered: 0 });
    await quick.stop();
  });

  test("stop() flushes what is buffered; a failed write goes to the error prefix after retries", async () => {
    let attempts = 0;
    const broken = new LocalFirehose({
      lakeDir: lake,
      bufferIntervalSeconds: 3600,
      bufferSizeBytes: 1 << 20,
      deliveryRetries: 2,
      now: () => T0,
      writeObject: async () => {
        attempts++;
        throw new Error("disk on fire");
      },
      // the rejected stream's layout: its data prefix is inside the error prefix
      streams: [{ name: "b", prefix: "errors/rejected/", errorPrefix: "errors", shortName: "rejected" }],
    });
    const stderr = jest.spyOn(process.stderr, "write").mockImplementation(() => true);
    broken.put("b", [Buffer.from("lost?\n")], T0);
    await broken.stop();
    stderr.mockRestore();
    expect(attempts).toBe(3);
    expect(broken.statsOf("b")).toMatchObject({ failedRecords: 1, objects: 0 });
    // The failed object is in the stream's delivery-failed folder, the one the stacks configure
    // (firehoseErrorPrefix with Firehose's placeholders filled in), not inside the data folder.
    expect(existsSync(path.join(lake, "errors", "rejected"))).toBe(false);
    const [file] = files(path.join(lake, "errors", "delivery-failed"));
    const expectedPrefix = firehoseErrorPrefix("errors", "rejected", { errorOutputType: LOCAL_ERROR_OUTPUT_TYPE, timePartitions: hivePartition(T0) });
    expect(expectedPrefix).toBe(`errors/delivery-failed/rejected/s3-failed/${hivePartition(T0)}`);
    expect(path.join("errors", "delivery-failed", file).startsWith(expectedPrefix)).toBe(true);
    expect(firehoseErrorPrefix("errors", "rejected")).toBe(
      "errors/delivery-failed/rejected/!{firehose:error-output-type}/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/",
    );
  });
});
