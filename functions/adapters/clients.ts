import { DynamoDBClient } from "@aws-sdk/client-dynamodb";
import { FirehoseClient } from "@aws-sdk/client-firehose";

/**
 * AWS clients with the SDK's default credential, region and endpoint chain: in Lambda the
 * function's role and region; locally AWS_ENDPOINT_URL_DYNAMODB / AWS_ENDPOINT_URL_FIREHOSE
 * point them at the emulators, with no code change.
 */
export function dynamoClient(): DynamoDBClient {
  return new DynamoDBClient({});
}

export function firehoseClient(): FirehoseClient {
  return new FirehoseClient({});
}
