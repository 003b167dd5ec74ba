import { existsSync, readFileSync } from "node:fs";
import { firehoseErrorPrefix } from "../modules/firehose-prefixes";
import { REJECTED_TABLE, rejectedRecordSchema } from "../functions/core/rejected";
import { glueColumnsFromSchema } from "../modules/glue-columns";
import * as path from "node:path";
import { Testing } from "cdktf";
import { loadConfig } from "../config/load";
import { DUE_INDEX_NAME, ENV } from "../functions/settings";
import { WINDOW_TTL_ATTRIBUTE, windowTableDefinition } from "../functions/adapters/window-table";
import { readSql } from "../modules/athena-view";
import { DEPLOY_ORDER } from "../stacks/app";
import { configFile, only, resources, stubFunctionCode, synthesize, useProjectTmp, removeScratch, type SynthesizedApp } from "../stacks/testing";

useProjectTmp();
afterAll(removeScratch);

describe("the app with config/dev.json and the real handlers", () => {
  let s: SynthesizedApp;
  beforeAll(async () => {
    s = await synthesize("dev");
  });

  test("synthesizes the five stacks, each with resources", () => {
    for (const name of DEPLOY_ORDER) {
      expect(existsSync(path.join(s.outdir, "stacks", name, "cdk.tf.json"))).toBe(true);
      expect(resources(s[name]).length).toBeGreaterThan(0);
    }
  });

  test("never synthesizes a Kinesis Data Analytics application", () => {
    for (const name of DEPLOY_ORDER) {
      expect(Object.keys(s[name].resource).filter((t) => t.startsWith("aws_kinesis_analytics") || t.startsWith("aws_kinesisanalyticsv2"))).toEqual([]);
    }
  });

  test("layer stacks keep state in S3: one key per stack and environment, encrypted, S3-native locking", () => {
    const keys = new Set<string>();
    for (const name of ["lake", "ingest", "analytics", "catalog"] as const) {
      const backend = s[name].terraform.backend;
      expect(Object.keys(backend)).toEqual(["s3"]);
      expect(backend.s3).toMatchObject({ bucket: "clickstream-sessionization-tfstate-dev", key: `sessionization/dev/${name}.tfstate`, encrypt: true, use_lockfile: true, region: "us-east-1" });
      expect(backend.s3).not.toHaveProperty("dynamodb_table");
      keys.add(backend.s3.key as string);
    }
    expect(keys.size).toBe(4);
    expect(Object.keys(s.bootstrap.terraform.backend)).toEqual(["local"]);
  });

  test("cross-stack values arrive through terraform_remote_state on the S3 backend", () => {
    const remote = (name: "ingest" | "analytics" | "catalog") => s[name].data?.terraform_remote_state ?? {};
    expect(Object.keys(remote("ingest"))).toEqual(["cross-stack-reference-input-lake"]);
    expect(Object.keys(remote("analytics")).sort()).toEqual(["cross-stack-reference-input-ingest", "cross-stack-reference-input-lake"]);
    expect(Object.keys(remote("catalog"))).toEqual(["cross-stack-reference-input-lake"]);
    for (const name of ["ingest", "analytics", "catalog"] as const) {
      for (const [id, rs] of Object.entries(remote(name))) {
        const upstream = id.replace("cross-stack-reference-input-", "");
        expect(rs.backend).toBe("s3");
        expect(rs.config).toMatchObject({ bucket: "clickstream-sessionization-tfstate-dev", key: `sessionization/dev/${upstream}.tfstate`, region: "us-east-1" });
      }
    }
    // The stream ARN the event source mapping reads is the ingest stack's output, not a copied name.
    const esm = only(s.analytics, "aws_lambda_event_source_mapping");
    expect(esm.event_source_arn).toMatch(/^\$\{data\.terraform_remote_state\.cross-stack-reference-input-ingest\.outputs\.[^}]+\}$/);
    expect(Object.keys(s.ingest.output ?? {})).toEqual(expect.arrayContaining(["stream_name", "stream_arn"]));
  });

  test("Testing.synth resolves the cross-stack references once every stack is prepared", () => {
    const { app } = s;
    for (const name of DEPLOY_ORDER) app[name].prepareStack();
    const analytics = JSON.parse(Testing.synth(app.analytics));
    expect(Object.keys(analytics.data.terraform_remote_state)).toHaveLength(2);
  });

  test("bootstrap: the state bucket, protected from destroy", () => {
    const bucket = only(s.bootstrap, "aws_s3_bucket");
    expect(bucket.bucket).toBe("clickstream-sessionization-tfstate-dev");
    expect(bucket.lifecycle).toEqual({ prevent_destroy: true });
    expect(only(s.bootstrap, "aws_s3_bucket_versioning").versioning_configuration.status).toBe("Enabled");
  });

  test("lake: lifecycle per prefix and the Athena results location", () => {
    const rules = only(s.lake, "aws_s3_bucket_lifecycle_configuration").rule as any[];
    const byPrefix = Object.fromEntries(rules.map((r) => [r.filter[0].prefix, r]));
    expect(byPrefix["rawdata/"].expiration[0].days).toBe(90);
    expect(byPrefix["aggregated/"].transition[0]).toEqual({ days: 30, storage_class: "STANDARD_IA" });
    expect(byPrefix["errors/"].expiration[0].days).toBe(30);
    expect(byPrefix["athena-results/"].expiration[0].days).toBe(7);
    expect(byPrefix[""].abort_incomplete_multipart_upload[0].days_after_initiation).toBe(7);
    expect(only(s.lake, "aws_s3_bucket").bucket_prefix).toBe("clickstream-dev-lake-");
    expect(s.lake.output?.athena_results_location.value).toMatch(/^s3:\/\/\$\{aws_s3_bucket\.data_bucket\.bucket\}\/athena-results\/$/);
  });

  test("ingest: the seed's stream, KMS-encrypted, and Firehose raw to rawdata/ with Hive partitions", () => {
    const stream = only(s.ingest, "aws_kinesis_stream");
    expect(stream).toMatchObject({ name: "sesionesblog", shard_count: 2, retention_period: 24, encryption_type: "KMS", stream_mode_details: { stream_mode: "PROVISIONED" } });
    expect(stream.kms_key_id).toBe("${aws_kms_key.stream-key.arn}");
    const raw = only(s.ingest, "aws_kinesis_firehose_delivery_stream");
    expect(raw.kinesis_source_configuration.kinesis_stream_arn).toBe("${aws_kinesis_stream.stream.arn}");
    const s3 = raw.extended_s3_configuration;
    expect(s3.prefix).toBe("rawdata/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/");
    expect(s3.error_output_prefix).toBe("errors/delivery-failed/raw/!{firehose:error-output-type}/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/");
    expect(s3).toMatchObject({ buffering_interval: 300, buffering_size: 5, compression_format: "GZIP" });
    expect(s3.processing_configuration.processors).toEqual([{ type: "AppendDelimiterToRecord" }]);
  });

  test("analytics: the window table is the functions' own definition, on demand, with PITR", () => {
    const table = only(s.analytics, "aws_dynamodb_table");
    const def = windowTableDefinition("x");
    expect(table.billing_mode).toBe("PAY_PER_REQUEST");
    expect(table.hash_key).toBe(def.KeySchema![0].AttributeName);
    expect(table.attribute).toEqual(def.AttributeDefinitions!.map((a) => ({ name: a.AttributeName, type: a.AttributeType })));
    expect(table.global_secondary_index).toEqual([{ name: DUE_INDEX_NAME, hash_key: "sweep_partition", range_key: "closes_at", projection_type: "ALL" }]);
    expect(table.point_in_time_recovery).toEqual({ enabled: true });
  });

  test("analytics: TTL on the attribute the sweeper's tombstones carry", () => {
    const table = only(s.analytics, "aws_dynamodb_table");
    expect(table.ttl).toEqual({ attribute_name: WINDOW_TTL_ATTRIBUTE, enabled: true });
    // TTL needs no key declaration; open windows (the sparse index) never carry it.
    expect(table.attribute.map((a: { name: string }) => a.name)).not.toContain(WINDOW_TTL_ATTRIBUTE);
  });

  test("analytics: the event source mapping reports partial failures, bisects, is bounded, and dead-letters", () => {
    const esm = only(s.analytics, "aws_lambda_event_source_mapping");
    expect(esm).toMatchObject({
      batch_size: 500,
      maximum_batching_window_in_seconds: 1,
      function_response_types: ["ReportBatchItemFailures"],
      bisect_batch_on_function_error: true,
      maximum_retry_attempts: 10,
      maximum_record_age_in_seconds: 3600,
      parallelization_factor: 1,
      starting_position: "TRIM_HORIZON",
    });
    expect(esm.destination_config.on_failure.destination_arn).toBe("${aws_sqs_queue.dlq.arn}");
    expect(esm.function_name).toBe("${aws_lambda_function.sessionizer_function.arn}");
  });

  test("analytics: both functions get the shared environment contract; the sweeper runs every minute", () => {
    const fns = s.analytics.resource.aws_lambda_function;
    for (const fn of Object.values(fns)) {
      const env = fn.environment.variables;
      for (const name of Object.values(ENV)) expect(env).toHaveProperty(name);
      expect(env[ENV.windowSeconds]).toBe("60");
      expect(env[ENV.tableName]).toBe("${aws_dynamodb_table.windows.name}");
      expect(env[ENV.rowsDeliveryStream]).toBe("${aws_kinesis_firehose_delivery_stream.aggregated_stream.name}");
      expect(env[ENV.rejectedDeliveryStream]).toBe("${aws_kinesis_firehose_delivery_stream.rejected_stream.name}");
      expect(fn).toMatchObject({ handler: "index.handler", runtime: "nodejs22.x", memory_size: 256, timeout: 60 });
      expect(fn.source_code_hash).toMatch(/^[A-Za-z0-9+/]{43}=$/);
      expect(existsSync(path.join(s.outdir, "stacks", "analytics", fn.filename))).toBe(true);
    }
    expect(only(s.analytics, "aws_cloudwatch_event_rule").schedule_expression).toBe("rate(1 minute)");
    expect(only(s.analytics, "aws_cloudwatch_event_target").arn).toBe("${aws_lambda_function.sweeper_function.arn}");
    expect(only(s.analytics, "aws_lambda_permission")).toMatchObject({ principal: "events.amazonaws.com", source_arn: "${aws_cloudwatch_event_rule.sweep-schedule.arn}" });
  });

  test("analytics: Firehose aggregated and rejected are Direct PUT into their prefixes", () => {
    const streams = s.analytics.resource.aws_kinesis_firehose_delivery_stream;
    expect(streams.aggregated_stream.kinesis_source_configuration).toBeUndefined();
    expect(streams.aggregated_stream.extended_s3_configuration.prefix).toBe("aggregated/year=!{timestamp:yyyy}/month=!{timestamp:MM}/day=!{timestamp:dd}/hour=!{timestamp:HH}/");
    expect(streams.rejected_stream.extended_s3_configuration.prefix).toMatch(/^errors\/rejected\/year=!\{timestamp:yyyy\}\//);
    // Delivery failures of every stream under errors/delivery-failed/<stream>/: never inside a data prefix
    // (the rejected stream's data prefix errors/rejected/ is the Glue table rejected).
    const all = { ...streams, ...s.ingest.resource.aws_kinesis_firehose_delivery_stream };
    for (const [id, short] of [["raw_stream", "raw"], ["aggregated_stream", "aggregated"], ["rejected_stream", "rejected"]]) {
      const conf = all[id].extended_s3_configuration;
      expect(conf.error_output_prefix).toBe(firehoseErrorPrefix("errors", short));
      expect(conf.error_output_prefix).toMatch(new RegExp(`^errors/delivery-failed/${short}/!\\{firehose:error-output-type\\}/year=`));
      for (const other of Object.values(all)) expect(conf.error_output_prefix.startsWith(other.extended_s3_configuration.prefix.replace(/year=.*$/, ""))).toBe(false);
    }
    // Each Firehose role writes its data prefix and its own delivery-failed folder, nothing else.
    const objects = (stack: typeof s.analytics, role: string) => {
      const policy = Object.values(stack.resource.aws_iam_role_policy ?? {}).find((p: any) => p.role.includes(`aws_iam_role.${role}.`)) as any;
      // keys under the lake bucket's ARN (a cross-stack reference)
      return JSON.parse(policy.policy).Statement.find((st: any) => st.Sid === "LakeObjects").Resource.map((r: string) => r.replace(/^\$\{[^}]+\}\//, ""));
    };
    expect(objects(s.analytics, "rejected_delivery_role")).toEqual(["errors/rejected/*", "errors/delivery-failed/rejected/*"]);
    expect(objects(s.analytics, "aggregated_delivery_role")).toEqual(["aggregated/*", "errors/delivery-failed/aggregated/*"]);
    expect(objects(s.ingest, "raw_delivery_role")).toEqual(["rawdata/*", "errors/delivery-failed/raw/*"]);
  });

  test("analytics: dashboard Sessionization-<name> with the seed's metrics, and the alarms", () => {
    const dash = only(s.analytics, "aws_cloudwatch_dashboard");
    expect(dash.dashboard_name).toBe("Sessionization-clickstream-dev");
    const body = JSON.parse(dash.dashboard_body);
    const metrics = body.widgets.flatMap((w: any) => w.properties.metrics.map((m: any[]) => `${m[0]}/${m[1]}`));
    for (const m of ["Sessionization/session_duration", "Sessionization/session_events", "AWS/Kinesis/IncomingRecords", "AWS/Lambda/IteratorAge", "AWS/Lambda/Errors", "AWS/Lambda/Duration", "AWS/Firehose/DeliveryToS3.Records"]) {
      expect(metrics).toContain(m);
    }
    const alarms = Object.values(s.analytics.resource.aws_cloudwatch_metric_alarm).map((a) => `${a.namespace}/${a.metric_name}`);
    expect(alarms).toEqual(
      expect.arrayContaining(["AWS/Lambda/IteratorAge", "AWS/SQS/ApproximateNumberOfMessagesVisible", "AWS/Lambda/Errors", "AWS/Firehose/DeliveryToS3.Success"]),
    );
    expect(s.analytics.output?.dashboard_url.value).toContain("#dashboards:name=Sessionization-clickstream-dev");
    // Omitted in dev.json: the iterator-age alarm fires at the sweep grace (10 s), in milliseconds.
    const iteratorAge = Object.values(s.analytics.resource.aws_cloudwatch_metric_alarm).find((a) => a.metric_name === "IteratorAge");
    expect(iteratorAge?.threshold).toBe(10_000);
  });

  test("catalog: tables with explicit columns from the schemas and partition projection over the Firehose prefixes", () => {
    const t = s.catalog.resource.aws_glue_catalog_table;
    expect(t.rawdata.storage_descriptor.columns).toEqual([
      { name: "user_id", type: "bigint" },
      { name: "device_id", type: "string" },
      { name: "client_event", type: "string" },
      { name: "client_timestamp", type: "string" },
    ]);
    expect(t.aggregated.storage_descriptor.columns.map((c: any) => c.name)).toEqual([
      "session_id", "user_id", "device_id", "timeagg", "events", "beginnavigation", "endnavigation", "beginsession", "endsession", "duration_sec", "window_id", "emitted_at",
    ]);
    // The rejected records: the columns of the one schema the sessionizer writes (functions/core/rejected.ts).
    expect(t.rejected.name).toBe(REJECTED_TABLE);
    expect(t.rejected.storage_descriptor.columns).toEqual(glueColumnsFromSchema(rejectedRecordSchema));
    expect(t.rejected.storage_descriptor.columns).toEqual([
      { name: "reason", type: "string" },
      { name: "field", type: "string" },
      { name: "detail", type: "string" },
      { name: "data", type: "string" },
      { name: "data_encoding", type: "string" },
      { name: "data_truncated", type: "boolean" },
      { name: "partition_key", type: "string" },
      { name: "shard_id", type: "string" },
      { name: "sequence_number", type: "string" },
      { name: "arrival", type: "string" },
    ]);
    expect(t.rejected.storage_descriptor.location).toMatch(/\/errors\/rejected\/$/);
    expect(t.rejected.parameters["storage.location.template"]).toMatch(/\/errors\/rejected\/year=\$\$\{year\}\/month=\$\$\{month\}\/day=\$\$\{day\}\/hour=\$\$\{hour\}\/$/);
    expect(s.catalog.output?.tables.value).toEqual(["${aws_glue_catalog_table.rawdata.name}", "${aws_glue_catalog_table.aggregated.name}", "${aws_glue_catalog_table.rejected.name}"]);
    for (const table of [t.rawdata, t.aggregated, t.rejected]) {
      expect(table.partition_keys.map((k: any) => k.name)).toEqual(["year", "month", "day", "hour"]);
      expect(table.parameters["projection.enabled"]).toBe("true");
      expect(table.parameters["projection.hour.digits"]).toBe("2");
      expect(table.storage_descriptor.ser_de_info.serialization_library).toBe("org.openx.data.jsonserde.JsonSerDe");
    }
    expect(t.rawdata.parameters["storage.location.template"]).toMatch(/\/rawdata\/year=\$\$\{year\}\/month=\$\$\{month\}\/day=\$\$\{day\}\/hour=\$\$\{hour\}\/$/);
    expect(s.catalog.resource.aws_glue_crawler).toBeUndefined();
  });

  test("catalog: views and the saved query come from sql/*.sql", () => {
    const t = s.catalog.resource.aws_glue_catalog_table;
    for (const view of ["clicks_today", "clicks_month"]) {
      const v = t[`${view}_view`];
      expect(v).toMatchObject({ name: view, table_type: "VIRTUAL_VIEW", view_expanded_text: "/* Presto View */", parameters: { presto_view: "true" } });
      const encoded = /^\/\* Presto View: ([A-Za-z0-9+/=]+) \*\/$/.exec(v.view_original_text)![1];
      const def = JSON.parse(Buffer.from(encoded, "base64").toString("utf8"));
      expect(def.originalSql).toBe(readSql(view));
      expect(readFileSync(path.join(__dirname, "..", "sql", `${view}.sql`), "utf8")).toContain(def.originalSql.split("\n")[1]);
      expect(def).toMatchObject({ catalog: "awsdatacatalog", schema: "clickstream_dev" });
      expect(def.columns.map((c: any) => c.name)).toContain("duration_sec");
    }
    const q = only(s.catalog, "aws_athena_named_query");
    expect(q.name).toBe("sessions by duration");
    expect(q.query).toBe(readSql("sessions_by_duration"));
  });

  test("catalog: the workgroup enforces its configuration, encrypts results in the lake, caps bytes scanned", () => {
    const wg = only(s.catalog, "aws_athena_workgroup").configuration;
    expect(wg.enforce_workgroup_configuration).toBe(true);
    expect(wg.bytes_scanned_cutoff_per_query).toBe(10_000_000_000);
    expect(wg.result_configuration.encryption_configuration.encryption_option).toBe("SSE_S3");
    expect(wg.result_configuration.output_location).toMatch(/^s3:\/\/\$\{data\.terraform_remote_state\.cross-stack-reference-input-lake\.outputs\.[^}]+\}\/athena-results\/$/);
  });

  test("outputs a user needs after deploy", () => {
    expect(Object.keys(s.lake.output!)).toEqual(expect.arrayContaining(["bucket_name"]));
    expect(Object.keys(s.ingest.output!)).toEqual(expect.arrayContaining(["stream_name", "stream_arn"]));
    expect(Object.keys(s.analytics.output!)).toEqual(expect.arrayContaining(["dashboard_url", "sessionizer_function", "sweeper_function"]));
    expect(Object.keys(s.catalog.output!)).toEqual(expect.arrayContaining(["database_name", "workgroup_name"]));
  });
});

describe("the app with config/test.json (on-demand stream, 30 s windows, crawler, alarm topic, another region)", () => {
  let s: SynthesizedApp;
  beforeAll(async () => {
    s = await synthesize("test", { functionCode: await stubFunctionCode() });
  });

  test("parameters reach the resources", () => {
    const config = loadConfig(configFile("test"));
    expect(s.lake.provider.aws[0].region).toBe("eu-west-1");
    expect(s.lake.terraform.backend.s3).toMatchObject({ bucket: "clicktest-test-tfstate", key: "sessions/test/lake.tfstate", region: "eu-west-1" });
    const stream = only(s.ingest, "aws_kinesis_stream");
    expect(stream.stream_mode_details).toEqual({ stream_mode: "ON_DEMAND" });
    expect(stream).not.toHaveProperty("shard_count");
    expect(only(s.lake, "aws_s3_bucket").bucket).toBe("clicktest-test-lake");
    expect(only(s.ingest, "aws_kinesis_firehose_delivery_stream").extended_s3_configuration).toMatchObject({ buffering_interval: 60, buffering_size: 1 });
    expect(s.analytics.resource.aws_kinesis_firehose_delivery_stream.aggregated_stream.extended_s3_configuration.prefix).toMatch(/^sessions\/year=/);
    const env = Object.values(s.analytics.resource.aws_lambda_function)[0].environment.variables;
    expect(env[ENV.windowSeconds]).toBe(String(config.windowSeconds));
    expect(env[ENV.windowSeconds]).toBe("30");
    expect(env[ENV.sweepPartitions]).toBe("4");
    expect(only(s.analytics, "aws_dynamodb_table").ttl).toEqual({ attribute_name: WINDOW_TTL_ATTRIBUTE, enabled: true });
    for (const alarm of Object.values(s.analytics.resource.aws_cloudwatch_metric_alarm)) {
      expect(alarm.alarm_actions).toEqual(["arn:aws:sns:eu-west-1:123456789012:alerts"]);
    }
    expect(s.lake.provider.aws[0].default_tags).toEqual([expect.objectContaining({ tags: expect.objectContaining({ Environment: "test", "sessionization:stack": "lake" }) })]);
  });

  test("the optional crawler targets the catalog tables, so it only adds partitions", () => {
    const crawler = only(s.catalog, "aws_glue_crawler");
    expect(crawler.catalog_target).toEqual([{ database_name: "${aws_glue_catalog_database.database.name}", tables: ["${aws_glue_catalog_table.rawdata.name}", "${aws_glue_catalog_table.aggregated.name}", "${aws_glue_catalog_table.rejected.name}"] }]);
    expect(crawler.schema_change_policy).toEqual({ delete_behavior: "LOG", update_behavior: "LOG" });
    expect(JSON.parse(crawler.configuration).CrawlerOutput.Partitions.AddOrUpdateBehavior).toBe("InheritFromTable");
    expect(s.catalog.resource.aws_glue_catalog_table.rawdata.parameters["projection.year.range"]).toBe("2025,2100");
  });
});
