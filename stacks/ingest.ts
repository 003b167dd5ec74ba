import { Construct } from "constructs";
import { TerraformOutput } from "cdktf";
import { KinesisStream } from "@cdktf/provider-aws/lib/kinesis-stream";
import { KmsAlias } from "@cdktf/provider-aws/lib/kms-alias";
import { KmsKey } from "@cdktf/provider-aws/lib/kms-key";
import type { SessionizationConfig } from "../config/schema";
import { FirehoseToS3 } from "../modules/firehose-to-s3";
import { LayerStack } from "./base";
import type { LakeStack } from "./lake";

/**
 * Ingest: the Kinesis stream the events arrive on (KMS-encrypted with a customer key),
 * and Firehose `raw` copying every record, as it came, to `rawdata/` by arrival hour.
 */
export class IngestStack extends LayerStack {
  readonly key: KmsKey;
  readonly stream: KinesisStream;
  readonly raw: FirehoseToS3;

  constructor(scope: Construct, config: SessionizationConfig, lake: LakeStack) {
    super(scope, "ingest", config);
    // No key policy given: AWS's default one lets this account's IAM policies grant use.
    this.key = new KmsKey(this, "stream-key", {
      description: `Encrypts the Kinesis stream ${config.stream.name} (${config.namePrefix})`,
      enableKeyRotation: true,
      deletionWindowInDays: 30,
    });
    new KmsAlias(this, "stream-key-alias", { name: `alias/${config.namePrefix}-stream`, targetKeyId: this.key.keyId });

    const provisioned = config.stream.mode === "provisioned";
    this.stream = new KinesisStream(this, "stream", {
      name: config.stream.name,
      shardCount: provisioned ? config.stream.shardCount : undefined,
      retentionPeriod: config.stream.retentionHours,
      encryptionType: "KMS",
      kmsKeyId: this.key.arn,
      streamModeDetails: { streamMode: provisioned ? "PROVISIONED" : "ON_DEMAND" },
    });

    this.raw = new FirehoseToS3(this, "raw", {
      deliveryStreamName: `${config.namePrefix}-raw`,
      shortName: "raw",
      bucketArn: lake.data.bucket.arn,
      prefix: config.lake.rawPrefix,
      errorPrefix: config.lake.errorPrefix,
      bufferIntervalSeconds: config.firehose.bufferIntervalSeconds,
      bufferSizeMB: config.firehose.bufferSizeMB,
      logRetentionDays: config.analytics.logRetentionDays,
      source: { streamArn: this.stream.arn, keyArn: this.key.arn },
      appendNewline: true,
    });

    new TerraformOutput(this, "stream_name", { value: this.stream.name, description: "Kinesis stream the load generator writes to" });
    new TerraformOutput(this, "stream_arn", { value: this.stream.arn });
    new TerraformOutput(this, "stream_key_arn", { value: this.key.arn });
    new TerraformOutput(this, "raw_delivery_stream", { value: this.raw.deliveryStream.name });
  }
}
