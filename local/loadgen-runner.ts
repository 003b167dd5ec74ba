import { runLoad } from "../loadgen/run";
import type { LoadRunner } from "./pipeline";

/**
 * The product's load generator (loadgen/run.ts `runLoad`) as the local pipeline's load:
 * real-time PutRecords into the local stream (its own client, pointed at kinesalite, so its
 * retry and send-time stamping are the ones it uses against AWS), events.ndjson and
 * expected.json in the out folder.
 */
export interface LoadgenLoadOptions {
  readonly events: number;
  readonly rate: number;
  readonly users?: number;
  readonly lateFraction?: number;
  readonly malformedFraction?: number;
  readonly seed?: number;
}

export function loadgenLoad(options: LoadgenLoadOptions): LoadRunner {
  return async (ctx) => {
    const result = await runLoad(
      {
        stream: ctx.streamName,
        region: ctx.region,
        endpoint: ctx.kinesisEndpoint,
        events: options.events,
        rate: options.rate,
        users: options.users,
        seed: options.seed,
        window: ctx.windowSeconds,
        lateFraction: options.lateFraction,
        malformedFraction: options.malformedFraction,
        out: ctx.outDir,
      },
      {
        signal: ctx.signal,
        onProgress: (p) =>
          ctx.onProgress({ sent: p.generated, acknowledged: p.acknowledged, total: p.target, retried: p.retried, failed: p.failed }),
      },
    );
    if (result.counts.failed > 0) process.stderr.write(`\nload: ${result.counts.failed} records finally failed (left out of the expectations)\n`);
    return { expectedFile: result.expectedPath };
  };
}
