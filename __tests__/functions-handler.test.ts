import { FirehoseClient, PutRecordBatchCommand, ResourceNotFoundException } from "@aws-sdk/client-firehose";
import { mockClient } from "aws-sdk-client-mock";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { startDynalite, type RunningEmulator } from "../local/emulators";
import { handler as sessionizer, resetSessionizer, toBatchRecord } from "../functions/sessionizer/handler";
import { handler as sweeper, resetSweeper } from "../functions/sweeper/handler";
import { prepareFunctionEnvironment } from "./function-environment";
import { kinesisEvent } from "./kinesis-event";

const docs = JSON.parse(readFileSync(path.resolve(__dirname, "../../shared/testdata/stagger-docs-example.json"), "utf8")) as {
  window_seconds: number;
  records: { arrival: string; event: unknown }[];
  expected: Record<string, unknown>[];
};

const firehose = mockClient(FirehoseClient);
let dynalite: RunningEmulator;
const saved = { ...process.env };
let stdout: jest.SpyInstance;
let stderr: jest.SpyInstance;
let consoleLog: jest.SpyInstance;
const logged: string[] = [];

beforeAll(async () => {
  dynalite = await startDynalite();
  await prepareFunctionEnvironment({
    windowSeconds: docs.window_seconds,
    tableName: "handler-windows",
    rowsDeliveryStream: "clickstream-dev-aggregated",
    rejectedDeliveryStream: "clickstream-dev-rejected",
    serviceName: "clickstream-dev",
    dynamodbEndpoint: dynalite.endpoint,
  });
  stdout = jest.spyOn(process.stdout, "write").mockImplementation((c: string | Uint8Array) => (logged.push(String(c)), true));
  consoleLog = jest.spyOn(console, "log").mockImplementation((...a: unknown[]) => void logged.push(a.join(" ")));
  stderr = jest.spyOn(console, "error").mockImplementation((...a: unknown[]) => void logged.push(a.join(" ")));
});

afterAll(async () => {
  stdout.mockRestore();
  stderr.mockRestore();
  consoleLog.mockRestore();
  process.env = saved;
  await dynalite.stop();
});

beforeEach(() => {
  firehose.reset();
  firehose.on(PutRecordBatchCommand).callsFake((input: { Records: unknown[] }) => ({
    FailedPutCount: 0,
    RequestResponses: input.Records.map((_, i) => ({ RecordId: String(i) })),
  }));
  resetSessionizer();
});

function sent(stream: string): Record<string, unknown>[] {
  return firehose
    .commandCalls(PutRecordBatchCommand)
    .filter((c) => c.args[0].input.DeliveryStreamName === stream)
    .flatMap((c) => (c.args[0].input.Records ?? []).map((r) => JSON.parse(Buffer.from(r.Data as Uint8Array).toString("utf8"))));
}

test("sessionizer + sweeper handlers on dynalite and a mocked Firehose produce the docs example rows", async () => {
  const records = docs.records.map((r) => ({ arrival: r.arrival, data: JSON.stringify(r.event) }));
  expect(await sessionizer(kinesisEvent(records.slice(0, 2)))).toEqual({ batchItemFailures: [] });
  expect(await sessionizer(kinesisEvent(records.slice(2)))).toEqual({ batchItemFailures: [] });
  expect(sent("clickstream-dev-aggregated")).toEqual([]); // both windows are still open: the sweeper emits them

  resetSweeper({ now: () => Date.parse("2026-12-03T11:01:31.000Z") }); // first window due (11:01:20 + 10 s grace)
  expect(await sweeper()).toMatchObject({ swept: 1, claimsLost: 0, failed: 0 });
  resetSweeper({ now: () => Date.parse("2026-12-03T11:03:00.000Z") });
  expect(await sweeper()).toMatchObject({ swept: 1, failed: 0 });
  expect(await sweeper()).toMatchObject({ swept: 0, due: 0 });

  const rows = sent("clickstream-dev-aggregated");
  expect(rows.map((r) => Object.fromEntries(Object.keys(docs.expected[0]).map((k) => [k, r[k]])))).toEqual(docs.expected);
  expect(rows.map((r) => r.window_id)).toEqual(["7_COM1796295600@2026-12-03T11:00:20.000Z", "7_COM1796295660@2026-12-03T11:01:15.000Z"]);
  // EMF went to stdout with the row values.
  const emf = logged.filter((l) => l.includes('"session_duration"')).map((l) => JSON.parse(l));
  expect(emf.map((e) => e.session_duration)).toEqual([45, 0]);
});

test("malformed records go to the rejected stream and never fail the batch", async () => {
  const bad = Buffer.from([0x7b, 0xff, 0x7d]);
  const out = await sessionizer(
    kinesisEvent([
      { arrival: "2026-12-03T12:00:00.000Z", data: "{oops" },
      { arrival: "2026-12-03T12:00:01.000Z", data: JSON.stringify({ user_id: 8, device_id: "tv", client_event: "a", client_timestamp: 1796299200000 }) },
      { arrival: "2026-12-03T12:00:02.000Z", data: bad },
      { arrival: "2026-12-03T12:00:03.000Z", data: JSON.stringify({ user_id: 8, device_id: "tv", client_event: "a" }) },
    ]),
  );
  expect(out).toEqual({ batchItemFailures: [] });
  const rejected = sent("clickstream-dev-rejected");
  expect(rejected.map((r) => [r.reason, r.field, r.data, r.data_encoding, r.arrival, r.partition_key, r.shard_id])).toEqual([
    ["invalid_json", undefined, "{oops", undefined, "2026-12-03T12:00:00.000Z", "7", "shardId-000000000000"],
    ["invalid_utf8", undefined, bad.toString("base64"), "base64", "2026-12-03T12:00:02.000Z", "7", "shardId-000000000000"],
    ["missing_field", "client_timestamp", '{"user_id":8,"device_id":"tv","client_event":"a"}', undefined, "2026-12-03T12:00:03.000Z", "7", "shardId-000000000000"],
  ]);
  expect(rejected.every((r) => typeof r.detail === "string" && /^\d+$/.test(String(r.sequence_number)))).toBe(true);
  const emf = logged.filter((l) => l.includes('"rejected_records"')).map((l) => JSON.parse(l));
  expect(emf.map((e) => [e.reason, e.rejected_records])).toEqual([
    ["invalid_json", 1],
    ["invalid_utf8", 1],
    ["missing_field", 1],
  ]);
});

test("an undeliverable row reports the batch item failure at the lowest unfinished record", async () => {
  const ev = (name: string, ts: number) => JSON.stringify({ user_id: 9, device_id: "mobile", client_event: name, client_timestamp: ts });
  const ts = Date.parse("2026-12-03T13:00:05.000Z");
  expect(await sessionizer(kinesisEvent([{ arrival: "2026-12-03T13:00:06.000Z", data: ev("a", ts) }]))).toEqual({ batchItemFailures: [] });
  firehose.reset();
  firehose.on(PutRecordBatchCommand).rejects(new ResourceNotFoundException({ message: "no stream", $metadata: {} }));
  const event = kinesisEvent([
    { arrival: "2026-12-03T13:01:10.000Z", data: ev("other", Date.parse("2026-12-03T13:01:09.000Z")) }, // new key, committed
    { arrival: "2026-12-03T13:01:11.000Z", data: ev("late", ts) }, // closes the first window: its row cannot be delivered
  ]);
  const out = await sessionizer(event);
  expect(out).toEqual({ batchItemFailures: [{ itemIdentifier: event.Records[1].kinesis.sequenceNumber }] });
});

test("a missing setting is named in the error", async () => {
  const table = process.env.WINDOW_TABLE_NAME;
  delete process.env.WINDOW_TABLE_NAME;
  resetSessionizer();
  try {
    await expect(sessionizer(kinesisEvent([]))).rejects.toThrow("WINDOW_TABLE_NAME");
  } finally {
    process.env.WINDOW_TABLE_NAME = table;
    resetSessionizer();
  }
});

test("Kinesis records map to batch records: shard from eventID, arrival in ms, payload bytes", () => {
  const [r] = kinesisEvent([{ arrival: "2026-12-03T11:00:20.123Z", data: "héllo" }]).Records;
  r.kinesis.approximateArrivalTimestamp = 1796295620.123; // seconds with a float error
  const b = toBatchRecord(r);
  expect(b.shardId).toBe("shardId-000000000000");
  expect(b.sequenceNumber).toBe(r.kinesis.sequenceNumber);
  expect(b.arrivalMs).toBe(1796295620123);
  expect(Buffer.from(b.data).toString("utf8")).toBe("héllo");
  expect(b.partitionKey).toBe("7");
});
