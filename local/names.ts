import type { SessionizationConfig } from "../config/schema";

/**
 * Resource names of the local pipeline: the same the stacks give the deployed resources
 * (stacks/ingest.ts, stacks/analytics.ts), so logs and errors read the same in both places.
 */
export interface LocalNames {
  readonly stream: string;
  readonly table: string;
  readonly rawDelivery: string;
  readonly rowsDelivery: string;
  readonly rejectedDelivery: string;
  readonly sessionizer: string;
  readonly sweeper: string;
  readonly deadLetterQueue: string;
}

export function localNames(config: SessionizationConfig): LocalNames {
  const np = config.namePrefix;
  return {
    stream: config.stream.name,
    table: `${np}-windows`,
    rawDelivery: `${np}-raw`,
    rowsDelivery: `${np}-aggregated`,
    rejectedDelivery: `${np}-rejected`,
    sessionizer: `${np}-sessionizer`,
    sweeper: `${np}-sweeper`,
    deadLetterQueue: `${np}-sessionizer-dlq`,
  };
}
