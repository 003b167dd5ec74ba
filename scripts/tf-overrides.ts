/**
 * The Terraform override files tf:check writes next to a synthesized stack
 * (`*_override.tf.json` merge into the stack's blocks; the synthesized JSON itself is never edited):
 * the provider version of the local mirror, an offline provider pointed at 127.0.0.1, the S3
 * backend and the `terraform_remote_state` sources pointed at the S3 emulator, and, for the
 * emulator apply of an upstream stack, what the emulators cannot do.
 */
import { WINDOW_TTL_ATTRIBUTE } from "../functions/adapters/window-table";

export interface SynthesizedStack {
  terraform?: { backend?: Record<string, Record<string, unknown>>; required_providers?: Record<string, unknown> };
  provider?: Record<string, unknown>;
  resource?: Record<string, Record<string, Record<string, unknown>>>;
  data?: { terraform_remote_state?: Record<string, { backend: string; config: Record<string, unknown> }> } & Record<string, unknown>;
  output?: Record<string, { value: unknown }>;
}

/** Services the stacks use; the ones without an emulator point at a closed port (nothing may call them). */
export const PROVIDER_SERVICES = [
  "athena",
  "cloudwatch",
  "dynamodb",
  "events",
  "firehose",
  "glue",
  "iam",
  "kinesis",
  "kms",
  "lambda",
  "logs",
  "s3",
  "sqs",
  "sts",
] as const;

export interface Endpoints {
  readonly s3: string;
  readonly kinesis: string;
  readonly dynamodb: string;
  /** For every other service: an address where nothing listens. */
  readonly unreachable: string;
}

/** Fake credentials: the emulators accept any; s3rver's defaults are S3RVER/S3RVER. */
export const CHECK_CREDENTIALS = { accessKey: "S3RVER", secretKey: "S3RVER" } as const;

const SKIP_FLAGS = {
  skip_credentials_validation: true,
  skip_requesting_account_id: true,
  skip_metadata_api_check: true,
  skip_region_validation: true,
} as const;

export function providerVersionOverride(version: string): object {
  return { terraform: { required_providers: { aws: { source: "hashicorp/aws", version } } } };
}

export function offlineProviderOverride(endpoints: Endpoints): object {
  const map: Record<string, string> = {};
  for (const service of PROVIDER_SERVICES) {
    map[service] = service === "s3" || service === "kinesis" || service === "dynamodb" ? endpoints[service] : endpoints.unreachable;
  }
  return {
    provider: {
      aws: {
        access_key: CHECK_CREDENTIALS.accessKey,
        secret_key: CHECK_CREDENTIALS.secretKey,
        ...SKIP_FLAGS,
        s3_use_path_style: true,
        max_retries: 1,
        endpoints: [map],
      },
    },
  };
}

/** S3 backend settings that reach an S3 emulator (merged into a copy of the stack's own settings). */
export function emulatedS3Settings(s3Endpoint: string): Record<string, unknown> {
  return {
    endpoints: { s3: s3Endpoint },
    use_path_style: true,
    access_key: CHECK_CREDENTIALS.accessKey,
    secret_key: CHECK_CREDENTIALS.secretKey,
    skip_s3_checksum: true,
    ...SKIP_FLAGS,
  };
}

/**
 * The stack's S3 backend (same bucket, key, encryption and `use_lockfile`) and every
 * `terraform_remote_state` it reads, pointed at the S3 emulator. An override backend block
 * replaces the whole block, so the original settings are copied in.
 */
export function emulatedStateOverride(stack: SynthesizedStack, s3Endpoint: string): object {
  const override: { terraform?: object; data?: object } = {};
  const s3 = stack.terraform?.backend?.s3;
  if (s3) override.terraform = { backend: { s3: { ...s3, ...emulatedS3Settings(s3Endpoint) } } };
  const remote = stack.data?.terraform_remote_state ?? {};
  const sources: Record<string, object> = {};
  for (const [name, source] of Object.entries(remote)) {
    if (source.backend !== "s3") throw new Error(`remote state ${name}: backend ${source.backend} is not handled`);
    sources[name] = { config: { ...source.config, ...emulatedS3Settings(s3Endpoint) } };
  }
  if (Object.keys(sources).length > 0) override.data = { terraform_remote_state: sources };
  return override;
}

/** `aws_x.name` addresses a Terraform expression string refers to (data sources excluded). */
export function referencedResources(value: unknown): string[] {
  const text = JSON.stringify(value);
  return [...text.matchAll(/\$\{([a-z0-9_]+\.[A-Za-z0-9_-]+)/g)].map((m) => m[1]).filter((a) => !a.startsWith("data.") && !a.startsWith("var.") && !a.startsWith("local."));
}

/**
 * For a targeted apply against emulators: outputs that read resources outside the targets get
 * a recorded fixture value (the remote state then carries real values where the emulators made
 * the resource, fixtures where none can).
 */
export function outputFixtures(stack: SynthesizedStack, targets: readonly string[], region: string): { override: object; fixtures: string[] } {
  const output: Record<string, { value: string }> = {};
  for (const [name, o] of Object.entries(stack.output ?? {})) {
    const refs = referencedResources(o.value);
    const missing = refs.filter((r) => !targets.includes(r));
    if (missing.length === 0) continue;
    const [type, id] = missing[0].split(".");
    const service = type.replace(/^aws_/, "").split("_")[0];
    const fixture = /arn/i.test(name) ? `arn:aws:${service}:${region}:000000000000:fixture/${id}` : `fixture-${id}`;
    // A targeted apply writes only outputs that depend on a target: tie the constant to the first one.
    output[name] = { value: targets.length ? `\${${targets[0]}.id == "" ? "${fixture}" : "${fixture}"}` : fixture };
  }
  return { override: Object.keys(output).length ? { output } : {}, fixtures: Object.keys(output) };
}

/**
 * TTL on the window table, from the synthesized JSON: dynalite cannot enable TTL (no
 * UpdateTimeToLive), so the emulator apply drops the block and the check looks at what
 * `terraform validate` and `plan` accepted instead.
 */
export function checkWindowTableTtl(analytics: SynthesizedStack): string {
  const table = analytics.resource?.aws_dynamodb_table?.windows as { ttl?: { attribute_name?: string; enabled?: boolean } } | undefined;
  if (table?.ttl?.attribute_name !== WINDOW_TTL_ATTRIBUTE || table.ttl.enabled !== true) {
    throw new Error(`analytics: the window table must enable TTL on ${WINDOW_TTL_ATTRIBUTE} (the sweeper's tombstones); synthesized ttl: ${JSON.stringify(table?.ttl)}`);
  }
  return `analytics: TTL on ${WINDOW_TTL_ATTRIBUTE} enabled in the synthesized table (validated and planned; not applied: dynalite has no UpdateTimeToLive)`;
}
