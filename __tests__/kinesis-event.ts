import type { KinesisStreamEvent } from "aws-lambda";
import { streamArn, toLambdaRecord } from "../local/shard-consumer";

/**
 * A Kinesis event as the Lambda event source mapping delivers it, built with the local
 * pipeline's own mapping (`toLambdaRecord`), so the tests and the local run feed the handlers
 * the same shape. Sequence numbers increase across calls, as on one shard.
 */
let sequence = 0;

export function kinesisEvent(records: { arrival: string; data: string | Buffer }[], shardId = "shardId-000000000000"): KinesisStreamEvent {
  const arn = streamArn("us-east-1", "sesionesblog", "123456789012");
  return {
    Records: records.map((r) => {
      sequence += 1;
      const record = {
        SequenceNumber: `49590338271490256608559692538361571095921575989136588${String(sequence).padStart(3, "0")}`,
        PartitionKey: "7",
        Data: Buffer.from(r.data),
        ApproximateArrivalTimestamp: new Date(r.arrival),
      };
      return toLambdaRecord(record, shardId, arn, "us-east-1", "arn:aws:iam::123456789012:role/sessionizer");
    }),
  };
}
