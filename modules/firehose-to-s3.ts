import { Construct } from "constructs";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { CloudwatchLogStream } from "@cdktf/provider-aws/lib/cloudwatch-log-stream";
import { KinesisFirehoseDeliveryStream } from "@cdktf/provider-aws/lib/kinesis-firehose-delivery-stream";
import { deliveryFailedRoot, firehoseErrorPrefix, firehosePrefix } from "./firehose-prefixes";
import { logStreamsOf, ServiceRole, type PolicyStatement } from "./iam";

export { DELIVERY_FAILED_FOLDER, FIREHOSE_ERROR_OUTPUT_TYPE, HIVE_TIME_PARTITIONS, deliveryFailedRoot, firehoseErrorPrefix, firehosePrefix } from "./firehose-prefixes";

/**
 * A Firehose delivery stream to the lake bucket: Hive-style time partitions
 * (`<prefix>/year=YYYY/month=MM/day=DD/hour=HH/`, UTC arrival time), GZIP, an error prefix
 * `<errorPrefix>/delivery-failed/<name>/<error-output-type>/year=…/` (modules/firehose-prefixes.ts,
 * shared with the local Firehose), delivery logs with retention, and a
 * role that can write only under its own prefixes. Direct PUT streams are encrypted with an
 * AWS-owned key; a stream fed by Kinesis reads the (KMS-encrypted) source stream instead,
 * where Firehose does not accept its own server-side encryption.
 */

export interface KinesisSource {
  readonly streamArn: string;
  /** The stream's KMS key, which Firehose must decrypt with. */
  readonly keyArn: string;
}

export interface FirehoseToS3Props {
  /** Full delivery stream name, e.g. `clickstream-dev-raw`. */
  readonly deliveryStreamName: string;
  /** Short name used in the error prefix, e.g. `raw`. */
  readonly shortName: string;
  readonly bucketArn: string;
  /** Key prefix without slashes, e.g. `rawdata`, or `errors/rejected` for nested ones. */
  readonly prefix: string;
  readonly errorPrefix: string;
  readonly bufferIntervalSeconds: number;
  readonly bufferSizeMB: number;
  readonly logRetentionDays: number;
  readonly source?: KinesisSource;
  /** Add a newline after each record (for producers that send bare JSON objects). */
  readonly appendNewline?: boolean;
}


export class FirehoseToS3 extends Construct {
  readonly deliveryStream: KinesisFirehoseDeliveryStream;
  readonly logGroup: CloudwatchLogGroup;
  readonly role: ServiceRole;

  constructor(scope: Construct, id: string, props: FirehoseToS3Props) {
    super(scope, id);
    this.logGroup = new CloudwatchLogGroup(this, "logs", {
      name: `/aws/kinesisfirehose/${props.deliveryStreamName}`,
      retentionInDays: props.logRetentionDays,
    });
    const logStream = new CloudwatchLogStream(this, "delivery-log", { name: "DestinationDelivery", logGroupName: this.logGroup.name });

    const bucket = props.bucketArn;
    const statements: PolicyStatement[] = [
      { sid: "LakeBucket", actions: ["s3:GetBucketLocation", "s3:ListBucket", "s3:ListBucketMultipartUploads"], resources: [bucket] },
      {
        sid: "LakeObjects",
        actions: ["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
        // its data prefix and its own folder of delivery failures, nothing else
        resources: [`${bucket}/${props.prefix}/*`, `${bucket}/${deliveryFailedRoot(props.errorPrefix, props.shortName)}/*`],
      },
      { sid: "DeliveryLogs", actions: ["logs:PutLogEvents"], resources: [logStreamsOf(this.logGroup.arn)] },
    ];
    if (props.source) {
      statements.push(
        {
          sid: "ReadSourceStream",
          actions: ["kinesis:DescribeStream", "kinesis:DescribeStreamSummary", "kinesis:GetShardIterator", "kinesis:GetRecords", "kinesis:ListShards"],
          resources: [props.source.streamArn],
        },
        { sid: "DecryptSourceStream", actions: ["kms:Decrypt"], resources: [props.source.keyArn] },
      );
    }
    this.role = new ServiceRole(this, "delivery", {
      roleName: `${props.deliveryStreamName}-firehose`.slice(0, 64),
      servicePrincipal: "firehose.amazonaws.com",
      description: `Firehose ${props.deliveryStreamName} writes to the lake`,
      statements,
    });

    this.deliveryStream = new KinesisFirehoseDeliveryStream(this, "stream", {
      name: props.deliveryStreamName,
      destination: "extended_s3",
      kinesisSourceConfiguration: props.source ? { kinesisStreamArn: props.source.streamArn, roleArn: this.role.role.arn } : undefined,
      serverSideEncryption: props.source ? undefined : { enabled: true, keyType: "AWS_OWNED_CMK" },
      extendedS3Configuration: {
        roleArn: this.role.role.arn,
        bucketArn: bucket,
        prefix: firehosePrefix(props.prefix),
        errorOutputPrefix: firehoseErrorPrefix(props.errorPrefix, props.shortName),
        bufferingInterval: props.bufferIntervalSeconds,
        bufferingSize: props.bufferSizeMB,
        compressionFormat: "GZIP",
        cloudwatchLoggingOptions: { enabled: true, logGroupName: this.logGroup.name, logStreamName: logStream.name },
        processingConfiguration: props.appendNewline
          ? { enabled: true, processors: [{ type: "AppendDelimiterToRecord" }] }
          : undefined,
      },
      dependsOn: [this.role.policy],
    });
  }
}
