import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from "aws-lambda";
import { dynamoClient, firehoseClient } from "../adapters/clients";
import { DynamoWindowStore } from "../adapters/dynamodb-window-store";
import { FirehoseRejectedSink, FirehoseRowSink } from "../adapters/firehose-sink";
import { PowertoolsMetrics } from "../adapters/metrics";
import { systemClock } from "../adapters/ports";
import { readFunctionSettings } from "../settings";
import { processBatch, type BatchRecord, type SessionizerDeps } from "./process-batch";

/**
 * Lambda entry for the Kinesis event source mapping (with ReportBatchItemFailures). The
 * clients and settings are made on the first call and reused while the container lives.
 */
let deps: SessionizerDeps | undefined;

function makeDeps(): SessionizerDeps {
  const settings = readFunctionSettings();
  const firehose = firehoseClient();
  return {
    store: new DynamoWindowStore(dynamoClient(), {
      tableName: settings.tableName,
      sweepPartitions: settings.sweepPartitions,
      dueIndexName: settings.dueIndexName,
    }),
    rows: new FirehoseRowSink(firehose, settings.rowsDeliveryStream),
    rejected: new FirehoseRejectedSink(firehose, settings.rejectedDeliveryStream),
    metrics: new PowertoolsMetrics(settings.metricsNamespace, settings.serviceName),
    clock: systemClock,
    windowSeconds: settings.windowSeconds,
    frozenLeaseMs: settings.frozenLeaseSeconds * 1000,
    log: (message, detail) => console.error(JSON.stringify({ level: "ERROR", message, ...detail })),
  };
}

/** Drops the cached clients and settings (tests, or a local pipeline that changes the environment). */
export function resetSessionizer(): void {
  deps = undefined;
}

export function toBatchRecord(record: KinesisStreamRecord): BatchRecord {
  const colon = record.eventID?.indexOf(":") ?? -1;
  return {
    shardId: colon > 0 ? record.eventID.slice(0, colon) : "unknown",
    sequenceNumber: record.kinesis.sequenceNumber,
    partitionKey: record.kinesis.partitionKey,
    arrivalMs: Math.round(record.kinesis.approximateArrivalTimestamp * 1000),
    data: Buffer.from(record.kinesis.data, "base64"),
  };
}

export async function handler(event: KinesisStreamEvent): Promise<KinesisStreamBatchResponse> {
  deps ??= makeDeps();
  const outcome = await processBatch((event.Records ?? []).map(toBatchRecord), deps);
  return { batchItemFailures: [...outcome.unfinished.values()].map((itemIdentifier) => ({ itemIdentifier })) };
}
