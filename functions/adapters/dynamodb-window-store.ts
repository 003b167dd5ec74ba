import { ConditionalCheckFailedException, type DynamoDBClient } from "@aws-sdk/client-dynamodb";
import {
  BatchGetCommand,
  DynamoDBDocumentClient,
  PutCommand,
  QueryCommand,
  type NativeAttributeValue,
  type PutCommandInput,
} from "@aws-sdk/lib-dynamodb";
import { backOff } from "exponential-backoff";
import type { WindowState } from "../core/stagger";
import { DUE_INDEX_NAME } from "../settings";
import type { FreezeClaim, FreezerRole, Positions, WindowRecord, WindowStore } from "./ports";
import { TOMBSTONE_TTL_SECONDS, WINDOW_ATTR as A, sweepPartitionOf } from "./window-table";

type Item = Record<string, NativeAttributeValue>;

export interface DynamoWindowStoreOptions {
  readonly tableName: string;
  readonly sweepPartitions: number;
  readonly dueIndexName?: string;
  /** Attempts for BatchGet's unprocessed keys (full-jitter backoff). */
  readonly maxAttempts?: number;
  readonly startingDelayMs?: number;
}

function absent(key: string): WindowRecord {
  return { key, exists: false, version: 0, frozen: false, positions: {} };
}

/** Maps an item to a record; items without window attributes are tombstones. */
export function itemToRecord(item: Item): WindowRecord {
  const key = String(item[A.pk]);
  const frozen = item[A.frozen] === true;
  const base: WindowRecord = {
    key,
    exists: true,
    version: Number(item[A.version] ?? 0),
    frozen,
    ...(frozen && item[A.frozenBy] !== undefined ? { frozenBy: String(item[A.frozenBy]) as FreezerRole } : {}),
    ...(frozen && item[A.frozenAt] !== undefined ? { frozenAt: Number(item[A.frozenAt]) } : {}),
    positions: (item[A.positions] ?? {}) as Positions,
  };
  if (item[A.openedAt] === undefined) return base;
  const window: WindowState = {
    key,
    user_id: Number(item[A.userId]),
    device_id: String(item[A.deviceId]),
    bucket: Number(item[A.bucket]),
    opened_at: Number(item[A.openedAt]),
    closes_at: Number(item[A.closesAt]),
    events: Number(item[A.events]),
    first_event: String(item[A.firstEvent]),
    last_event: String(item[A.lastEvent]),
    min_ts: Number(item[A.minTs]),
    max_ts: Number(item[A.maxTs]),
  };
  return { ...base, window };
}

/** Errors another attempt cannot fix (the SDK has already retried throttling and 5xx). */
const NOT_RETRYABLE = new Set(["ResourceNotFoundException", "ValidationException", "AccessDeniedException", "UnrecognizedClientException"]);

function isConflict(err: unknown): boolean {
  return err instanceof ConditionalCheckFailedException || (err as Error)?.name === "ConditionalCheckFailedException";
}

/**
 * The window store on DynamoDB without transactions: every write is a conditional put on the
 * item's version (or on its absence). See docs/ARCHITECTURE.md for the protocol.
 */
export class DynamoWindowStore implements WindowStore {
  private readonly doc: DynamoDBDocumentClient;
  private readonly table: string;
  private readonly index: string;
  private readonly partitions: number;
  private readonly maxAttempts: number;
  private readonly startingDelayMs: number;

  constructor(client: DynamoDBClient, options: DynamoWindowStoreOptions) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    this.table = options.tableName;
    this.index = options.dueIndexName ?? DUE_INDEX_NAME;
    this.partitions = options.sweepPartitions;
    this.maxAttempts = options.maxAttempts ?? 8;
    this.startingDelayMs = options.startingDelayMs ?? 50;
  }

  async getMany(keys: readonly string[]): Promise<Map<string, WindowRecord>> {
    const unique = [...new Set(keys)];
    const found = new Map<string, WindowRecord>();
    const chunks: string[][] = [];
    for (let i = 0; i < unique.length; i += 100) chunks.push(unique.slice(i, i + 100));
    await Promise.all(
      chunks.map(async (chunk) => {
        let pending: Item[] = chunk.map((k) => ({ [A.pk]: k }));
        await backOff(
          async () => {
            const out = await this.doc.send(
              new BatchGetCommand({ RequestItems: { [this.table]: { Keys: pending, ConsistentRead: true } } }),
            );
            for (const item of out.Responses?.[this.table] ?? []) found.set(String(item[A.pk]), itemToRecord(item));
            pending = (out.UnprocessedKeys?.[this.table]?.Keys ?? []) as Item[];
            if (pending.length > 0) throw new Error(`BatchGetItem left ${pending.length} keys unprocessed`);
          },
          {
            numOfAttempts: this.maxAttempts,
            startingDelay: this.startingDelayMs,
            maxDelay: 2000,
            jitter: "full",
            retry: (err: unknown) => !NOT_RETRYABLE.has((err as Error)?.name),
          },
        );
      }),
    );
    return new Map(unique.map((k) => [k, found.get(k) ?? absent(k)]));
  }

  private windowItem(window: WindowState, version: number, claim: FreezeClaim | undefined, positions: Positions): Item {
    return {
      [A.pk]: window.key,
      [A.version]: version,
      [A.frozen]: claim !== undefined,
      ...(claim ? { [A.frozenBy]: claim.by, [A.frozenAt]: claim.atMs } : {}),
      [A.positions]: positions,
      [A.sweepPartition]: sweepPartitionOf(window.key, this.partitions),
      [A.closesAt]: window.closes_at,
      [A.userId]: window.user_id,
      [A.deviceId]: window.device_id,
      [A.bucket]: window.bucket,
      [A.openedAt]: window.opened_at,
      [A.events]: window.events,
      [A.firstEvent]: window.first_event,
      [A.lastEvent]: window.last_event,
      [A.minTs]: window.min_ts,
      [A.maxTs]: window.max_ts,
    };
  }

  /** A put conditional on `expected` (its version, or the item's absence); false on a conflict. */
  private async conditionalPut(expected: WindowRecord, item: Item): Promise<boolean> {
    const condition: Pick<PutCommandInput, "ConditionExpression" | "ExpressionAttributeNames" | "ExpressionAttributeValues"> = expected.exists
      ? { ConditionExpression: "#v = :v", ExpressionAttributeNames: { "#v": A.version }, ExpressionAttributeValues: { ":v": expected.version } }
      : { ConditionExpression: "attribute_not_exists(#pk)", ExpressionAttributeNames: { "#pk": A.pk } };
    try {
      await this.doc.send(new PutCommand({ TableName: this.table, Item: item, ...condition }));
      return true;
    } catch (err) {
      if (isConflict(err)) return false;
      throw err;
    }
  }

  async freeze(expected: WindowRecord, window: WindowState, positions: Positions, claim: FreezeClaim): Promise<WindowRecord | undefined> {
    const version = expected.version + 1;
    const ok = await this.conditionalPut(expected, this.windowItem(window, version, claim, positions));
    return ok ? frozenRecord(expected.key, version, positions, window, claim) : undefined;
  }

  save(expected: WindowRecord, window: WindowState, positions: Positions): Promise<boolean> {
    return this.conditionalPut(expected, this.windowItem(window, expected.version + 1, undefined, positions));
  }

  retire(expected: WindowRecord, nowMs: number): Promise<boolean> {
    return this.conditionalPut(expected, {
      [A.pk]: expected.key,
      [A.version]: expected.version + 1,
      [A.positions]: expected.positions,
      [A.expiresAt]: Math.floor(nowMs / 1000) + TOMBSTONE_TTL_SECONDS,
    });
  }

  async queryDue(partition: string, dueMs: number, limit: number): Promise<WindowRecord[]> {
    const records: WindowRecord[] = [];
    let start: Item | undefined;
    do {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.table,
          IndexName: this.index,
          KeyConditionExpression: "#sp = :p AND #ca <= :due",
          ExpressionAttributeNames: { "#sp": A.sweepPartition, "#ca": A.closesAt },
          ExpressionAttributeValues: { ":p": partition, ":due": dueMs },
          Limit: Math.min(1000, limit - records.length),
          ExclusiveStartKey: start,
        }),
      );
      for (const item of out.Items ?? []) records.push(itemToRecord(item));
      start = out.LastEvaluatedKey;
    } while (start !== undefined && records.length < limit);
    return records;
  }
}

function frozenRecord(key: string, version: number, positions: Positions, window: WindowState, claim: FreezeClaim): WindowRecord {
  return { key, exists: true, version, frozen: true, frozenBy: claim.by, frozenAt: claim.atMs, positions, window };
}

/** The same protocol in memory (tests, benchmarks); versions and conflicts behave as in DynamoDB. */
export class MemoryWindowStore implements WindowStore {
  readonly items = new Map<string, WindowRecord>();
  constructor(private readonly partitions = 1) {}

  async getMany(keys: readonly string[]): Promise<Map<string, WindowRecord>> {
    return new Map(keys.map((k) => [k, this.items.get(k) ?? absent(k)]));
  }
  private matches(expected: WindowRecord): boolean {
    const current = this.items.get(expected.key);
    return expected.exists ? current !== undefined && current.version === expected.version : current === undefined;
  }
  async freeze(expected: WindowRecord, window: WindowState, positions: Positions, claim: FreezeClaim): Promise<WindowRecord | undefined> {
    if (!this.matches(expected)) return undefined;
    const rec = frozenRecord(expected.key, expected.version + 1, positions, window, claim);
    this.items.set(expected.key, rec);
    return rec;
  }
  async save(expected: WindowRecord, window: WindowState, positions: Positions): Promise<boolean> {
    if (!this.matches(expected)) return false;
    this.items.set(expected.key, { key: expected.key, exists: true, version: expected.version + 1, frozen: false, positions, window });
    return true;
  }
  async retire(expected: WindowRecord): Promise<boolean> {
    if (!this.matches(expected)) return false;
    this.items.set(expected.key, { key: expected.key, exists: true, version: expected.version + 1, frozen: false, positions: expected.positions });
    return true;
  }
  async queryDue(partition: string, dueMs: number, limit: number): Promise<WindowRecord[]> {
    return [...this.items.values()]
      .filter((r) => r.window !== undefined && r.window.closes_at <= dueMs && sweepPartitionOf(r.key, this.partitions) === partition)
      .sort((a, b) => a.window!.closes_at - b.window!.closes_at)
      .slice(0, limit);
  }
}
