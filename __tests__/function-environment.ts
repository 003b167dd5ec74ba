import { CreateTableCommand, DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { windowTableDefinition } from "../functions/adapters/window-table";
import { DUE_INDEX_NAME, functionEnvironment } from "../functions/settings";
import { EMULATOR_CREDENTIALS } from "../local/emulators";

/**
 * Prepares what a deployed function finds: its window table (created in dynalite from the one
 * definition) and the environment the analytics stack gives it, with the SDK pointed at emulators.
 */
export interface FunctionTestSetup {
  readonly windowSeconds: number;
  readonly tableName: string;
  readonly rowsDeliveryStream: string;
  readonly rejectedDeliveryStream: string;
  readonly serviceName: string;
  readonly dynamodbEndpoint: string;
  /** Omitted: the Firehose client is mocked in-process instead. */
  readonly firehoseEndpoint?: string;
}

export async function prepareFunctionEnvironment(setup: FunctionTestSetup): Promise<void> {
  const ddb = new DynamoDBClient({ endpoint: setup.dynamodbEndpoint, region: "us-east-1", credentials: EMULATOR_CREDENTIALS });
  await ddb.send(new CreateTableCommand(windowTableDefinition(setup.tableName)));
  ddb.destroy();
  Object.assign(process.env, {
    ...functionEnvironment({
      windowSeconds: setup.windowSeconds,
      sweepGraceSeconds: 10,
      sweepPartitions: 4,
      tableName: setup.tableName,
      dueIndexName: DUE_INDEX_NAME,
      rowsDeliveryStream: setup.rowsDeliveryStream,
      rejectedDeliveryStream: setup.rejectedDeliveryStream,
      metricsNamespace: "Sessionization",
      serviceName: setup.serviceName,
    }),
    AWS_ENDPOINT_URL_DYNAMODB: setup.dynamodbEndpoint,
    ...(setup.firehoseEndpoint ? { AWS_ENDPOINT_URL_FIREHOSE: setup.firehoseEndpoint } : {}),
    AWS_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: EMULATOR_CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: EMULATOR_CREDENTIALS.secretAccessKey,
  });
}
