import { Construct } from "constructs";
import { CloudwatchMetricAlarm } from "@cdktf/provider-aws/lib/cloudwatch-metric-alarm";

/** A CloudWatch alarm on one metric, missing data not breaching, optional SNS notification. */
export interface MetricAlarmProps {
  readonly alarmName: string;
  readonly description: string;
  readonly namespace: string;
  readonly metricName: string;
  readonly dimensions: Record<string, string>;
  readonly statistic: "Sum" | "Maximum" | "Minimum" | "Average";
  readonly comparison: "GreaterThanThreshold" | "LessThanThreshold" | "GreaterThanOrEqualToThreshold";
  readonly threshold: number;
  readonly periodSeconds?: number;
  readonly evaluationPeriods?: number;
  readonly topicArn?: string;
}

export class MetricAlarm extends Construct {
  readonly alarm: CloudwatchMetricAlarm;

  constructor(scope: Construct, id: string, props: MetricAlarmProps) {
    super(scope, id);
    const actions = props.topicArn ? [props.topicArn] : undefined;
    this.alarm = new CloudwatchMetricAlarm(this, "alarm", {
      alarmName: props.alarmName,
      alarmDescription: props.description,
      namespace: props.namespace,
      metricName: props.metricName,
      dimensions: props.dimensions,
      statistic: props.statistic,
      comparisonOperator: props.comparison,
      threshold: props.threshold,
      period: props.periodSeconds ?? 60,
      evaluationPeriods: props.evaluationPeriods ?? 1,
      treatMissingData: "notBreaching",
      alarmActions: actions,
      okActions: actions,
    });
  }
}
