import type { CreateTableCommandInput } from "@aws-sdk/client-dynamodb";
import { createHash } from "node:crypto";
import { DUE_INDEX_NAME } from "../settings";

/**
 * The DynamoDB window table, defined once. The local pipeline creates the table with
 * `windowTableDefinition(name)`; the analytics stack maps the same definition onto
 * `aws_dynamodb_table` (attributes, hash key, the `by-due-time` GSI, on-demand billing).
 *
 * One item per open window key `<user_id>|<device_id>|<bucket>`; see docs/ARCHITECTURE.md
 * ("Window state in DynamoDB") for the protocol that reads and writes it.
 */

/** Item attribute names. Only the first three are key attributes (declared in the table). */
export const WINDOW_ATTR = {
  /** Partition key (S): `<user_id>|<device_id>|<bucket>`. */
  pk: "pk",
  /** GSI partition key (S): `"0".."N-1"`, a stable hash of pk (see `sweepPartitionOf`). */
  sweepPartition: "sweep_partition",
  /** GSI sort key (N): epoch ms at which the open window closes (opened_at + W). */
  closesAt: "closes_at",
  /** (N) optimistic-concurrency version; every write is conditional on it. */
  version: "version",
  /** (BOOL) the window is closed whatever the next arrival: claimed by the sweeper, or closed by a sessionizer about to emit it. */
  frozen: "frozen",
  /** (S) on a frozen item: `sessionizer` or `sweeper`, who froze it. */
  frozenBy: "frozen_by",
  /** (N, epoch ms) on a frozen item: when it was frozen (the other party waits out the lease from here). */
  frozenAt: "frozen_at",
  /** (M) Kinesis shard id -> last sequence number applied to this key (retried-batch dedupe). */
  positions: "positions",
  /** (N, epoch seconds) set on tombstones only: the table's TTL attribute. */
  expiresAt: "expires_at",
  /** Window contents (see WindowState in functions/core/stagger.ts). */
  userId: "user_id",
  deviceId: "device_id",
  bucket: "bucket",
  openedAt: "opened_at",
  events: "events",
  firstEvent: "first_event",
  lastEvent: "last_event",
  minTs: "min_ts",
  maxTs: "max_ts",
} as const;

/** The key attributes with their DynamoDB types (S = string, N = number). */
export const WINDOW_KEY_ATTRIBUTES = [
  { name: WINDOW_ATTR.pk, type: "S" },
  { name: WINDOW_ATTR.sweepPartition, type: "S" },
  { name: WINDOW_ATTR.closesAt, type: "N" },
] as const;

export const WINDOW_TABLE_HASH_KEY = WINDOW_ATTR.pk;

export const WINDOW_DUE_INDEX = {
  name: DUE_INDEX_NAME,
  hashKey: WINDOW_ATTR.sweepPartition,
  rangeKey: WINDOW_ATTR.closesAt,
  projectionType: "ALL",
} as const;

/**
 * The TTL attribute. Enable TTL on it (aws_dynamodb_table `ttl { attribute_name, enabled }`):
 * only tombstones carry it, so DynamoDB removes a key's dedupe positions a day after its
 * last window was emitted. Open windows never expire.
 */
export const WINDOW_TTL_ATTRIBUTE = WINDOW_ATTR.expiresAt;

/** How long a tombstone keeps a key's positions (longer than Lambda retries a Kinesis batch). */
export const TOMBSTONE_TTL_SECONDS = 24 * 3600;

export const WINDOW_TABLE_BILLING_MODE = "PAY_PER_REQUEST" as const;

/** The CreateTable request for the window table (on-demand, one GSI). */
export function windowTableDefinition(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: WINDOW_TABLE_BILLING_MODE,
    AttributeDefinitions: WINDOW_KEY_ATTRIBUTES.map((a) => ({ AttributeName: a.name, AttributeType: a.type })),
    KeySchema: [{ AttributeName: WINDOW_TABLE_HASH_KEY, KeyType: "HASH" }],
    GlobalSecondaryIndexes: [
      {
        IndexName: WINDOW_DUE_INDEX.name,
        KeySchema: [
          { AttributeName: WINDOW_DUE_INDEX.hashKey, KeyType: "HASH" },
          { AttributeName: WINDOW_DUE_INDEX.rangeKey, KeyType: "RANGE" },
        ],
        Projection: { ProjectionType: WINDOW_DUE_INDEX.projectionType },
      },
    ],
  };
}

/** The sweep partition of a window key: a stable hash of the key, `"0"`..`String(partitions - 1)`. */
export function sweepPartitionOf(key: string, partitions: number): string {
  const h = createHash("md5").update(key).digest();
  return String(h.readUInt32BE(0) % partitions);
}
