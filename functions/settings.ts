import * as z from "zod";
import type { SessionizationConfig } from "../config/schema";

/**
 * What the Lambda functions read from their environment. The analytics stack writes these
 * variables from the shared config (`functionEnvironment`), the local pipeline sets the same
 * ones, and the handlers read them back (`readFunctionSettings`): one contract, both ways.
 */
export const ENV = {
  windowSeconds: "SESSION_WINDOW_SECONDS",
  sweepGraceSeconds: "SWEEP_GRACE_SECONDS",
  sweepPartitions: "SWEEP_PARTITIONS",
  frozenLeaseSeconds: "FROZEN_LEASE_SECONDS",
  tableName: "WINDOW_TABLE_NAME",
  dueIndexName: "WINDOW_DUE_INDEX_NAME",
  rowsDeliveryStream: "ROWS_DELIVERY_STREAM_NAME",
  rejectedDeliveryStream: "REJECTED_DELIVERY_STREAM_NAME",
  metricsNamespace: "POWERTOOLS_METRICS_NAMESPACE",
  serviceName: "POWERTOOLS_SERVICE_NAME",
} as const;

export type FunctionSettingName = keyof typeof ENV;

/** 2 × the functions' default timeout (config `analytics.timeoutSeconds`, 60 s). */
const DEFAULT_FROZEN_LEASE_SECONDS = 120;

const settingsSchema = z.object({
  windowSeconds: z.coerce.number().int().min(1).max(3600),
  sweepGraceSeconds: z.coerce.number().int().min(0).max(300),
  sweepPartitions: z.coerce.number().int().min(1).max(64),
  /**
   * How long a freeze (a window closed for emission) belongs to its freezer: the other function
   * re-emits it only after this (the freezer crashed). Absent in an environment written before
   * the setting existed: 2 × the default 60 s timeout.
   */
  frozenLeaseSeconds: z.coerce.number().int().min(1).max(7200).default(DEFAULT_FROZEN_LEASE_SECONDS),
  tableName: z.string().min(3),
  dueIndexName: z.string().min(3),
  rowsDeliveryStream: z.string().min(1),
  rejectedDeliveryStream: z.string().min(1),
  metricsNamespace: z.string().min(1),
  serviceName: z.string().min(1),
});

export type FunctionSettings = z.infer<typeof settingsSchema>;
/** Settings as written: the ones with a default may be left out. */
export type FunctionSettingsInput = Omit<FunctionSettings, "frozenLeaseSeconds"> & { frozenLeaseSeconds?: number };

/** The due-time index of the window table (the sweeper queries it instead of scanning). */
export const DUE_INDEX_NAME = "by-due-time";

/** The resource names the functions need, as the stacks (or the local pipeline) created them. */
export interface FunctionResourceNames {
  tableName: string;
  rowsDeliveryStream: string;
  rejectedDeliveryStream: string;
}

export function functionSettings(config: SessionizationConfig, names: FunctionResourceNames): FunctionSettings {
  return {
    windowSeconds: config.windowSeconds,
    sweepGraceSeconds: config.session.sweepGraceSeconds,
    sweepPartitions: config.session.sweepPartitions,
    // A freezer that has not finished within twice its function timeout has crashed.
    frozenLeaseSeconds: 2 * config.analytics.timeoutSeconds,
    dueIndexName: DUE_INDEX_NAME,
    metricsNamespace: config.analytics.metricsNamespace,
    serviceName: config.namePrefix,
    ...names,
  };
}

/** Settings as environment variables (values are strings; tokens pass through untouched). */
export function functionEnvironment(settings: FunctionSettingsInput): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of Object.keys(ENV) as FunctionSettingName[]) if (settings[name] !== undefined) env[ENV[name]] = String(settings[name]);
  return env;
}

/** Reads and validates the settings; a missing or bad variable is named in the error. */
export function readFunctionSettings(env: NodeJS.ProcessEnv = process.env): FunctionSettings {
  const raw = Object.fromEntries((Object.keys(ENV) as FunctionSettingName[]).map((name) => [name, env[ENV[name]]]));
  const result = settingsSchema.safeParse(raw);
  if (!result.success) {
    const problems = result.error.issues.map((i) => `${ENV[i.path[0] as FunctionSettingName]}: ${i.message}`);
    throw new Error(`Invalid function environment:\n  ${problems.join("\n  ")}`);
  }
  return result.data;
}
