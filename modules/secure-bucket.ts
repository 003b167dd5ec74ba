import { Construct } from "constructs";
import { S3Bucket } from "@cdktf/provider-aws/lib/s3-bucket";
import { S3BucketLifecycleConfiguration, type S3BucketLifecycleConfigurationRule } from "@cdktf/provider-aws/lib/s3-bucket-lifecycle-configuration";
import { S3BucketOwnershipControls } from "@cdktf/provider-aws/lib/s3-bucket-ownership-controls";
import { S3BucketPolicy } from "@cdktf/provider-aws/lib/s3-bucket-policy";
import { S3BucketPublicAccessBlock } from "@cdktf/provider-aws/lib/s3-bucket-public-access-block";
import { S3BucketServerSideEncryptionConfigurationA } from "@cdktf/provider-aws/lib/s3-bucket-server-side-encryption-configuration";
import { S3BucketVersioningA } from "@cdktf/provider-aws/lib/s3-bucket-versioning";
import { policyDocument } from "./iam";

/**
 * An S3 bucket with the project's baseline: default encryption (SSE-S3 with bucket keys),
 * versioning, every public access block setting on, object ownership enforced (no ACLs), a
 * bucket policy that denies any request not made over TLS 1.2+, and optional lifecycle rules.
 */
export interface PrefixLifecycle {
  /** Key prefix without a trailing slash, e.g. `rawdata`. */
  readonly prefix: string;
  readonly expirationDays?: number;
  readonly transitionToIaDays?: number;
}

export interface SecureBucketProps {
  /** An exact name, or... */
  readonly bucket?: string;
  /** ...a prefix AWS completes with a unique suffix. */
  readonly bucketPrefix?: string;
  readonly preventDestroy?: boolean;
  readonly lifecycle?: readonly PrefixLifecycle[];
  /** Non-current versions are deleted after this many days (default 30). */
  readonly noncurrentVersionExpirationDays?: number;
}

export class SecureBucket extends Construct {
  readonly bucket: S3Bucket;
  readonly publicAccessBlock: S3BucketPublicAccessBlock;
  readonly policy: S3BucketPolicy;

  constructor(scope: Construct, id: string, props: SecureBucketProps) {
    super(scope, id);
    this.bucket = new S3Bucket(this, "bucket", {
      bucket: props.bucket,
      bucketPrefix: props.bucket ? undefined : props.bucketPrefix,
      forceDestroy: false,
      lifecycle: props.preventDestroy ? { preventDestroy: true } : undefined,
    });
    const bucketId = this.bucket.id;

    new S3BucketOwnershipControls(this, "ownership", {
      bucket: bucketId,
      rule: { objectOwnership: "BucketOwnerEnforced" },
    });
    this.publicAccessBlock = new S3BucketPublicAccessBlock(this, "public-access-block", {
      bucket: bucketId,
      blockPublicAcls: true,
      blockPublicPolicy: true,
      ignorePublicAcls: true,
      restrictPublicBuckets: true,
    });
    new S3BucketServerSideEncryptionConfigurationA(this, "encryption", {
      bucket: bucketId,
      rule: [{ applyServerSideEncryptionByDefault: { sseAlgorithm: "AES256" }, bucketKeyEnabled: true }],
    });
    new S3BucketVersioningA(this, "versioning", {
      bucket: bucketId,
      versioningConfiguration: { status: "Enabled" },
    });
    const arn = this.bucket.arn;
    this.policy = new S3BucketPolicy(this, "tls-only", {
      bucket: bucketId,
      policy: policyDocument([
        {
          sid: "DenyInsecureTransport",
          effect: "Deny",
          principals: { AWS: "*" },
          actions: ["s3:*"],
          resources: [arn, `${arn}/*`],
          conditions: { Bool: { "aws:SecureTransport": "false" } },
        },
        {
          sid: "DenyOutdatedTls",
          effect: "Deny",
          principals: { AWS: "*" },
          actions: ["s3:*"],
          resources: [arn, `${arn}/*`],
          conditions: { NumericLessThan: { "s3:TlsVersion": "1.2" } },
        },
      ]),
      dependsOn: [this.publicAccessBlock],
    });

    const rules: S3BucketLifecycleConfigurationRule[] = [
      {
        id: "abort-incomplete-uploads-and-old-versions",
        status: "Enabled",
        filter: [{ prefix: "" }],
        abortIncompleteMultipartUpload: [{ daysAfterInitiation: 7 }],
        noncurrentVersionExpiration: [{ noncurrentDays: props.noncurrentVersionExpirationDays ?? 30 }],
      },
      ...(props.lifecycle ?? []).map(
        (r): S3BucketLifecycleConfigurationRule => ({
          id: `${r.prefix}-lifecycle`,
          status: "Enabled",
          filter: [{ prefix: `${r.prefix}/` }],
          ...(r.expirationDays !== undefined ? { expiration: [{ days: r.expirationDays }] } : {}),
          ...(r.transitionToIaDays !== undefined ? { transition: [{ days: r.transitionToIaDays, storageClass: "STANDARD_IA" }] } : {}),
        }),
      ),
    ];
    new S3BucketLifecycleConfiguration(this, "lifecycle", { bucket: bucketId, rule: rules });
  }
}
