/**
 * `npm run tf:check`: the Terraform tier, offline.
 *
 *  1. synthesize every stack into .tf-check/cdktf.out (the config of `loadConfig()`);
 *  2. per stack, with a project-local CLI config (the AWS provider from the machine's
 *     filesystem mirror, found at run time) and the provider version overridden to the mirror's
 *     (the bindings pin 6.25.0; this check only): `init -backend=false`, `validate`;
 *  3. start s3rver (state), kinesalite and dynalite on 127.0.0.1, then in dependency order:
 *     `init` with the S3 backend on s3rver (use_lockfile on), `plan` with fake credentials, the
 *     provider's skip flags and every endpoint at 127.0.0.1, and for upstream stacks an
 *     `apply -target` of what the emulators support, so the downstream plans read real
 *     remote state (terraform_remote_state) from the S3 backend. Outputs of resources no
 *     emulator can create (KMS keys, Firehose) are recorded fixtures in that state.
 *
 * Terraform or the provider mirror absent: one line saying so; exit 1 when CI=true (CI must
 * not pass without the tier), else 0.
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { loadConfig } from "../config/load";
import type { SessionizationConfig } from "../config/schema";
import { startDynalite, startKinesalite, startS3rver, type RunningEmulator } from "../local/emulators";
import { windowTableDefinition } from "../functions/adapters/window-table";
import { buildFunctionPackages } from "../modules/function-code";
import { buildApp, DEPLOY_ORDER, PROJECT_ROOT } from "../stacks/app";
import {
  checkWindowTableTtl,
  emulatedStateOverride,
  offlineProviderOverride,
  outputFixtures,
  providerVersionOverride,
  type Endpoints,
  type SynthesizedStack,
} from "./tf-overrides";
import {
  applySummary,
  CHECK_PROVIDER_VERSION,
  findProviderMirror,
  findTerraform,
  inParallel,
  planSummary,
  readJson,
  terraform,
  terraformVersion,
  TerraformError,
  writeCliConfig,
  type Runner,
} from "./tf-terraform";

type StackName = (typeof DEPLOY_ORDER)[number];

/**
 * What the emulators can create of each upstream stack, and why not more:
 * s3rver has buckets and objects but no versioning, encryption, public access block, ownership,
 * lifecycle or policy APIs; there is no KMS or Firehose emulator here; kinesalite lacks
 * UpdateStreamMode and stream encryption with a KMS key.
 */
export const EMULATOR_APPLY: Partial<Record<StackName, { targets: string[]; resourceOverride?: object; note: string }>> = {
  bootstrap: { targets: ["aws_s3_bucket.state_bucket"], note: "the state bucket, in s3rver" },
  lake: { targets: ["aws_s3_bucket.data_bucket"], note: "the lake bucket, in s3rver" },
  ingest: {
    targets: ["aws_kinesis_stream.stream"],
    // No KMS emulator, and kinesalite has no UpdateStreamMode: the emulated stream is unencrypted, mode implicit.
    resourceOverride: { resource: { aws_kinesis_stream: { stream: { encryption_type: "NONE", kms_key_id: null, stream_mode_details: [] } } } },
    note: "the Kinesis stream, in kinesalite (without its KMS key)",
  },
  // No stack reads analytics' state; applying the table checks the mapped definition against dynalite.
  // dynalite has no UpdateContinuousBackups and no UpdateTimeToLive (the provider's create fails with
  // UnknownOperationException; dynalite's DescribeTimeToLive always answers DISABLED): the emulated
  // table goes without PITR and with `ttl { enabled = false }` (an override block replaces the
  // stack's; disabled, the provider makes no UpdateTimeToLive call). checkWindowTableTtl() checks
  // the synthesized ttl block instead.
  analytics: {
    targets: ["aws_dynamodb_table.windows"],
    resourceOverride: { resource: { aws_dynamodb_table: { windows: { point_in_time_recovery: { enabled: false }, ttl: { enabled: false } } } } },
    note: "the DynamoDB window table, in dynalite (without point-in-time recovery, TTL disabled)",
  },
};
const DOWNSTREAM_OF: Record<StackName, StackName[]> = {
  bootstrap: ["lake"],
  lake: ["ingest", "catalog"],
  ingest: ["analytics"],
  analytics: [],
  catalog: [],
};

const CHECK_DIR = path.join(PROJECT_ROOT, ".tf-check");
const MAX_PARALLEL = Number(process.env.TF_CHECK_PARALLEL ?? 2);

function skip(message: string): never {
  const ci = process.env.CI === "true";
  console.log(`tf:check: SKIPPED — ${message}${ci ? " (CI=true: failing)" : " (set CI=true to make this fail)"}`);
  process.exit(ci ? 1 : 0);
}

const write = (file: string, json: object) => writeFileSync(file, `${JSON.stringify(json, null, 2)}\n`);

async function main(): Promise<void> {
  const t0 = Date.now();
  const tfBinary = findTerraform();
  if (!tfBinary) skip("terraform is not on PATH; the Terraform tier (init/validate/plan of every stack) did not run");
  const mirror = findProviderMirror();
  if (!mirror) skip("no registry.terraform.io/hashicorp/aws filesystem mirror on this machine; terraform cannot install the AWS provider offline");
  const providerVersion = process.env.TF_CHECK_PROVIDER_VERSION ?? (mirror.versions.includes(CHECK_PROVIDER_VERSION) ? CHECK_PROVIDER_VERSION : mirror.versions[mirror.versions.length - 1]);
  console.log(`tf:check: terraform ${terraformVersion(tfBinary)} (${tfBinary}); aws provider ${providerVersion} from the mirror at ${mirror.root}`);

  rmSync(CHECK_DIR, { recursive: true, force: true });
  const logDir = path.join(CHECK_DIR, "logs");
  mkdirSync(logDir, { recursive: true });
  const cliConfig = path.join(CHECK_DIR, "terraform.rc");
  writeCliConfig(cliConfig, mirror.root);

  // 1. synthesize
  let config: SessionizationConfig;
  try {
    config = loadConfig();
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
  const tSynth = Date.now();
  const outdir = path.join(CHECK_DIR, "cdktf.out");
  buildApp(config, { outdir, bootstrapStateFile: path.join(CHECK_DIR, "bootstrap.tfstate"), functionCode: await buildFunctionPackages() }).app.synth();
  console.log(`synth: ${DEPLOY_ORDER.length} stacks in ${((Date.now() - tSynth) / 1000).toFixed(1)} s`);
  const dirOf = (s: StackName) => path.join(outdir, "stacks", s);
  const json = Object.fromEntries(DEPLOY_ORDER.map((s) => [s, readJson<SynthesizedStack>(path.join(dirOf(s), "cdk.tf.json"))])) as Record<StackName, SynthesizedStack>;
  for (const s of DEPLOY_ORDER) {
    if (json[s].resource?.aws_kinesis_analytics_application || json[s].resource?.aws_kinesisanalyticsv2_application) {
      throw new Error(`${s}: synthesizes a Kinesis Data Analytics application; that service is discontinued`);
    }
  }

  const runner: Runner = {
    terraform: tfBinary,
    logDir,
    steps: [],
    env: {
      ...process.env,
      TF_CLI_CONFIG_FILE: cliConfig,
      TF_IN_AUTOMATION: "1",
      TF_INPUT: "0",
      CHECKPOINT_DISABLE: "1",
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
      AWS_EC2_METADATA_DISABLED: "true",
      AWS_CONFIG_FILE: "/dev/null",
      AWS_SHARED_CREDENTIALS_FILE: "/dev/null",
    },
  };
  delete runner.env.AWS_PROFILE;
  const tf = (s: StackName, step: string, args: string[], summarize?: (out: string) => string | undefined) =>
    terraform(runner, s, step, dirOf(s), [...args, "-no-color"], summarize);

  // 2. init (no backend) + validate, every stack
  for (const s of DEPLOY_ORDER) write(path.join(dirOf(s), "check_version_override.tf.json"), providerVersionOverride(providerVersion));
  await inParallel(DEPLOY_ORDER, MAX_PARALLEL, async (s) => {
    await tf(s, "init", ["init", "-backend=false", "-input=false"]);
    await tf(s, "validate", ["validate"], (out) => (out.includes("Success!") ? "valid" : undefined));
  });

  // 3. emulators, then plans in dependency order with real remote state
  const s3dir = path.join(CHECK_DIR, "s3rver");
  const emulators: RunningEmulator[] = [];
  const notes: string[] = [];
  const lockNotes: string[] = [];
  current = { runner, notes };
  try {
    mkdirSync(s3dir, { recursive: true });
    emulators.push(await startS3rver(s3dir), await startKinesalite(), await startDynalite());
    const [s3, kinesis, dynamodb] = emulators;
    const endpoints: Endpoints = { s3: s3.endpoint, kinesis: kinesis.endpoint, dynamodb: dynamodb.endpoint, unreachable: "http://127.0.0.1:1" };
    console.log(`emulators: s3rver ${s3.endpoint}, kinesalite ${kinesis.endpoint}, dynalite ${dynamodb.endpoint}`);

    const planAndApply = async (s: StackName): Promise<void> => {
      const dir = dirOf(s);
      write(path.join(dir, "check_offline_override.tf.json"), offlineProviderOverride(endpoints));
      write(path.join(dir, "check_state_override.tf.json"), emulatedStateOverride(json[s], s3.endpoint));
      await tf(s, "init-backend", ["init", "-input=false", "-reconfigure"]);
      // use_lockfile: the backend keeps `<key>.tflock` in the state bucket while it holds the lock.
      const backend = json[s].terraform?.backend?.s3 as { bucket: string; key: string } | undefined;
      const lockFile = backend && path.join(s3dir, backend.bucket, `${backend.key}.tflock._S3rver_object`);
      let lockSeen = false;
      const watch = lockFile ? setInterval(() => (lockSeen ||= existsSync(lockFile)), 20) : undefined;
      try {
        await tf(s, "plan", ["plan", "-input=false", "-lock-timeout=10s", "-out=check.tfplan"], planSummary);
      } finally {
        if (watch) clearInterval(watch);
      }
      if (lockFile) {
        if (!lockSeen) throw new Error(`${s}: no ${backend!.key}.tflock appeared in the state bucket during plan: use_lockfile is not in effect`);
        if (existsSync(lockFile)) throw new Error(`${s}: the state lock ${backend!.key}.tflock was not released`);
        lockNotes.push(s);
      }
      const apply = EMULATOR_APPLY[s];
      if (apply) {
        // Only state that another stack reads needs fixtures for the outputs no emulator can produce.
        const fixtures = DOWNSTREAM_OF[s].length > 0 ? outputFixtures(json[s], apply.targets, config.region) : { override: {}, fixtures: [] };
        // s3rver has no bucket tagging: the emulated resources go without the default tags.
        const override = { ...(apply.resourceOverride ?? {}), ...fixtures.override, provider: { aws: { default_tags: [{ tags: {} }] } } };
        write(path.join(dir, "check_emulator_override.tf.json"), override);
        await tf(s, "apply", ["apply", "-input=false", "-auto-approve", ...apply.targets.map((t) => `-target=${t}`)], applySummary);
        rmSync(path.join(dir, "check_emulator_override.tf.json"));
        if (s === "analytics") notes.push(await compareWindowTable(dynamodb.endpoint, config), checkWindowTableTtl(json.analytics));
        notes.push(`${s}: applied ${apply.note}${fixtures.fixtures.length ? `; recorded fixtures for outputs ${fixtures.fixtures.join(", ")}` : ""}`);
      }
    };
    const chain = async (s: StackName): Promise<void> => {
      await planAndApply(s);
      await inParallel(DOWNSTREAM_OF[s], MAX_PARALLEL, chain);
    };
    await chain("bootstrap");
    notes.push(
      `use_lockfile: ${lockNotes.join(", ")} wrote <key>.tflock to the state bucket during plan and removed it after (s3rver ignores If-None-Match, so lock contention itself is not exercised here)`,
    );
  } finally {
    for (const e of emulators.reverse()) await e.stop().catch(() => undefined);
  }

  report(runner, notes);
  console.log("");
  console.log("review summary (what each plan adds, by resource type):");
  for (const st of DEPLOY_ORDER) {
    const counts = Object.entries(json[st].resource ?? {}).map(([type, byName]) => `${type.replace(/^aws_/, "")}×${Object.keys(byName).length}`);
    console.log(`  ${st.padEnd(10)} ${counts.join(", ")}`);
  }
  console.log(`tf:check: OK — ${DEPLOY_ORDER.length} stacks validated and planned in ${((Date.now() - t0) / 1000).toFixed(1)} s (logs in ${path.relative(process.cwd(), logDir)})`);
}

/** The table Terraform made in dynalite against the definition the functions and the local pipeline use. */
async function compareWindowTable(endpoint: string, config: SessionizationConfig): Promise<string> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true"; // the lockfile pins the SDK (NOTES)
  const { DynamoDBClient, DescribeTableCommand } = await import("@aws-sdk/client-dynamodb");
  const client = new DynamoDBClient({ endpoint, region: config.region, credentials: { accessKeyId: "local", secretAccessKey: "local" } });
  const want = windowTableDefinition(`${config.namePrefix}-windows`);
  try {
    const { Table: got } = await client.send(new DescribeTableCommand({ TableName: want.TableName }));
    const norm = (x: unknown) => JSON.stringify(x, (_k, v) => (Array.isArray(v) ? [...v].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))) : v));
    const shape = (t: { KeySchema?: unknown; AttributeDefinitions?: unknown; GlobalSecondaryIndexes?: { IndexName?: string; KeySchema?: unknown; Projection?: unknown }[] }) => ({
      keys: norm(t.KeySchema),
      attributes: norm(t.AttributeDefinitions),
      indexes: norm((t.GlobalSecondaryIndexes ?? []).map((g) => ({ IndexName: g.IndexName, KeySchema: g.KeySchema, Projection: g.Projection }))),
    });
    const a = shape(got ?? {});
    const b = shape(want);
    if (a.keys !== b.keys || a.attributes !== b.attributes || a.indexes !== b.indexes || got?.BillingModeSummary?.BillingMode !== want.BillingMode) {
      throw new Error(`analytics: the window table Terraform created differs from windowTableDefinition():\n  got  ${JSON.stringify(a)}\n  want ${JSON.stringify(b)}`);
    }
    return `analytics: the window table created by Terraform in dynalite matches windowTableDefinition() (keys, attributes, ${want.GlobalSecondaryIndexes?.[0]?.IndexName}, ${want.BillingMode})`;
  } finally {
    client.destroy();
  }
}

let current: { runner: Runner; notes: string[] } | undefined;

function report(runner: Runner, notes: string[]): void {
  console.log("");
  console.log("stack       step          seconds  result");
  for (const s of DEPLOY_ORDER) {
    for (const step of runner.steps.filter((x) => x.stack === s)) {
      console.log(`${s.padEnd(11)} ${step.step.padEnd(13)} ${step.seconds.toFixed(1).padStart(7)}  ${step.ok ? step.summary ?? "ok" : "FAILED"}`);
    }
  }
  for (const n of notes) console.log(`note: ${n}`);
}

main().catch((err) => {
  if (current) report(current.runner, current.notes);
  console.error(err instanceof TerraformError ? err.message : err);
  console.error("tf:check: FAILED");
  process.exit(1);
});

