import { z } from "zod";
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
  tableName: "WINDOW_TABLE_NAME",
  dueIndexName: "WINDOW_DUE_INDEX_NAME",
  rowsDeliveryStream: "ROWS_DELIVERY_STREAM_NAME",
  rejectedDeliveryStream: "REJECTED_DELIVERY_STREAM_NAME",
  metricsNamespace: "POWERTOOLS_METRICS_NAMESPACE",
  serviceName: "POWERTOOLS_SERVICE_NAME",
} as const;

export type FunctionSettingName = keyof typeof ENV;

const settingsSchema = z.object({
  windowSeconds: z.coerce.number().int().min(1).max(3600),
  sweepGraceSeconds: z.coerce.number().int().min(0).max(300),
  sweepPartitions: z.coerce.number().int().min(1).max(64),
  tableName: z.string().min(3),
  dueIndexName: z.string().min(3),
  rowsDeliveryStream: z.string().min(1),
  rejectedDeliveryStream: z.string().min(1),
  metricsNamespace: z.string().min(1),
  serviceName: z.string().min(1),
});

export type FunctionSettings = z.infer<typeof settingsSchema>;

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
    dueIndexName: DUE_INDEX_NAME,
    metricsNamespace: config.analytics.metricsNamespace,
    serviceName: config.namePrefix,
    ...names,
  };
}

/** Settings as environment variables (values are strings; tokens pass through untouched). */
export function functionEnvironment(settings: FunctionSettings): Record<string, string> {
  const env: Record<string, string> = {};
  for (const name of Object.keys(ENV) as FunctionSettingName[]) env[ENV[name]] = String(settings[name]);
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
