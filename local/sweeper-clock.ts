/**
 * Runs the sweeper on a clock, as the EventBridge schedule does in AWS (every minute there;
 * every second or so locally, where W is a few seconds). Ticks never overlap: the next one
 * starts `intervalMs` after the previous one ended. A failed tick is counted and logged, and
 * the next tick retries (the sweeper leaves undelivered windows frozen for it).
 */
export interface SweepTick {
  startedAt: number;
  endedAt: number;
  result?: unknown;
  error?: string;
}

export class SweeperClock {
  ticks = 0;
  failures = 0;
  lastTick?: SweepTick;
  private timer?: NodeJS.Timeout;
  private running?: Promise<unknown>;
  private stopped = true;
  private readonly waiters: { after: number; resolve: () => void }[] = [];

  constructor(
    private readonly sweep: () => Promise<unknown>,
    private readonly intervalMs: number,
    private readonly onError: (err: unknown) => void = () => undefined,
  ) {
    if (!(intervalMs > 0)) throw new RangeError(`sweep interval must be > 0 ms, got ${intervalMs}`);
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    this.schedule(0);
  }

  private schedule(delay: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => {
        this.running = undefined;
        this.schedule(this.intervalMs);
      });
    }, delay);
  }

  /** One sweep now (also used for a final sweep after the clock stopped). */
  async tick(): Promise<SweepTick> {
    const tick: SweepTick = { startedAt: Date.now(), endedAt: 0 };
    try {
      tick.result = await this.sweep();
    } catch (err) {
      this.failures++;
      tick.error = String((err as Error)?.message ?? err);
      this.onError(err);
    }
    tick.endedAt = Date.now();
    this.ticks++;
    this.lastTick = tick;
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      if (tick.startedAt >= this.waiters[i].after) {
        this.waiters[i].resolve();
        this.waiters.splice(i, 1);
      }
    }
    return tick;
  }

  /** Resolves when a tick that started at or after `time` has ended (bounded by `timeoutMs`). */
  tickAfter(time: number, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no sweep finished within ${timeoutMs} ms`)), timeoutMs);
      this.waiters.push({
        after: time,
        resolve: () => {
          clearTimeout(t);
          resolve();
        },
      });
    });
  }

  /** Stops the clock and waits for the tick in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }
}
