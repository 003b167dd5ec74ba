import { dynamoClient, firehoseClient } from "../adapters/clients";
import { DynamoWindowStore } from "../adapters/dynamodb-window-store";
import { FirehoseRowSink } from "../adapters/firehose-sink";
import { PowertoolsMetrics } from "../adapters/metrics";
import { systemClock, type Clock } from "../adapters/ports";
import { readFunctionSettings } from "../settings";
import { sweep, type SweepDeps, type SweepResult } from "./sweep";

/** Lambda entry for the one-minute schedule. Throws (so the Errors alarm sees it) when rows could not be delivered. */
let deps: SweepDeps | undefined;
let clock: Clock = systemClock;

function makeDeps(): SweepDeps {
  const settings = readFunctionSettings();
  return {
    store: new DynamoWindowStore(dynamoClient(), {
      tableName: settings.tableName,
      sweepPartitions: settings.sweepPartitions,
      dueIndexName: settings.dueIndexName,
    }),
    rows: new FirehoseRowSink(firehoseClient(), settings.rowsDeliveryStream),
    metrics: new PowertoolsMetrics(settings.metricsNamespace, settings.serviceName),
    sweepPartitions: settings.sweepPartitions,
    graceSeconds: settings.sweepGraceSeconds,
    frozenLeaseMs: settings.frozenLeaseSeconds * 1000,
    log: (message, detail) => console.error(JSON.stringify({ level: "ERROR", message, ...detail })),
  };
}

/** Drops the cached clients and settings; optionally sets the clock (the local pipeline's simulated time). */
export function resetSweeper(newClock: Clock = systemClock): void {
  deps = undefined;
  clock = newClock;
}

export async function handler(): Promise<SweepResult> {
  deps ??= makeDeps();
  const result = await sweep(deps, clock.now());
  if (result.due > 0) console.log(JSON.stringify({ level: "INFO", message: "sweep", ...result }));
  return result;
}
