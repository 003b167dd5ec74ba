import { createHash } from "node:crypto";
import { KinesisClient, ListShardsCommand, type ListShardsCommandOutput } from "@aws-sdk/client-kinesis";

/** A shard's hash key range (Kinesis maps a record to the shard whose range holds md5(partition key)). */
export interface ShardRange {
  readonly shardId: string;
  readonly start: bigint;
  readonly end: bigint;
}

const HASH_SPACE = 1n << 128n;

/** The ranges Kinesis gives a new provisioned stream of `count` shards: an even split. */
export function evenShardRanges(count: number): ShardRange[] {
  const size = HASH_SPACE / BigInt(count);
  return Array.from({ length: count }, (_, i) => ({
    shardId: `shardId-${String(i).padStart(12, "0")}`,
    start: size * BigInt(i),
    end: i === count - 1 ? HASH_SPACE - 1n : size * BigInt(i + 1) - 1n,
  }));
}

export function hashKey(partitionKey: string): bigint {
  return BigInt(`0x${createHash("md5").update(partitionKey, "utf8").digest("hex")}`);
}

/** Index in `ranges` (sorted by start) of the shard that takes this partition key. */
export function shardIndexFor(partitionKey: string, ranges: readonly ShardRange[]): number {
  const h = hashKey(partitionKey);
  let lo = 0;
  let hi = ranges.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (ranges[mid].start <= h) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** The stream's open shards (those without an ending sequence number), sorted by hash range. */
export async function listOpenShards(client: KinesisClient, stream: string): Promise<ShardRange[]> {
  const ranges: ShardRange[] = [];
  let nextToken: string | undefined;
  do {
    const out: ListShardsCommandOutput = await client.send(
      new ListShardsCommand(nextToken ? { NextToken: nextToken } : { StreamName: stream }),
    );
    for (const s of out.Shards ?? []) {
      if (s.SequenceNumberRange?.EndingSequenceNumber) continue;
      ranges.push({
        shardId: s.ShardId ?? "?",
        start: BigInt(s.HashKeyRange?.StartingHashKey ?? "0"),
        end: BigInt(s.HashKeyRange?.EndingHashKey ?? "0"),
      });
    }
    nextToken = out.NextToken;
  } while (nextToken);
  return ranges.sort((a, b) => (a.start < b.start ? -1 : a.start > b.start ? 1 : 0));
}
