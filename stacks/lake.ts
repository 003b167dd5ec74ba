import { Construct } from "constructs";
import { TerraformOutput } from "cdktf";
import type { SessionizationConfig } from "../config/schema";
import { SecureBucket } from "../modules/secure-bucket";
import { LayerStack } from "./base";

/**
 * The data lake: one bucket holding `rawdata/`, `<destinationPrefix>/`, `<errorPrefix>/` and the
 * Athena query results, with lifecycle rules per prefix.
 */
export class LakeStack extends LayerStack {
  readonly data: SecureBucket;
  /** `s3://<bucket>/<athenaResultsPrefix>/` */
  readonly athenaResultsLocation: string;

  constructor(scope: Construct, config: SessionizationConfig) {
    super(scope, "lake", config);
    const lake = config.lake;
    this.data = new SecureBucket(this, "data", {
      bucket: lake.bucketName,
      bucketPrefix: `${config.namePrefix}-lake-`.slice(0, 37),
      lifecycle: [
        { prefix: lake.rawPrefix, expirationDays: lake.rawExpirationDays },
        { prefix: config.firehose.destinationPrefix, transitionToIaDays: lake.aggregatedTransitionDays },
        { prefix: lake.errorPrefix, expirationDays: lake.errorExpirationDays },
        { prefix: lake.athenaResultsPrefix, expirationDays: lake.athenaResultsExpirationDays },
      ],
    });
    this.athenaResultsLocation = `s3://${this.data.bucket.bucket}/${lake.athenaResultsPrefix}/`;

    new TerraformOutput(this, "bucket_name", { value: this.data.bucket.bucket, description: "The data lake bucket" });
    new TerraformOutput(this, "bucket_arn", { value: this.data.bucket.arn });
    new TerraformOutput(this, "athena_results_location", { value: this.athenaResultsLocation });
  }
}
