import { Construct } from "constructs";
import { LocalBackend, TerraformOutput } from "cdktf";
import type { SessionizationConfig } from "../config/schema";
import { SecureBucket } from "../modules/secure-bucket";
import { ProjectStack } from "./base";

/**
 * The Terraform state bucket, with local state (it cannot keep its own state in itself):
 * versioned, encrypted, public access blocked, TLS-only, `prevent_destroy`. Deployed once per
 * account/environment before the layers; keep its local state file (or import the bucket).
 */
export interface BootstrapStackProps {
  /** The local state file, relative to the stack's synthesized folder. */
  readonly localStatePath: string;
}

export class BootstrapStack extends ProjectStack {
  readonly stateBucket: SecureBucket;

  constructor(scope: Construct, config: SessionizationConfig, props: BootstrapStackProps) {
    super(scope, "bootstrap", config);
    new LocalBackend(this, { path: props.localStatePath });
    this.stateBucket = new SecureBucket(this, "state", {
      bucket: config.state.bucket,
      preventDestroy: true,
      noncurrentVersionExpirationDays: 90,
    });
    new TerraformOutput(this, "state_bucket", { value: this.stateBucket.bucket.bucket, description: "Terraform state bucket of the layer stacks" });
  }
}
