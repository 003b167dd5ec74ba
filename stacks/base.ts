import { Construct, Node } from "constructs";
import { S3Backend, TerraformElement, TerraformStack } from "cdktf";
import { AwsProvider } from "@cdktf/provider-aws/lib/provider";
import type { SessionizationConfig } from "../config/schema";

/**
 * What every stack shares: the AWS provider for the configured region with the config's tags
 * as default tags, and readable Terraform addresses (`aws_s3_bucket.data_bucket` rather than
 * cdktf's hashed ids), so plans stay small and readable in review.
 */
export const LAYERS = ["lake", "ingest", "analytics", "catalog"] as const;
export type LayerName = (typeof LAYERS)[number];
export type StackName = "bootstrap" | LayerName;

export function stackTags(config: SessionizationConfig, stack: StackName): Record<string, string> {
  return {
    "sessionization:project": config.project,
    "sessionization:environment": config.environment,
    "sessionization:stack": stack,
    ...config.tags,
  };
}

export abstract class ProjectStack extends TerraformStack {
  readonly config: SessionizationConfig;
  readonly provider: AwsProvider;

  protected constructor(scope: Construct, readonly stackName: StackName, config: SessionizationConfig) {
    super(scope, stackName);
    this.config = config;
    this.provider = new AwsProvider(this, "aws", {
      region: config.region,
      defaultTags: [{ tags: stackTags(config, stackName) }],
    });
  }

  /** `<path below the stack>` joined with `_`: unique within the stack, stable, readable. */
  protected allocateLogicalId(element: TerraformElement | Node): string {
    const node = element instanceof Node ? element : element.node;
    const parts = node.scopes.slice(node.scopes.indexOf(this) + 1).map((s) => s.node.id);
    return parts.join("_").replace(/[^A-Za-z0-9_-]/g, "_");
  }
}

/** The S3 state object key of a layer: one per stack and environment. */
export function stateKey(config: SessionizationConfig, layer: LayerName): string {
  return `${config.state.keyPrefix}/${config.environment}/${layer}.tfstate`;
}

/**
 * A layer stack: remote state in the bootstrap bucket, encrypted, with S3-native locking
 * (`use_lockfile`; cdktf 0.21's S3Backend has no typed field for it, hence the override).
 * No DynamoDB lock table.
 */
export abstract class LayerStack extends ProjectStack {
  protected constructor(scope: Construct, layer: LayerName, config: SessionizationConfig) {
    super(scope, layer, config);
    new S3Backend(this, {
      bucket: config.state.bucket,
      key: stateKey(config, layer),
      region: config.region,
      encrypt: true,
    });
    this.addOverride("terraform.backend.s3.use_lockfile", true);
  }
}
