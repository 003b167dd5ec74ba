import type { CreateTableCommandInput } from "@aws-sdk/client-dynamodb";
import type { DynamodbTableConfig } from "@cdktf/provider-aws/lib/dynamodb-table";

/**
 * Maps a DynamoDB CreateTable request (the one definition in functions/adapters/window-table.ts,
 * which the local pipeline sends to dynalite) onto `aws_dynamodb_table` arguments, so the
 * attributes, keys, index and billing mode are never retyped. Unsupported parts (LSIs,
 * provisioned throughput, streams) fail loudly instead of being dropped.
 */
export type DynamodbTableKeyArgs = Pick<DynamodbTableConfig, "name" | "billingMode" | "hashKey" | "rangeKey" | "attribute" | "globalSecondaryIndex">;

export function dynamodbTableArgs(input: CreateTableCommandInput): DynamodbTableKeyArgs {
  if (!input.TableName) throw new Error("CreateTable input without TableName");
  if (input.LocalSecondaryIndexes?.length) throw new Error("local secondary indexes are not mapped");
  if (input.BillingMode !== "PAY_PER_REQUEST") throw new Error(`billing mode ${input.BillingMode ?? "PROVISIONED"} is not mapped (the window table is on-demand)`);
  if (input.StreamSpecification) throw new Error("streams are not mapped");
  const keyOf = (schema: CreateTableCommandInput["KeySchema"], type: "HASH" | "RANGE") => schema?.find((k) => k.KeyType === type)?.AttributeName;
  const hashKey = keyOf(input.KeySchema, "HASH");
  if (!hashKey) throw new Error("CreateTable input without a HASH key");
  return {
    name: input.TableName,
    billingMode: input.BillingMode,
    hashKey,
    rangeKey: keyOf(input.KeySchema, "RANGE"),
    attribute: (input.AttributeDefinitions ?? []).map((a) => {
      if (!a.AttributeName || !a.AttributeType) throw new Error("attribute definition without name or type");
      return { name: a.AttributeName, type: a.AttributeType };
    }),
    globalSecondaryIndex: (input.GlobalSecondaryIndexes ?? []).map((gsi) => {
      const gsiHash = keyOf(gsi.KeySchema, "HASH");
      if (!gsi.IndexName || !gsiHash) throw new Error("global secondary index without name or HASH key");
      const projection = gsi.Projection?.ProjectionType ?? "ALL";
      return {
        name: gsi.IndexName,
        hashKey: gsiHash,
        rangeKey: keyOf(gsi.KeySchema, "RANGE"),
        projectionType: projection,
        nonKeyAttributes: projection === "INCLUDE" ? gsi.Projection?.NonKeyAttributes : undefined,
      };
    }),
  };
}
