import { WILDCARD_RESOURCE_ACTIONS } from "../modules/iam";
import { DEPLOY_ORDER } from "../stacks/app";
import { resources, stubFunctionCode, synthesize, useProjectTmp, removeScratch, type StackJson, type SynthesizedApp } from "../stacks/testing";

/**
 * Security rules, checked on the synthesized Terraform JSON of every stack, for two configs.
 */
useProjectTmp();
afterAll(removeScratch);

interface Statement {
  Sid?: string;
  Effect: string;
  Action: string | string[];
  Resource: string | string[];
  Principal?: unknown;
  Condition?: Record<string, Record<string, string>>;
}
const list = <T>(x: T | T[]): T[] => (Array.isArray(x) ? x : [x]);
const ref = (type: string, name: string, attr = "id") => `\${${type}.${name}.${attr}}`;

function byBucket(stack: StackJson, type: string, bucketType: string, bucketName: string): Record<string, any>[] {
  return Object.values(stack.resource[type] ?? {}).filter((r) => r.bucket === ref(bucketType, bucketName));
}

function rolePolicies(stack: StackJson): [string, Statement[]][] {
  return Object.entries(stack.resource.aws_iam_role_policy ?? {}).map(([name, p]) => [name, JSON.parse(p.policy).Statement as Statement[]]);
}

describe.each(["dev", "test"])("security rules with config/%s.json", (configName) => {
  let s: SynthesizedApp;
  beforeAll(async () => {
    s = await synthesize(configName, { functionCode: await stubFunctionCode() });
  });
  const stacks = () => DEPLOY_ORDER.map((n) => [n, s[n]] as const);

  test("every S3 bucket: default encryption, versioning, all public access blocked, ACLs disabled", () => {
    let buckets = 0;
    for (const [, stack] of stacks()) {
      for (const name of Object.keys(stack.resource.aws_s3_bucket ?? {})) {
        buckets++;
        const [sse] = byBucket(stack, "aws_s3_bucket_server_side_encryption_configuration", "aws_s3_bucket", name);
        expect(sse.rule[0].apply_server_side_encryption_by_default.sse_algorithm).toMatch(/^(AES256|aws:kms)$/);
        const [pab] = byBucket(stack, "aws_s3_bucket_public_access_block", "aws_s3_bucket", name);
        expect(pab).toMatchObject({ block_public_acls: true, block_public_policy: true, ignore_public_acls: true, restrict_public_buckets: true });
        expect(byBucket(stack, "aws_s3_bucket_versioning", "aws_s3_bucket", name)[0].versioning_configuration.status).toBe("Enabled");
        expect(byBucket(stack, "aws_s3_bucket_ownership_controls", "aws_s3_bucket", name)[0].rule.object_ownership).toBe("BucketOwnerEnforced");
        expect(stack.resource.aws_s3_bucket[name].force_destroy).toBe(false);
      }
      expect(stack.resource.aws_s3_bucket_acl).toBeUndefined();
    }
    expect(buckets).toBe(2);
  });

  test("every S3 bucket has a TLS-only bucket policy (deny aws:SecureTransport=false on the bucket and its objects)", () => {
    for (const [, stack] of stacks()) {
      for (const name of Object.keys(stack.resource.aws_s3_bucket ?? {})) {
        const [policy] = byBucket(stack, "aws_s3_bucket_policy", "aws_s3_bucket", name);
        const statements = JSON.parse(policy.policy).Statement as Statement[];
        const tls = statements.find((st) => st.Condition?.Bool?.["aws:SecureTransport"] === "false");
        expect(tls).toBeDefined();
        expect(tls!.Effect).toBe("Deny");
        expect(list(tls!.Action)).toEqual(["s3:*"]);
        expect(list(tls!.Resource).sort()).toEqual([ref("aws_s3_bucket", name, "arn"), `${ref("aws_s3_bucket", name, "arn")}/*`].sort());
        // Deny-only: the bucket policy grants nothing to anyone.
        expect(statements.every((st) => st.Effect === "Deny")).toBe(true);
      }
    }
  });

  test("encryption at rest: Kinesis (KMS, rotated key), Firehose, DynamoDB, SQS, Athena results", () => {
    const stream = Object.values(s.ingest.resource.aws_kinesis_stream);
    expect(stream).toHaveLength(1);
    expect(stream[0].encryption_type).toBe("KMS");
    expect(stream[0].kms_key_id).toBe(ref("aws_kms_key", "stream-key", "arn"));
    expect(Object.values(s.ingest.resource.aws_kms_key).every((k) => k.enable_key_rotation === true)).toBe(true);

    for (const [, stack] of stacks()) {
      for (const [name, fh] of Object.entries(stack.resource.aws_kinesis_firehose_delivery_stream ?? {})) {
        if (fh.kinesis_source_configuration) {
          // Firehose takes no SSE setting with a Kinesis source: the data is at rest in the KMS-encrypted stream.
          expect(fh.kinesis_source_configuration.kinesis_stream_arn).toBe(ref("aws_kinesis_stream", "stream", "arn"));
        } else {
          expect({ name, sse: fh.server_side_encryption }).toEqual({ name, sse: { enabled: true, key_type: "AWS_OWNED_CMK" } });
        }
      }
      for (const table of Object.values(stack.resource.aws_dynamodb_table ?? {})) expect(table.server_side_encryption).toEqual({ enabled: true });
      for (const q of Object.values(stack.resource.aws_sqs_queue ?? {})) expect(q.sqs_managed_sse_enabled || q.kms_master_key_id).toBeTruthy();
    }
    const wg = Object.values(s.catalog.resource.aws_athena_workgroup)[0];
    expect(wg.configuration.result_configuration.encryption_configuration.encryption_option).toMatch(/^(SSE_S3|SSE_KMS|CSE_KMS)$/);
    expect(wg.configuration.enforce_workgroup_configuration).toBe(true);
  });

  test('IAM: no action "*" or "service:*"; no resource "*"; every resource is one of this project\'s', () => {
    let count = 0;
    for (const [stackName, stack] of stacks()) {
      for (const [policyName, statements] of rolePolicies(stack)) {
        for (const st of statements) {
          count++;
          const where = `${stackName}/${policyName}/${st.Sid}`;
          expect({ where, effect: st.Effect }).toEqual({ where, effect: "Allow" });
          for (const action of list(st.Action)) {
            expect({ where, action, ok: action !== "*" && !action.endsWith(":*") && /^[a-z0-9-]+:[A-Za-z]+$/.test(action) }).toEqual({ where, action, ok: true });
          }
          for (const resource of list(st.Resource)) {
            if (resource === "*") {
              expect({ where, wildcardAllowed: list(st.Action).every((a) => WILDCARD_RESOURCE_ACTIONS.includes(a)) }).toEqual({ where, wildcardAllowed: true });
              continue;
            }
            // A reference to a resource of this app (in this stack, or another layer's output): never a literal foreign ARN.
            const scoped =
              /^\$\{(aws_[a-z0-9_]+\.|data\.terraform_remote_state\.)/.test(resource) ||
              // ARNs built from parts: the account comes from one of this app's resources.
              /^arn:aws[a-z-]*:[a-z0-9-]+:[a-z0-9-]+:\$\{aws_[a-z0-9_]+\.[A-Za-z0-9_-]+\.catalog_id\}:(catalog|log-group:\/aws-glue\/crawlers:\*)$/.test(resource);
            expect({ where, resource, scoped }).toEqual({ where, resource, scoped: true });
          }
        }
      }
    }
    expect(count).toBeGreaterThan(10);
  });

  test("IAM: roles are assumable only by the one AWS service that needs them; no managed policies, users or keys", () => {
    for (const [, stack] of stacks()) {
      for (const role of Object.values(stack.resource.aws_iam_role ?? {})) {
        const statements = JSON.parse(role.assume_role_policy).Statement as Statement[];
        expect(statements).toHaveLength(1);
        expect(statements[0]).toMatchObject({ Effect: "Allow", Action: "sts:AssumeRole" });
        expect(Object.keys(statements[0].Principal as object)).toEqual(["Service"]);
        expect((statements[0].Principal as { Service: string }).Service).toMatch(/^(lambda|firehose|glue)\.amazonaws\.com$/);
        expect(role.managed_policy_arns).toBeUndefined();
      }
      for (const forbidden of ["aws_iam_role_policy_attachment", "aws_iam_policy_attachment", "aws_iam_user", "aws_iam_access_key"]) {
        expect(stack.resource[forbidden]).toBeUndefined();
      }
    }
  });

  test("Lambda functions: least privilege per function (firehose only on aggregated and rejected; stream read only for the sessionizer)", () => {
    const policies = Object.fromEntries(rolePolicies(s.analytics));
    const actions = (p: string) => policies[p].flatMap((st) => list(st.Action));
    const firehose = (p: string) => policies[p].filter((st) => list(st.Action).some((a) => a.startsWith("firehose:"))).flatMap((st) => list(st.Resource));
    for (const fn of ["sessionizer_execution_policy", "sweeper_execution_policy"]) {
      expect(firehose(fn).sort()).toEqual([ref("aws_kinesis_firehose_delivery_stream", "aggregated_stream", "arn"), ref("aws_kinesis_firehose_delivery_stream", "rejected_stream", "arn")].sort());
      expect(actions(fn)).not.toContain("cloudwatch:PutMetricData");
      expect(actions(fn)).toContain("sqs:SendMessage");
    }
    expect(actions("sessionizer_execution_policy")).toEqual(expect.arrayContaining(["kinesis:GetRecords", "kinesis:GetShardIterator", "kms:Decrypt"]));
    expect(actions("sweeper_execution_policy").some((a) => a.startsWith("kinesis:") || a.startsWith("kms:"))).toBe(false);
  });

  test("every log group has the configured retention; every function and delivery stream logs into one of them", () => {
    const expected = configName === "dev" ? 30 : 14;
    const groups: string[] = [];
    for (const [, stack] of stacks()) {
      for (const lg of Object.values(stack.resource.aws_cloudwatch_log_group ?? {})) {
        expect({ name: lg.name, retention: lg.retention_in_days }).toEqual({ name: lg.name, retention: expected });
        groups.push(lg.name);
      }
      for (const fn of Object.values(stack.resource.aws_lambda_function ?? {})) expect(groups).toContain(`/aws/lambda/${fn.function_name}`);
      for (const fh of Object.values(stack.resource.aws_kinesis_firehose_delivery_stream ?? {})) {
        expect(fh.extended_s3_configuration.cloudwatch_logging_options.enabled).toBe(true);
        expect(groups).toContain(`/aws/kinesisfirehose/${fh.name}`);
      }
    }
  });

  test("every resource is tagged through the provider's default tags", () => {
    for (const [name, stack] of stacks()) {
      const tags = stack.provider.aws[0].default_tags as { tags: Record<string, string> }[];
      expect(tags[0].tags).toMatchObject({ "sessionization:stack": name, ManagedBy: "cdktf" });
      expect(resources(stack).length).toBeGreaterThan(0);
    }
  });
});
