/**
 * The parameter table of README.md and docs/infra.md, generated from the config schema (config/schema.ts):
 * key, type, default and allowed range come from the schema itself, the meaning from the
 * descriptions below (a test fails when a key has none, so a new parameter cannot go
 * undocumented). `npx tsx scripts/infra-docs.ts` rewrites the table in both files.
 */
import { readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { z } from "zod";
import { configSchema, LOG_RETENTION_DAYS } from "../config/schema";
import { PROJECT_ROOT } from "../modules/project";

export const DESCRIPTIONS: Record<string, string> = {
  project: "Short project name; resources are named `<project>-<environment>-…`",
  environment: "Environment name (dev, prod…); part of every name and of the state keys",
  region: "AWS region of every stack and of the state bucket (seed: us-east-1 only; any region works)",
  tags: "Tags on every resource (provider default tags)",
  "state.bucket": "Terraform state bucket (created by the `bootstrap` stack)",
  "state.keyPrefix": "State keys are `<keyPrefix>/<environment>/<stack>.tfstate`",
  "stream.name": "Kinesis stream name (seed: `sesionesblog`)",
  "stream.mode": "`provisioned` (shard count below) or `on-demand`",
  "stream.shardCount": "Shards of a provisioned stream (seed: 1–2)",
  "stream.retentionHours": "Stream retention",
  "lake.bucketName": "Data lake bucket; omitted: AWS picks a unique `<project>-<environment>-lake-…` name",
  "lake.rawPrefix": "Prefix of the raw copy of every record (Firehose `raw`)",
  "lake.errorPrefix": "Prefix of Firehose error output and rejected records",
  "lake.athenaResultsPrefix": "Prefix of Athena query results",
  "lake.rawExpirationDays": "Raw records expire after",
  "lake.aggregatedTransitionDays": "Session rows move to STANDARD_IA after",
  "lake.errorExpirationDays": "Error output and rejected records expire after",
  "lake.athenaResultsExpirationDays": "Athena results expire after",
  "firehose.bufferIntervalSeconds": "Firehose buffer interval (seed parameter)",
  "firehose.bufferSizeMB": "Firehose buffer size (seed parameter)",
  "firehose.destinationPrefix": "Prefix of the sessionized rows (seed: `aggregated`)",
  "session.basis": "Stagger window basis: `minute` = 60 s, `second` = 30 s (seed)",
  "session.windowSeconds": "Explicit window length W; overrides `basis`",
  "session.sweepGraceSeconds": "The sweeper leaves a due window this long before it emits it",
  "session.sweepPartitions": "Partitions of the window table's due-time index",
  "analytics.batchSize": "Event source mapping batch size",
  "analytics.batchingWindowSeconds": "Event source mapping batching window",
  "analytics.maxRetryAttempts": "Retries of a failing batch before it goes to the dead-letter queue",
  "analytics.maxRecordAgeSeconds": "Records older than this go to the dead-letter queue (at most the window table's one-day tombstone lifetime, so a retry is never counted twice)",
  "analytics.parallelizationFactor": "Concurrent batches per shard",
  "analytics.memoryMB": "Memory of both functions",
  "analytics.timeoutSeconds": "Timeout of both functions",
  "analytics.logRetentionDays": "Retention of every log group (functions, Firehose)",
  "analytics.metricsNamespace": "CloudWatch namespace of the EMF metrics `session_duration`, `session_events`",
  "analytics.iteratorAgeAlarmSeconds": "Iterator age alarm threshold; omitted: the sweep grace (at least 10 s), the lag past which a record may miss its window",
  "analytics.alarmTopicArn": "SNS topic the alarms notify (optional)",
  "catalog.databaseName": "Glue database; default `<project>_<environment>` with `-` as `_`",
  "catalog.crawlerEnabled": "Create the seed's Glue crawler (catalog target: adds partitions only)",
  "catalog.crawlerSchedule": "Crawler schedule",
  "catalog.bytesScannedCutoffPerQuery": "Athena workgroup per-query scan limit (bytes)",
  "catalog.projectionStartYear": "First year of the partition projection (up to 2100)",
};

interface JsonSchema {
  type?: string | string[];
  properties?: Record<string, JsonSchema>;
  required?: string[];
  default?: unknown;
  minimum?: number;
  maximum?: number;
  minLength?: number;
  maxLength?: number;
  enum?: unknown[];
  pattern?: string;
}

export interface Parameter {
  key: string;
  type: string;
  default: string;
  range: string;
  required: boolean;
}

function range(key: string, s: JsonSchema): string {
  if (key === "analytics.logRetentionDays") return `one of ${LOG_RETENTION_DAYS.join(", ")}`;
  if (s.enum) return s.enum.map((v) => `\`${String(v)}\``).join(" \\| ");
  if (s.minimum !== undefined || s.maximum !== undefined) {
    const max = s.maximum === undefined || s.maximum >= Number.MAX_SAFE_INTEGER ? "…" : s.maximum;
    return `${s.minimum ?? "…"}–${max}`;
  }
  if (s.minLength !== undefined || s.maxLength !== undefined) return `${s.minLength ?? 0}–${s.maxLength ?? "…"} chars${s.pattern ? ", pattern" : ""}`;
  if (s.pattern) return "pattern";
  return "";
}

export function parameters(): Parameter[] {
  const root = z.toJSONSchema(configSchema, { io: "input", unrepresentable: "any" }) as JsonSchema;
  const out: Parameter[] = [];
  const walk = (schema: JsonSchema, prefix: string, requiredHere: string[]) => {
    for (const [name, prop] of Object.entries(schema.properties ?? {})) {
      const key = prefix ? `${prefix}.${name}` : name;
      if (prop.properties) {
        walk(prop, key, prop.required ?? []);
        continue;
      }
      out.push({
        key,
        type: Array.isArray(prop.type) ? prop.type.join("\\|") : prop.type ?? "",
        default: prop.default === undefined ? "—" : `\`${JSON.stringify(prop.default)}\``,
        range: range(key, prop),
        required: requiredHere.includes(name) && prop.default === undefined,
      });
    }
  };
  walk(root, "", root.required ?? []);
  return out;
}

export function renderParameterTable(): string {
  const rows = parameters().map((p) => {
    const description = DESCRIPTIONS[p.key];
    if (!description) throw new Error(`scripts/infra-docs.ts: no description for config key ${p.key}`);
    return `| \`${p.key}\`${p.required ? " (required)" : ""} | ${p.type} | ${p.default} | ${p.range} | ${description} |`;
  });
  return ["| key | type | default | allowed | meaning |", "| --- | --- | --- | --- | --- |", ...rows].join("\n");
}

/** The files that carry the generated table between the markers. */
export const DOC_FILES = [path.join(PROJECT_ROOT, "README.md"), path.join(PROJECT_ROOT, "docs", "infra.md")];
const BEGIN = "<!-- parameters:begin (generated by scripts/infra-docs.ts) -->";
const END = "<!-- parameters:end -->";

export function withTable(doc: string, file: string): string {
  const i = doc.indexOf(BEGIN);
  const j = doc.indexOf(END);
  if (i < 0 || j < i) throw new Error(`${file}: missing the ${BEGIN} … ${END} markers`);
  return `${doc.slice(0, i + BEGIN.length)}\n${renderParameterTable()}\n${doc.slice(j)}`;
}

if (require.main === module) {
  for (const file of DOC_FILES) {
    writeFileSync(file, withTable(readFileSync(file, "utf8"), file));
    console.log(`${path.relative(process.cwd(), file)}: parameter table updated (${parameters().length} keys)`);
  }
}
