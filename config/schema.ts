import { z } from "zod";
import { TOMBSTONE_TTL_SECONDS } from "../functions/adapters/window-table";

/**
 * The one configuration of the project. The stacks, the Lambda functions (through the
 * environment the stacks give them), the load generator and the local pipeline all read
 * this, so names and the window length cannot drift apart.
 *
 * Ranges follow the seed's CloudFormation parameters where it had them.
 */

const name = (what: string) =>
  z
    .string()
    .min(3)
    .max(40)
    .regex(/^[a-z][a-z0-9-]*[a-z0-9]$/, `${what}: lower-case letters, digits and '-', starting with a letter`);

const bucketName = z
  .string()
  .min(3)
  .max(63)
  .regex(/^[a-z0-9][a-z0-9.-]*[a-z0-9]$/, "an S3 bucket name: lower-case letters, digits, '.' and '-'");

const prefix = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[a-z0-9][a-z0-9_-]*$/, "an S3 key prefix without slashes: lower-case letters, digits, '_' and '-'");

const awsRegion = z.string().regex(/^[a-z]{2}(-gov|-iso[a-z]*)?-[a-z]+-\d$/, "an AWS region such as us-east-1");

/** The retention periods CloudWatch Logs accepts (a subset: up to two years). */
export const LOG_RETENTION_DAYS = [1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731] as const;

export const SESSION_BASIS_SECONDS = { minute: 60, second: 30 } as const;

export const configSchema = z
  .object({
    /** Short project name; resource names are `<project>-<environment>-…`. */
    project: name("project").default("clickstream"),
    environment: name("environment").default("dev"),
    region: awsRegion.default("us-east-1"),
    tags: z.record(z.string().min(1).max(128), z.string().max(256)).default({}),

    state: z
      .object({
        /** The Terraform state bucket; the bootstrap stack creates it. */
        bucket: bucketName,
        keyPrefix: prefix.default("sessionization"),
      })
      .strict(),

    stream: z
      .object({
        name: z
          .string()
          .min(1)
          .max(128)
          .regex(/^[a-zA-Z0-9_.-]+$/, "a Kinesis stream name")
          .default("sesionesblog"),
        /** The seed used 1–2 provisioned shards; on-demand lets Kinesis scale itself. */
        mode: z.enum(["provisioned", "on-demand"]).default("provisioned"),
        shardCount: z.number().int().min(1).max(2).default(1),
        retentionHours: z.number().int().min(24).max(8760).default(24),
      })
      .strict()
      .prefault({}),

    lake: z
      .object({
        /** Omit to let AWS pick a unique name from `<project>-<environment>-lake-`. */
        bucketName: bucketName.optional(),
        rawPrefix: prefix.default("rawdata"),
        errorPrefix: prefix.default("errors"),
        athenaResultsPrefix: prefix.default("athena-results"),
        rawExpirationDays: z.number().int().min(1).max(3650).default(90),
        aggregatedTransitionDays: z.number().int().min(30).max(3650).default(30),
        errorExpirationDays: z.number().int().min(1).max(3650).default(30),
        athenaResultsExpirationDays: z.number().int().min(1).max(365).default(7),
      })
      .strict()
      .prefault({}),

    firehose: z
      .object({
        bufferIntervalSeconds: z.number().int().min(60).max(900).default(300),
        bufferSizeMB: z.number().int().min(1).max(128).default(5),
        /** Where the sessionized rows land (seed: `aggregated`). */
        destinationPrefix: prefix.default("aggregated"),
      })
      .strict()
      .prefault({}),

    session: z
      .object({
        /** Seed: `minute` = 60 s windows, `second` = 30 s windows. */
        basis: z.enum(["minute", "second"]).default("minute"),
        /** An explicit window length overrides `basis`. */
        windowSeconds: z.number().int().min(1).max(3600).optional(),
        /** The sweeper leaves a due window this long for a late-processed record before it claims it. */
        sweepGraceSeconds: z.number().int().min(0).max(300).default(10),
        /** The window table's due-time index is spread over this many partitions. */
        sweepPartitions: z.number().int().min(1).max(64).default(8),
      })
      .strict()
      .prefault({}),

    analytics: z
      .object({
        batchSize: z.number().int().min(1).max(10000).default(500),
        batchingWindowSeconds: z.number().int().min(0).max(300).default(1),
        maxRetryAttempts: z.number().int().min(0).max(10000).default(10),
        /**
         * At most the tombstones' lifetime: a batch retried later than that could find its keys'
         * dedupe positions expired and count its records twice.
         */
        maxRecordAgeSeconds: z.number().int().min(60).max(TOMBSTONE_TTL_SECONDS).default(3600),
        parallelizationFactor: z.number().int().min(1).max(10).default(1),
        memoryMB: z.number().int().min(128).max(10240).default(256),
        timeoutSeconds: z.number().int().min(10).max(900).default(60),
        logRetentionDays: z
          .number()
          .int()
          .refine((d) => (LOG_RETENTION_DAYS as readonly number[]).includes(d), {
            message: `one of the CloudWatch Logs retention values: ${LOG_RETENTION_DAYS.join(", ")}`,
          })
          .default(30),
        metricsNamespace: z.string().min(1).max(255).default("Sessionization"),
        /**
         * Alarm when the sessionizer's iterator age passes this. Omitted: the sweep grace (at least
         * 10 s), since a record processed later than the grace after its window's close may
         * open a second window instead of joining the first.
         */
        iteratorAgeAlarmSeconds: z.number().int().min(10).max(86400).optional(),
        /** Optional SNS topic ARN for alarm notifications. */
        alarmTopicArn: z.string().regex(/^arn:aws[a-z-]*:sns:/, "an SNS topic ARN").optional(),
      })
      .strict()
      .prefault({}),

    catalog: z
      .object({
        /** Glue database; defaults to `<project>_<environment>` with '-' as '_'. */
        databaseName: z
          .string()
          .regex(/^[a-z0-9_]{1,255}$/, "a Glue database name: lower-case letters, digits and '_'")
          .optional(),
        crawlerEnabled: z.boolean().default(false),
        crawlerSchedule: z.string().default("cron(0 * * * ? *)"),
        bytesScannedCutoffPerQuery: z.number().int().min(10_000_000).default(10_000_000_000),
        /** First year the partition projection covers. */
        projectionStartYear: z.number().int().min(2000).max(2100).default(2024),
      })
      .strict()
      .prefault({}),
  })
  .strict();

export type ConfigInput = z.input<typeof configSchema>;
type ParsedConfig = z.output<typeof configSchema>;

/** The validated config with the derived values every consumer needs. */
export interface SessionizationConfig extends ParsedConfig {
  /** `<project>-<environment>`: the prefix of every resource name. */
  readonly namePrefix: string;
  /** The stagger window length W in seconds. */
  readonly windowSeconds: number;
  readonly databaseName: string;
  readonly dashboardName: string;
  /** Where Firehose `rejected` writes the malformed records: `<errorPrefix>/rejected`. */
  readonly rejectedPrefix: string;
  readonly iteratorAgeAlarmSeconds: number;
}

export function deriveConfig(parsed: ParsedConfig): SessionizationConfig {
  const namePrefix = `${parsed.project}-${parsed.environment}`;
  return {
    ...parsed,
    namePrefix,
    windowSeconds: parsed.session.windowSeconds ?? SESSION_BASIS_SECONDS[parsed.session.basis],
    databaseName: parsed.catalog.databaseName ?? namePrefix.replace(/-/g, "_"),
    dashboardName: `Sessionization-${namePrefix}`,
    rejectedPrefix: `${parsed.lake.errorPrefix}/rejected`,
    iteratorAgeAlarmSeconds: parsed.analytics.iteratorAgeAlarmSeconds ?? Math.max(10, parsed.session.sweepGraceSeconds),
  };
}
