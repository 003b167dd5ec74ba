import { Construct } from "constructs";
import { IamRole } from "@cdktf/provider-aws/lib/iam-role";
import { IamRolePolicy } from "@cdktf/provider-aws/lib/iam-role-policy";

/**
 * IAM policies as plain JSON text (no data sources, nothing to look up at plan time), and a
 * service role with one inline policy. Every statement names its resources: the security
 * tests reject an action `*` and a resource `*` outside `WILDCARD_RESOURCE_ACTIONS`.
 */
export interface PolicyStatement {
  readonly sid: string;
  readonly actions: readonly string[];
  readonly resources: readonly string[];
  readonly effect?: "Allow" | "Deny";
  readonly principals?: Record<string, string | readonly string[]>;
  readonly conditions?: Record<string, Record<string, string | readonly string[]>>;
}

/**
 * AWS API actions that only accept `Resource: "*"` and that this project uses. Empty: the
 * design needs none (no cloudwatch:PutMetricData: metrics are EMF log lines; no
 * kinesis:ListStreams: the event source mapping works without it).
 */
export const WILDCARD_RESOURCE_ACTIONS: readonly string[] = [];

export function policyDocument(statements: readonly PolicyStatement[]): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: statements.map((s) => ({
      Sid: s.sid,
      Effect: s.effect ?? "Allow",
      ...(s.principals ? { Principal: s.principals } : {}),
      Action: s.actions.length === 1 ? s.actions[0] : [...s.actions],
      Resource: s.resources.length === 1 ? s.resources[0] : [...s.resources],
      ...(s.conditions ? { Condition: s.conditions } : {}),
    })),
  });
}

export function assumeRolePolicy(servicePrincipal: string): string {
  return JSON.stringify({
    Version: "2012-10-17",
    Statement: [{ Effect: "Allow", Principal: { Service: servicePrincipal }, Action: "sts:AssumeRole" }],
  });
}

export interface ServiceRoleProps {
  readonly roleName: string;
  readonly servicePrincipal: string;
  readonly description: string;
  readonly statements: readonly PolicyStatement[];
}

/** A role one AWS service assumes, with exactly the statements given (an inline policy). */
export class ServiceRole extends Construct {
  readonly role: IamRole;
  readonly policy: IamRolePolicy;

  constructor(scope: Construct, id: string, props: ServiceRoleProps) {
    super(scope, id);
    this.role = new IamRole(this, "role", {
      name: props.roleName,
      description: props.description,
      assumeRolePolicy: assumeRolePolicy(props.servicePrincipal),
    });
    this.policy = new IamRolePolicy(this, "policy", {
      name: "least-privilege",
      role: this.role.id,
      policy: policyDocument(props.statements),
    });
  }
}

/** The ARN of every log stream in a log group (`aws_cloudwatch_log_group.arn` has no `:*`). */
export const logStreamsOf = (logGroupArn: string) => `${logGroupArn}:log-stream:*`;
