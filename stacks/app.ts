import * as path from "node:path";
import { App } from "cdktf";
import type { SessionizationConfig } from "../config/schema";
import type { FunctionCode, FunctionName } from "../modules/function-code";
import { PROJECT_ROOT } from "../modules/project";
import { AnalyticsStack } from "./analytics";
import { BootstrapStack } from "./bootstrap";
import { CatalogStack } from "./catalog";
import { IngestStack } from "./ingest";
import { LakeStack } from "./lake";

/** The whole app: bootstrap (local state) and the four layers (S3 state), in deploy order. */
export const DEPLOY_ORDER = ["bootstrap", "lake", "ingest", "analytics", "catalog"] as const;

export interface BuildAppOptions {
  readonly outdir?: string;
  /** Where the bootstrap stack keeps its local state (default: `terraform.bootstrap.<env>.tfstate` in the project). */
  readonly bootstrapStateFile?: string;
  /** The Lambda packages, built before synthesis (zipping is asynchronous): `await buildFunctionPackages()`. */
  readonly functionCode: Record<FunctionName, FunctionCode>;
}

export interface SessionizationApp {
  readonly app: App;
  readonly bootstrap: BootstrapStack;
  readonly lake: LakeStack;
  readonly ingest: IngestStack;
  readonly analytics: AnalyticsStack;
  readonly catalog: CatalogStack;
}

export { PROJECT_ROOT };

export function buildApp(config: SessionizationConfig, options: BuildAppOptions): SessionizationApp {
  const outdir = path.resolve(options.outdir ?? path.join(PROJECT_ROOT, "cdktf.out"));
  const app = new App({ outdir, skipValidation: false });
  const stateFile = options.bootstrapStateFile ?? path.join(PROJECT_ROOT, `terraform.bootstrap.${config.environment}.tfstate`);
  const bootstrap = new BootstrapStack(app, config, {
    localStatePath: path.relative(path.join(outdir, "stacks", "bootstrap"), path.resolve(stateFile)),
  });
  const lake = new LakeStack(app, config);
  const ingest = new IngestStack(app, config, lake);
  const analytics = new AnalyticsStack(app, config, { lake, ingest, functionCode: options.functionCode });
  const catalog = new CatalogStack(app, config, lake);
  return { app, bootstrap, lake, ingest, analytics, catalog };
}
