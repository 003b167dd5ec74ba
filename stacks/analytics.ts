import { Construct } from "constructs";
import { TerraformOutput } from "cdktf";
import { CloudwatchEventRule } from "@cdktf/provider-aws/lib/cloudwatch-event-rule";
import { CloudwatchEventTarget } from "@cdktf/provider-aws/lib/cloudwatch-event-target";
import { DynamodbTable } from "@cdktf/provider-aws/lib/dynamodb-table";
import { LambdaEventSourceMapping } from "@cdktf/provider-aws/lib/lambda-event-source-mapping";
import { LambdaFunctionEventInvokeConfig } from "@cdktf/provider-aws/lib/lambda-function-event-invoke-config";
import { LambdaPermission } from "@cdktf/provider-aws/lib/lambda-permission";
import { SqsQueue } from "@cdktf/provider-aws/lib/sqs-queue";
import type { SessionizationConfig } from "../config/schema";
import { WINDOW_TTL_ATTRIBUTE, windowTableDefinition } from "../functions/adapters/window-table";
import { functionEnvironment, functionSettings } from "../functions/settings";
import { MetricAlarm } from "../modules/alarms";
import { dashboardUrl, SessionDashboard } from "../modules/dashboard";
import { FirehoseToS3 } from "../modules/firehose-to-s3";
import type { FunctionCode, FunctionName } from "../modules/function-code";
import type { PolicyStatement } from "../modules/iam";
import { LambdaFunction } from "../modules/lambda-function";
import { dynamodbTableArgs } from "../modules/window-table";
import { LayerStack } from "./base";
import type { IngestStack } from "./ingest";
import type { LakeStack } from "./lake";

/**
 * Analytics: the stagger-window sessionizer that replaced Kinesis Data Analytics for SQL.
 * A Lambda function on the ingest stream (event source mapping with partial batch failures,
 * bisect, bounded retries and age, an SQS dead-letter queue), the DynamoDB table of open
 * windows, a sweeper every minute that emits the windows whose time is up, Firehose
 * `aggregated` (rows) and `rejected` (malformed records), the dashboard and the alarms.
 */
export interface AnalyticsStackProps {
  readonly lake: LakeStack;
  readonly ingest: IngestStack;
  /** The deployment packages, built before synthesis: `await buildFunctionPackages()` (modules/function-code.ts). */
  readonly functionCode: Record<FunctionName, FunctionCode>;
}

export class AnalyticsStack extends LayerStack {
  readonly table: DynamodbTable;
  readonly deadLetterQueue: SqsQueue;
  readonly aggregated: FirehoseToS3;
  readonly rejected: FirehoseToS3;
  readonly sessionizer: LambdaFunction;
  readonly sweeper: LambdaFunction;
  readonly eventSourceMapping: LambdaEventSourceMapping;

  constructor(scope: Construct, config: SessionizationConfig, props: AnalyticsStackProps) {
    super(scope, "analytics", config);
    const { lake, ingest } = props;
    const np = config.namePrefix;
    const a = config.analytics;

    this.table = new DynamodbTable(this, "windows", {
      ...dynamodbTableArgs(windowTableDefinition(`${np}-windows`)),
      serverSideEncryption: { enabled: true },
      pointInTimeRecovery: { enabled: true },
      // Tombstones carry `expires_at` (the sweeper's retire): DynamoDB drops a key's dedupe
      // positions a day after its last window was emitted. Open windows never carry it.
      ttl: { attributeName: WINDOW_TTL_ATTRIBUTE, enabled: true },
      deletionProtectionEnabled: false,
    });

    this.deadLetterQueue = new SqsQueue(this, "dlq", {
      name: `${np}-sessionizer-dlq`,
      sqsManagedSseEnabled: true,
      messageRetentionSeconds: 1_209_600,
    });

    const delivery = (id: string, shortName: string, prefix: string) =>
      new FirehoseToS3(this, id, {
        deliveryStreamName: `${np}-${shortName}`,
        shortName,
        bucketArn: lake.data.bucket.arn,
        prefix,
        errorPrefix: config.lake.errorPrefix,
        bufferIntervalSeconds: config.firehose.bufferIntervalSeconds,
        bufferSizeMB: config.firehose.bufferSizeMB,
        logRetentionDays: a.logRetentionDays,
      });
    this.aggregated = delivery("aggregated", "aggregated", config.firehose.destinationPrefix);
    this.rejected = delivery("rejected", "rejected", config.rejectedPrefix);

    const environment = functionEnvironment(
      functionSettings(config, {
        tableName: this.table.name,
        rowsDeliveryStream: this.aggregated.deliveryStream.name,
        rejectedDeliveryStream: this.rejected.deliveryStream.name,
      }),
    );
    const shared: PolicyStatement[] = [
      {
        sid: "WindowTable",
        actions: [
          "dynamodb:BatchGetItem",
          "dynamodb:BatchWriteItem",
          "dynamodb:ConditionCheckItem",
          "dynamodb:DeleteItem",
          "dynamodb:GetItem",
          "dynamodb:PutItem",
          "dynamodb:Query",
          "dynamodb:UpdateItem",
        ],
        resources: [this.table.arn, `${this.table.arn}/index/*`],
      },
      {
        sid: "DeliverRows",
        actions: ["firehose:PutRecord", "firehose:PutRecordBatch"],
        resources: [this.aggregated.deliveryStream.arn, this.rejected.deliveryStream.arn],
      },
      { sid: "DeadLetters", actions: ["sqs:SendMessage"], resources: [this.deadLetterQueue.arn] },
    ];
    const fn = (name: FunctionName, description: string, extra: PolicyStatement[]) =>
      new LambdaFunction(this, name, {
        functionName: `${np}-${name}`,
        description,
        code: props.functionCode[name],
        environment,
        memoryMB: a.memoryMB,
        timeoutSeconds: a.timeoutSeconds,
        logRetentionDays: a.logRetentionDays,
        statements: [...extra, ...shared],
      });

    this.sessionizer = fn("sessionizer", `Stagger-window sessionizer (W = ${config.windowSeconds} s) on ${config.stream.name}`, [
      {
        sid: "ReadStream",
        actions: [
          "kinesis:DescribeStream",
          "kinesis:DescribeStreamSummary",
          "kinesis:GetRecords",
          "kinesis:GetShardIterator",
          "kinesis:ListShards",
          "kinesis:SubscribeToShard",
        ],
        resources: [ingest.stream.arn],
      },
      { sid: "DecryptStream", actions: ["kms:Decrypt"], resources: [ingest.key.arn] },
    ]);
    this.sweeper = fn("sweeper", "Emits the stagger windows whose time is up (every minute)", []);

    this.eventSourceMapping = new LambdaEventSourceMapping(this, "stream-mapping", {
      eventSourceArn: ingest.stream.arn,
      functionName: this.sessionizer.function.arn,
      startingPosition: "TRIM_HORIZON",
      batchSize: a.batchSize,
      maximumBatchingWindowInSeconds: a.batchingWindowSeconds,
      parallelizationFactor: a.parallelizationFactor,
      maximumRetryAttempts: a.maxRetryAttempts,
      maximumRecordAgeInSeconds: a.maxRecordAgeSeconds,
      bisectBatchOnFunctionError: true,
      functionResponseTypes: ["ReportBatchItemFailures"],
      destinationConfig: { onFailure: { destinationArn: this.deadLetterQueue.arn } },
      dependsOn: [this.sessionizer.role.policy],
    });

    const schedule = new CloudwatchEventRule(this, "sweep-schedule", {
      name: `${np}-sweep`,
      description: "Runs the stagger-window sweeper every minute",
      scheduleExpression: "rate(1 minute)",
    });
    new CloudwatchEventTarget(this, "sweep-target", { rule: schedule.name, arn: this.sweeper.function.arn });
    new LambdaPermission(this, "sweep-permission", {
      statementId: "AllowScheduleInvoke",
      action: "lambda:InvokeFunction",
      functionName: this.sweeper.function.functionName,
      principal: "events.amazonaws.com",
      sourceArn: schedule.arn,
    });
    // A failed sweep is not retried: the next minute's run picks the same windows up.
    new LambdaFunctionEventInvokeConfig(this, "sweeper-invoke", {
      functionName: this.sweeper.function.functionName,
      maximumRetryAttempts: 0,
      maximumEventAgeInSeconds: 60,
      destinationConfig: { onFailure: { destination: this.deadLetterQueue.arn } },
    });

    const functionNames = [this.sessionizer.function.functionName, this.sweeper.function.functionName];
    const deliveryNames = [ingest.raw.deliveryStream.name, this.aggregated.deliveryStream.name, this.rejected.deliveryStream.name];
    const dashboard = new SessionDashboard(this, "dashboard", {
      dashboardName: config.dashboardName,
      region: config.region,
      metricsNamespace: a.metricsNamespace,
      serviceName: np,
      streamName: ingest.stream.name,
      functionNames,
      sessionizerName: this.sessionizer.function.functionName,
      deliveryStreamNames: deliveryNames,
    });

    const topicArn = a.alarmTopicArn;
    new MetricAlarm(this, "iterator-age-alarm", {
      alarmName: `${np}-sessionizer-iterator-age`,
      description: `The sessionizer is more than ${config.iteratorAgeAlarmSeconds} s behind the stream`,
      namespace: "AWS/Lambda",
      metricName: "IteratorAge",
      dimensions: { FunctionName: this.sessionizer.function.functionName },
      statistic: "Maximum",
      comparison: "GreaterThanThreshold",
      threshold: config.iteratorAgeAlarmSeconds * 1000,
      evaluationPeriods: 5,
      topicArn,
    });
    new MetricAlarm(this, "dlq-alarm", {
      alarmName: `${np}-dead-letters`,
      description: "Records or sweeps ended in the dead-letter queue",
      namespace: "AWS/SQS",
      metricName: "ApproximateNumberOfMessagesVisible",
      dimensions: { QueueName: this.deadLetterQueue.name },
      statistic: "Maximum",
      comparison: "GreaterThanThreshold",
      threshold: 0,
      topicArn,
    });
    for (const [name, f] of [["sessionizer", this.sessionizer], ["sweeper", this.sweeper]] as const) {
      new MetricAlarm(this, `${name}-errors-alarm`, {
        alarmName: `${np}-${name}-errors`,
        description: `The ${name} function failed`,
        namespace: "AWS/Lambda",
        metricName: "Errors",
        dimensions: { FunctionName: f.function.functionName },
        statistic: "Sum",
        comparison: "GreaterThanThreshold",
        threshold: 0,
        topicArn,
      });
    }
    deliveryNames.forEach((deliveryName, i) => {
      const short = ["raw", "aggregated", "rejected"][i];
      new MetricAlarm(this, `${short}-delivery-alarm`, {
        alarmName: `${np}-${short}-delivery-failures`,
        description: `Firehose ${short} failed to deliver to S3`,
        namespace: "AWS/Firehose",
        metricName: "DeliveryToS3.Success",
        dimensions: { DeliveryStreamName: deliveryName },
        statistic: "Minimum",
        comparison: "LessThanThreshold",
        threshold: 1,
        periodSeconds: 300,
        topicArn,
      });
    });

    new TerraformOutput(this, "sessionizer_function", { value: this.sessionizer.function.functionName });
    new TerraformOutput(this, "sweeper_function", { value: this.sweeper.function.functionName });
    new TerraformOutput(this, "window_table", { value: this.table.name });
    new TerraformOutput(this, "aggregated_delivery_stream", { value: this.aggregated.deliveryStream.name });
    new TerraformOutput(this, "rejected_delivery_stream", { value: this.rejected.deliveryStream.name });
    new TerraformOutput(this, "dead_letter_queue_url", { value: this.deadLetterQueue.url });
    new TerraformOutput(this, "dashboard_name", { value: dashboard.dashboard.dashboardName });
    new TerraformOutput(this, "dashboard_url", { value: dashboardUrl(config.region, config.dashboardName) });
  }
}
