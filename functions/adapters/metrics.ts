import { Metrics, MetricUnit } from "@aws-lambda-powertools/metrics";
import type { RejectReason } from "../core/event";
import type { SessionRow } from "../core/row";
import type { MetricsPort } from "./ports";

export const METRIC = {
  sessionDuration: "session_duration",
  sessionEvents: "session_events",
  rejectedRecords: "rejected_records",
} as const;

/**
 * Metrics in CloudWatch Embedded Metric Format through Powertools (written to stdout, which
 * Lambda ships to CloudWatch Logs; CloudWatch extracts the metrics). No PutMetricData calls.
 */
export class PowertoolsMetrics implements MetricsPort {
  readonly metrics: Metrics;
  private stored = false;

  constructor(namespace: string, serviceName: string) {
    this.metrics = new Metrics({ namespace, serviceName });
  }

  rows(rows: readonly SessionRow[]): void {
    for (const row of rows) {
      this.metrics.addMetric(METRIC.sessionDuration, MetricUnit.Seconds, row.duration_sec);
      this.metrics.addMetric(METRIC.sessionEvents, MetricUnit.Count, row.events);
      this.stored = true;
    }
  }

  rejected(counts: ReadonlyMap<RejectReason, number>): void {
    for (const [reason, n] of counts) {
      const single = this.metrics.singleMetric();
      single.addDimension("reason", reason);
      single.addMetric(METRIC.rejectedRecords, MetricUnit.Count, n);
    }
  }

  flush(): void {
    if (this.stored) this.metrics.publishStoredMetrics();
    this.stored = false;
  }
}

/** Collects what would be published (tests, replay, benchmarks). */
export class MemoryMetrics implements MetricsPort {
  readonly durations: number[] = [];
  readonly events: number[] = [];
  readonly rejectedByReason = new Map<RejectReason, number>();
  flushes = 0;
  rows(rows: readonly SessionRow[]): void {
    for (const r of rows) {
      this.durations.push(r.duration_sec);
      this.events.push(r.events);
    }
  }
  rejected(counts: ReadonlyMap<RejectReason, number>): void {
    for (const [k, n] of counts) this.rejectedByReason.set(k, (this.rejectedByReason.get(k) ?? 0) + n);
  }
  flush(): void {
    this.flushes += 1;
  }
}
