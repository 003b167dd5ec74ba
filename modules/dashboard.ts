import { Construct } from "constructs";
import { CloudwatchDashboard } from "@cdktf/provider-aws/lib/cloudwatch-dashboard";

/**
 * The seed's dashboard `Sessionization-<name>`: the EMF metrics `session_duration` and
 * `session_events` (namespace from the config, dimension `service` = POWERTOOLS_SERVICE_NAME),
 * plus the stream's incoming records, the sessionizer's iterator age, both functions' errors
 * and duration, rejected records, and Firehose delivery.
 */
export interface SessionDashboardProps {
  readonly dashboardName: string;
  readonly region: string;
  readonly metricsNamespace: string;
  readonly serviceName: string;
  readonly streamName: string;
  readonly functionNames: readonly string[];
  readonly sessionizerName: string;
  readonly deliveryStreamNames: readonly string[];
}

type Metric = (string | Record<string, unknown>)[];

export class SessionDashboard extends Construct {
  readonly dashboard: CloudwatchDashboard;

  constructor(scope: Construct, id: string, props: SessionDashboardProps) {
    super(scope, id);
    const ns = props.metricsNamespace;
    const svc = ["service", props.serviceName];
    let y = 0;
    const widgets: object[] = [];
    const row = (...items: { title: string; metrics: Metric[]; stat?: string; view?: string }[]) => {
      items.forEach((w, i) =>
        widgets.push({
          type: "metric",
          x: i * (24 / items.length),
          y,
          width: 24 / items.length,
          height: 6,
          properties: { title: w.title, region: props.region, view: w.view ?? "timeSeries", stat: w.stat ?? "Sum", period: 60, metrics: w.metrics },
        }),
      );
      y += 6;
    };
    row(
      {
        title: "session_duration (s)",
        stat: "Average",
        metrics: [
          [ns, "session_duration", ...svc, { stat: "Average", label: "average" }],
          [ns, "session_duration", ...svc, { stat: "p90", label: "p90" }],
          [ns, "session_duration", ...svc, { stat: "Maximum", label: "max" }],
        ],
      },
      {
        title: "session_events",
        metrics: [
          [ns, "session_events", ...svc, { stat: "Sum", label: "events in closed sessions" }],
          [ns, "session_events", ...svc, { stat: "SampleCount", label: "sessions" }],
        ],
      },
    );
    row(
      { title: "Stream incoming records", metrics: [["AWS/Kinesis", "IncomingRecords", "StreamName", props.streamName]] },
      { title: "Sessionizer iterator age (ms)", stat: "Maximum", metrics: [["AWS/Lambda", "IteratorAge", "FunctionName", props.sessionizerName]] },
      {
        // Published with a `reason` dimension as well: one search sums every reason.
        title: "Rejected records (all reasons)",
        metrics: [[{ expression: `SUM(SEARCH('{${ns},reason,service} MetricName="rejected_records" service="${props.serviceName}"', 'Sum', 60))`, label: "rejected", id: "rejected" }]],
      },
    );
    row(
      { title: "Function errors", metrics: props.functionNames.map((f) => ["AWS/Lambda", "Errors", "FunctionName", f]) },
      { title: "Function duration (ms)", stat: "Average", metrics: props.functionNames.map((f) => ["AWS/Lambda", "Duration", "FunctionName", f]) },
    );
    row(
      { title: "Firehose records delivered to S3", metrics: props.deliveryStreamNames.map((d) => ["AWS/Firehose", "DeliveryToS3.Records", "DeliveryStreamName", d]) },
      { title: "Firehose S3 delivery success", stat: "Minimum", metrics: props.deliveryStreamNames.map((d) => ["AWS/Firehose", "DeliveryToS3.Success", "DeliveryStreamName", d]) },
    );
    this.dashboard = new CloudwatchDashboard(this, "dashboard", {
      dashboardName: props.dashboardName,
      dashboardBody: JSON.stringify({ widgets }),
    });
  }
}

export const dashboardUrl = (region: string, name: string) =>
  `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${name}`;
