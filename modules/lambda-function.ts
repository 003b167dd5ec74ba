import { Construct } from "constructs";
import { AssetType, TerraformAsset } from "cdktf";
import { CloudwatchLogGroup } from "@cdktf/provider-aws/lib/cloudwatch-log-group";
import { LambdaFunction as AwsLambdaFunction } from "@cdktf/provider-aws/lib/lambda-function";
import { logStreamsOf, ServiceRole, type PolicyStatement } from "./iam";
import type { FunctionCode } from "./function-code";

/**
 * One Lambda function with its own role (only the statements given, plus writing to its own
 * log group), a log group with retention created before the function (so Lambda never
 * creates an unbounded one), and the code as a deterministic zip asset.
 */
export interface LambdaFunctionProps {
  readonly functionName: string;
  readonly description: string;
  readonly code: FunctionCode;
  readonly environment: Record<string, string>;
  readonly memoryMB: number;
  readonly timeoutSeconds: number;
  readonly logRetentionDays: number;
  readonly statements: readonly PolicyStatement[];
}

/**
 * Node.js 22: nodejs20.x was deprecated on 2026-04-30 and Lambda no longer creates functions on it.
 * nodejs24.x would last longer, but the provider 5.100.0 the offline check validates with does
 * not know it yet; 22 is supported until 2027-04-30.
 */
export const LAMBDA_RUNTIME = "nodejs22.x";

export class LambdaFunction extends Construct {
  readonly function: AwsLambdaFunction;
  readonly logGroup: CloudwatchLogGroup;
  readonly role: ServiceRole;

  constructor(scope: Construct, id: string, props: LambdaFunctionProps) {
    super(scope, id);
    this.logGroup = new CloudwatchLogGroup(this, "logs", {
      name: `/aws/lambda/${props.functionName}`,
      retentionInDays: props.logRetentionDays,
    });
    this.role = new ServiceRole(this, "execution", {
      roleName: `${props.functionName}-role`.slice(0, 64),
      servicePrincipal: "lambda.amazonaws.com",
      description: `Execution role of ${props.functionName}`,
      statements: [
        ...props.statements,
        { sid: "OwnLogs", actions: ["logs:CreateLogStream", "logs:PutLogEvents"], resources: [logStreamsOf(this.logGroup.arn)] },
      ],
    });
    const asset = new TerraformAsset(this, "code", {
      path: props.code.file,
      type: AssetType.FILE,
      assetHash: props.code.sha256,
    });
    this.function = new AwsLambdaFunction(this, "function", {
      functionName: props.functionName,
      description: props.description,
      role: this.role.role.arn,
      runtime: LAMBDA_RUNTIME,
      architectures: ["arm64"],
      handler: "index.handler",
      filename: asset.path,
      sourceCodeHash: props.code.sha256Base64,
      memorySize: props.memoryMB,
      timeout: props.timeoutSeconds,
      environment: { variables: props.environment },
      dependsOn: [this.logGroup, this.role.policy],
    });
  }
}
