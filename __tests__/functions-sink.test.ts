import { FirehoseClient, PutRecordBatchCommand, ServiceUnavailableException, ResourceNotFoundException } from "@aws-sdk/client-firehose";
import { mockClient } from "aws-sdk-client-mock";
import { FirehoseDeliveryError, FirehoseNdjsonSink, FirehoseRowSink } from "../functions/adapters/firehose-sink";
import { PowertoolsMetrics } from "../functions/adapters/metrics";
import type { SessionRow } from "../functions/core/row";
import { MemoryWindowStore } from "../functions/adapters/dynamodb-window-store";
import { MemoryMetrics } from "../functions/adapters/metrics";
import { processBatch, type BatchRecord } from "../functions/sessionizer/process-batch";

const firehose = mockClient(FirehoseClient);
const client = new FirehoseClient({ region: "us-east-1", credentials: { accessKeyId: "x", secretAccessKey: "x" } });
const fast = { startingDelayMs: 1, maxDelayMs: 2 };
const dec = new TextDecoder();

beforeEach(() => firehose.reset());

function row(i: number): SessionRow {
  return {
    session_id: `${i}_MOB1796295600`,
    user_id: i,
    device_id: "mobile",
    timeagg: "2026-12-03T11:00:00.000Z",
    events: 1 + (i % 5),
    beginnavigation: "beer_products",
    endnavigation: "beer_cart",
    beginsession: "2026-12-03T11:00:10.000Z",
    endsession: "2026-12-03T11:00:55.000Z",
    duration_sec: i % 60,
    window_id: `${i}_MOB1796295600@2026-12-03T11:00:20.000Z`,
    emitted_at: "2026-12-03T11:01:20.000Z",
  };
}

/** The objects each PutRecordBatch call carried, decoded from its NDJSON records. */
function calls(): { stream: string; objects: { user_id: number }[]; bytes: number }[] {
  return firehose.commandCalls(PutRecordBatchCommand).map((c) => {
    const input = c.args[0].input;
    const texts = (input.Records ?? []).map((r) => dec.decode(r.Data as Uint8Array));
    for (const t of texts) expect(t.endsWith("\n") && !t.slice(0, -1).includes("\n")).toBe(true);
    return {
      stream: input.DeliveryStreamName!,
      objects: texts.map((t) => JSON.parse(t)),
      bytes: texts.reduce((n, t) => n + Buffer.byteLength(t), 0),
    };
  });
}

describe("Firehose sink", () => {
  test("one JSON object + newline per record, in one call", async () => {
    firehose.on(PutRecordBatchCommand).resolves({ FailedPutCount: 0, RequestResponses: [{ RecordId: "a" }, { RecordId: "b" }] });
    await new FirehoseRowSink(client, "rows-stream", fast).send([row(1), row(2)]);
    const [call] = calls();
    expect(call.stream).toBe("rows-stream");
    expect(call.objects).toEqual([row(1), row(2)]);
  });

  test("partial failure: only the failed entries are sent again", async () => {
    firehose
      .on(PutRecordBatchCommand)
      .resolvesOnce({
        FailedPutCount: 2,
        RequestResponses: [
          { RecordId: "0" },
          { ErrorCode: "ServiceUnavailableException", ErrorMessage: "slow down" },
          { RecordId: "2" },
          { ErrorCode: "InternalFailure", ErrorMessage: "oops" },
          { RecordId: "4" },
        ],
      })
      .resolvesOnce({ FailedPutCount: 1, RequestResponses: [{ RecordId: "1" }, { ErrorCode: "ServiceUnavailableException" }] })
      .resolves({ FailedPutCount: 0, RequestResponses: [{ RecordId: "3" }] });
    await new FirehoseRowSink(client, "rows", fast).send([0, 1, 2, 3, 4].map(row));
    expect(calls().map((c) => c.objects.map((o) => o.user_id))).toEqual([[0, 1, 2, 3, 4], [1, 3], [3]]);
  });

  test("bounded: a record failing every time is surfaced with the count and the codes", async () => {
    firehose.on(PutRecordBatchCommand).callsFake((input: { Records: unknown[] }) => ({
      FailedPutCount: 1,
      RequestResponses: input.Records.map((_, i) => (i === 0 ? { ErrorCode: "ServiceUnavailableException", ErrorMessage: "x" } : { RecordId: String(i) })),
    }));
    const sink = new FirehoseNdjsonSink(client, "rows", { ...fast, maxAttempts: 4 });
    const err = await sink.send([row(1), row(2), row(3)]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(FirehoseDeliveryError);
    const e = err as FirehoseDeliveryError;
    expect(e.failedCount).toBe(1);
    expect(e.totalCount).toBe(3);
    expect(e.attempts).toBe(4);
    expect(e.errorCodes).toEqual({ ServiceUnavailableException: 1 });
    expect(e.failedIndexes).toEqual([0]);
    expect(e.message).toBe("1 of 3 records failed to reach Firehose stream rows after 4 attempt(s): ServiceUnavailableException x1");
    expect(calls().map((c) => c.objects.length)).toEqual([3, 1, 1, 1]);
  });

  test("a whole-call error is retried; a non-retryable one is not", async () => {
    firehose
      .on(PutRecordBatchCommand)
      .rejectsOnce(new ServiceUnavailableException({ message: "busy", $metadata: {} }))
      .resolves({ FailedPutCount: 0, RequestResponses: [{ RecordId: "a" }] });
    await new FirehoseRowSink(client, "rows", fast).send([row(1)]);
    expect(calls()).toHaveLength(2);

    firehose.reset();
    firehose.on(PutRecordBatchCommand).rejects(new ResourceNotFoundException({ message: "no such stream", $metadata: {} }));
    await expect(new FirehoseRowSink(client, "missing", fast).send([row(1), row(2)])).rejects.toThrow(
      "2 of 2 records failed to reach Firehose stream missing after 1 attempt(s): ResourceNotFoundException x2",
    );
    expect(calls()).toHaveLength(1);
  });

  test("batches of at most 500 records and 4 MiB", async () => {
    firehose.on(PutRecordBatchCommand).callsFake((input: { Records: unknown[] }) => ({
      FailedPutCount: 0,
      RequestResponses: input.Records.map((_, i) => ({ RecordId: String(i) })),
    }));
    await new FirehoseRowSink(client, "rows", fast).send(Array.from({ length: 1201 }, (_, i) => row(i)));
    expect(calls().map((c) => c.objects.length)).toEqual([500, 500, 201]);
    expect(calls().flatMap((c) => c.objects.map((o) => o.user_id))).toEqual(Array.from({ length: 1201 }, (_, i) => i));

    firehose.resetHistory();
    const big = Array.from({ length: 30 }, (_, i) => ({ i, pad: "x".repeat(300 * 1024) }));
    await new FirehoseNdjsonSink(client, "rejected", fast).send(big);
    const sizes = calls();
    expect(sizes.map((c) => c.objects.length)).toEqual([13, 13, 4]);
    for (const c of sizes) expect(c.bytes).toBeLessThanOrEqual(4 * 1024 * 1024);
  });

  test("a record over Firehose's 1000 KiB limit is refused before any call", async () => {
    await expect(new FirehoseNdjsonSink(client, "x", fast).send([{ pad: "x".repeat(1024 * 1024) }])).rejects.toThrow(RangeError);
    expect(calls()).toHaveLength(0);
  });
});

describe("EMF metrics through Powertools", () => {
  test("session_duration (Seconds), session_events (Count) per row; rejected_records by reason", () => {
    const lines: string[] = [];
    const spy = jest.spyOn(process.stdout, "write").mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      const m = new PowertoolsMetrics("Sessionization", "clickstream-dev");
      m.rows([row(3), row(7)]);
      m.rejected(new Map([["invalid_json", 2] as const, ["missing_field", 1] as const]));
      m.flush();
      m.flush(); // nothing stored: no empty blob
    } finally {
      spy.mockRestore();
    }
    const blobs = lines.flatMap((l) => l.split("\n")).filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
    const rejected = blobs.filter((b) => "rejected_records" in b);
    expect(rejected.map((b) => [b.reason, b.rejected_records, b.service])).toEqual([
      ["invalid_json", 2, "clickstream-dev"],
      ["missing_field", 1, "clickstream-dev"],
    ]);
    expect(rejected[0]._aws.CloudWatchMetrics[0]).toMatchObject({
      Namespace: "Sessionization",
      Dimensions: [["service", "reason"]],
      Metrics: [{ Name: "rejected_records", Unit: "Count" }],
    });
    const sessions = blobs.filter((b) => "session_duration" in b);
    expect(sessions).toHaveLength(1);
    expect(sessions[0].session_duration).toEqual([3, 7]);
    expect(sessions[0].session_events).toEqual([4, 3]);
    expect(sessions[0]._aws.CloudWatchMetrics[0].Metrics).toEqual([
      { Name: "session_duration", Unit: "Seconds" },
      { Name: "session_events", Unit: "Count" },
    ]);
  });
});

describe("the sessionizer with a partly failing sink", () => {
  test("only the keys whose rows were not delivered stay unfinished; the rest commit", async () => {
    firehose.on(PutRecordBatchCommand).callsFake((input: { Records: { Data: Uint8Array }[] }) => {
      // Firehose refuses user 2's rows every time.
      const codes = input.Records.map((r) => (JSON.parse(dec.decode(r.Data)).user_id === 2 ? "ServiceUnavailableException" : undefined));
      return {
        FailedPutCount: codes.filter(Boolean).length,
        RequestResponses: codes.map((c, i) => (c ? { ErrorCode: c } : { RecordId: String(i) })),
      };
    });
    const store = new MemoryWindowStore(1);
    const metrics = new MemoryMetrics();
    const deps = {
      store,
      rows: new FirehoseRowSink(client, "rows", { ...fast, maxAttempts: 3 }),
      rejected: { send: async () => undefined },
      metrics,
      clock: { now: () => 0 },
      windowSeconds: 60,
    };
    const T = Date.UTC(2026, 11, 3, 10);
    let n = 0;
    const rec = (user: number, arrival: number, ts: number): BatchRecord => ({
      shardId: "s-0",
      sequenceNumber: String(100 + ++n),
      partitionKey: String(user),
      arrivalMs: arrival,
      data: new TextEncoder().encode(JSON.stringify({ user_id: user, device_id: "mobile", client_event: "e", client_timestamp: ts })),
    });
    await processBatch([1, 2, 3].map((u) => rec(u, T + 1000, T + 500)), deps);
    const closing = [1, 2, 3].map((u) => rec(u, T + 62_000, T + 600));
    const out = await processBatch(closing, deps);
    expect(out.failedKeys).toEqual([`2|mobile|${T / 1000}`]);
    expect([...out.unfinished.values()]).toEqual([closing[1].sequenceNumber]);
    expect(out.rowsEmitted).toBe(2);
    expect(metrics.events).toEqual([1, 1]);
    const states = await store.getMany([1, 2, 3].map((u) => `${u}|mobile|${T / 1000}`));
    expect([...states.values()].map((s) => [s.frozen, s.window?.opened_at])).toEqual([
      [false, T + 62_000],
      [true, T + 1000], // frozen, not replaced: its row is re-emitted on the retry
      [false, T + 62_000],
    ]);
  });
});
