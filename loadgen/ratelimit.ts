import { SHARD_BYTES_PER_SECOND, SHARD_RECORDS_PER_SECOND } from "./limits";

/**
 * Token buckets on the scheduler's clock (so dry runs are limited in simulated time too).
 * A bucket of rate r and capacity c admits at most c + r·T in any interval T; the per-shard
 * buckets use c = 5 % and r = 95 % of the quota, so no second ever sees more than the quota.
 */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    readonly ratePerSecond: number,
    readonly capacity: number,
    now: number,
  ) {
    this.tokens = capacity;
    this.last = now;
  }

  private refill(now: number): void {
    if (now > this.last) {
      this.tokens = Math.min(this.capacity, this.tokens + ((now - this.last) * this.ratePerSecond) / 1000);
      this.last = now;
    }
  }

  /** Whether `n` can be taken now. A request above the capacity needs a full bucket (and leaves a debt). */
  canTake(n: number, now: number): boolean {
    this.refill(now);
    return this.tokens >= Math.min(n, this.capacity) - 1e-9;
  }

  take(n: number, now: number): void {
    this.refill(now);
    this.tokens -= n;
  }

  /** Milliseconds until `canTake(n)`. */
  msUntil(n: number, now: number): number {
    this.refill(now);
    const missing = Math.min(n, this.capacity) - this.tokens;
    return missing <= 0 ? 0 : Math.ceil((missing * 1000) / this.ratePerSecond);
  }
}

export interface RateLimits {
  /** Records a second over the whole stream (--rate); Infinity for none. */
  readonly rate: number;
  readonly shards: number;
  /** Fraction of the per-shard quota to use (default 1: the full quota, split 95 % rate + 5 % burst). */
  readonly shardQuotaFraction?: number;
}

/** Keeps every shard under 1,000 records/s and 1 MiB/s, and the stream under --rate. */
export class Limiter {
  private readonly total?: TokenBucket;
  private readonly shardRecords: TokenBucket[];
  private readonly shardBytes: TokenBucket[];

  constructor(limits: RateLimits, now: number) {
    const f = limits.shardQuotaFraction ?? 1;
    if (Number.isFinite(limits.rate)) this.total = new TokenBucket(limits.rate, Math.max(1, limits.rate * 0.05), now);
    const recordQuota = SHARD_RECORDS_PER_SECOND * f;
    const byteQuota = SHARD_BYTES_PER_SECOND * f;
    this.shardRecords = Array.from({ length: limits.shards }, () => new TokenBucket(recordQuota * 0.95, recordQuota * 0.05, now));
    this.shardBytes = Array.from({ length: limits.shards }, () => new TokenBucket(byteQuota * 0.95, byteQuota * 0.05, now));
  }

  /** Milliseconds until the stream-wide --rate admits one more record (0: now). */
  totalWaitMs(now: number): number {
    return this.total?.msUntil(1, now) ?? 0;
  }

  /** Milliseconds until the shard admits one more record, bytes aside (0: now). */
  shardRecordWaitMs(shard: number, now: number): number {
    return this.shardRecords[shard].msUntil(1, now);
  }

  tryTake(shard: number, bytes: number, now: number): boolean {
    if (this.total && !this.total.canTake(1, now)) return false;
    if (!this.shardRecords[shard].canTake(1, now) || !this.shardBytes[shard].canTake(bytes, now)) return false;
    this.total?.take(1, now);
    this.shardRecords[shard].take(1, now);
    this.shardBytes[shard].take(bytes, now);
    return true;
  }

  msUntil(shard: number, bytes: number, now: number): number {
    return Math.max(this.total?.msUntil(1, now) ?? 0, this.shardRecords[shard].msUntil(1, now), this.shardBytes[shard].msUntil(bytes, now));
  }
}
