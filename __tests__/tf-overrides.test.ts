import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { checkWindowTableTtl, emulatedStateOverride, offlineProviderOverride, outputFixtures, PROVIDER_SERVICES, providerVersionOverride, referencedResources } from "../scripts/tf-overrides";
import { findProviderMirror, writeCliConfig } from "../scripts/tf-terraform";
import { WINDOW_TTL_ATTRIBUTE } from "../functions/adapters/window-table";
import { SCRATCH, stubFunctionCode, synthesize, useProjectTmp, removeScratch, type SynthesizedApp } from "../stacks/testing";

/** The override files tf:check writes (the terraform runs themselves are `npm run tf:check`). */
useProjectTmp();
afterAll(removeScratch);

let s: SynthesizedApp;
beforeAll(async () => {
  s = await synthesize("dev", { functionCode: await stubFunctionCode() });
});

test("the provider version is overridden for the check only (the synthesized JSON keeps the bindings' pin)", () => {
  expect(providerVersionOverride("5.100.0")).toEqual({ terraform: { required_providers: { aws: { source: "hashicorp/aws", version: "5.100.0" } } } });
  expect(s.lake.terraform.required_providers.aws).toMatchObject({ version: "6.25.0" });
});

test("the offline provider: fake credentials, skip flags, every service at 127.0.0.1", () => {
  const o = offlineProviderOverride({ s3: "http://127.0.0.1:1001", kinesis: "http://127.0.0.1:1002", dynamodb: "http://127.0.0.1:1003", unreachable: "http://127.0.0.1:1" }) as any;
  const aws = o.provider.aws;
  expect(aws).toMatchObject({ skip_credentials_validation: true, skip_requesting_account_id: true, skip_metadata_api_check: true, s3_use_path_style: true });
  expect(Object.keys(aws.endpoints[0]).sort()).toEqual([...PROVIDER_SERVICES].sort());
  for (const url of Object.values(aws.endpoints[0]) as string[]) expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  expect(aws.endpoints[0]).toMatchObject({ s3: "http://127.0.0.1:1001", kinesis: "http://127.0.0.1:1002", dynamodb: "http://127.0.0.1:1003", iam: "http://127.0.0.1:1" });
  // Every service a synthesized resource belongs to has an endpoint.
  const services = new Set<string>();
  for (const stack of [s.bootstrap, s.lake, s.ingest, s.analytics, s.catalog]) {
    for (const type of Object.keys(stack.resource)) services.add(type.replace(/^aws_/, "").split("_")[0]);
  }
  const alias: Record<string, string> = { cloudwatch: "cloudwatch", kinesis: "kinesis", lambda: "lambda", s3: "s3", dynamodb: "dynamodb", sqs: "sqs", iam: "iam", glue: "glue", athena: "athena", kms: "kms" };
  for (const svc of services) expect(PROVIDER_SERVICES).toContain(alias[svc] ?? svc);
});

test("backend and remote state on the S3 emulator keep bucket, key, encryption and use_lockfile", () => {
  const o = emulatedStateOverride(s.analytics as any, "http://127.0.0.1:9000") as any;
  expect(o.terraform.backend.s3).toMatchObject({
    bucket: "clickstream-sessionization-tfstate-dev",
    key: "sessionization/dev/analytics.tfstate",
    encrypt: true,
    use_lockfile: true,
    endpoints: { s3: "http://127.0.0.1:9000" },
    use_path_style: true,
  });
  expect(Object.keys(o.data.terraform_remote_state).sort()).toEqual(["cross-stack-reference-input-ingest", "cross-stack-reference-input-lake"]);
  expect(o.data.terraform_remote_state["cross-stack-reference-input-lake"].config).toMatchObject({ key: "sessionization/dev/lake.tfstate", endpoints: { s3: "http://127.0.0.1:9000" } });
  expect(emulatedStateOverride(s.bootstrap as any, "http://x")).toEqual({});
});

test("fixtures only for outputs of resources the emulators cannot create, tied to a target", () => {
  const { override, fixtures } = outputFixtures(s.ingest as any, ["aws_kinesis_stream.stream"], "us-east-1");
  expect(fixtures.sort()).toEqual(
    ["cross-stack-output-aws_kinesis_firehose_delivery_stream_raw_stream_name", "cross-stack-output-aws_kms_key_stream-key_arn", "raw_delivery_stream", "stream_key_arn"].sort(),
  );
  const value = (override as any).output["stream_key_arn"].value as string;
  expect(value).toContain("aws_kinesis_stream.stream.id");
  expect(value).toContain("arn:aws:kms:us-east-1:000000000000:fixture/stream-key");
  expect(referencedResources("${aws_s3_bucket.data_bucket.arn}/x ${data.terraform_remote_state.a.outputs.b}")).toEqual(["aws_s3_bucket.data_bucket"]);
});

test("TTL on the window table is checked in the synthesized JSON (dynalite cannot enable it)", () => {
  expect(checkWindowTableTtl(s.analytics as any)).toContain(`TTL on ${WINDOW_TTL_ATTRIBUTE} enabled`);
  const without = structuredClone(s.analytics) as any;
  delete without.resource.aws_dynamodb_table.windows.ttl;
  expect(() => checkWindowTableTtl(without)).toThrow(new RegExp(`enable TTL on ${WINDOW_TTL_ATTRIBUTE}`));
  without.resource.aws_dynamodb_table.windows.ttl = { attribute_name: WINDOW_TTL_ATTRIBUTE, enabled: false };
  expect(() => checkWindowTableTtl(without)).toThrow(/enabled":false/);
});

test("the CLI config installs only from the mirror", () => {
  const file = path.join(SCRATCH, "terraform.rc");
  writeCliConfig(file, "/opt/some-mirror");
  const text = readFileSync(file, "utf8");
  expect(text).toContain('path    = "/opt/some-mirror"');
  expect(text).toMatch(/direct \{\s+exclude = \["registry.terraform.io\/hashicorp\/aws"\]/);
});

describe("finding the provider mirror", () => {
  const saved = process.env.TF_PROVIDER_MIRROR;
  afterEach(() => {
    if (saved === undefined) delete process.env.TF_PROVIDER_MIRROR;
    else process.env.TF_PROVIDER_MIRROR = saved;
  });

  test("TF_PROVIDER_MIRROR names an unpacked mirror; only versions with an executable provider count", () => {
    const root = mkdtempSync(path.join(SCRATCH, "fake-mirror-"));
    const platform = `${process.platform}_${process.arch === "x64" ? "amd64" : process.arch}`;
    const dir = (v: string) => path.join(root, "registry.terraform.io", "hashicorp", "aws", v, platform);
    try {
      mkdirSync(dir("5.100.0"), { recursive: true });
      writeFileSync(path.join(dir("5.100.0"), "terraform-provider-aws_v5.100.0_x5"), Buffer.alloc(1_000_001), { mode: 0o755 });
      mkdirSync(dir("5.99.0"), { recursive: true });
      writeFileSync(path.join(dir("5.99.0"), "terraform-provider-aws_v5.99.0_x5"), "not a binary", { mode: 0o644 });
      process.env.TF_PROVIDER_MIRROR = root;
      expect(findProviderMirror()).toEqual({ root, versions: ["5.100.0"] });
      process.env.TF_PROVIDER_MIRROR = path.join(SCRATCH, "no-such-mirror");
      expect(findProviderMirror()).toBeUndefined();
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
