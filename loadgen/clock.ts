import { setTimeout as delay } from "node:timers/promises";

/** Time for the scheduler: the wall clock, or a simulated one for dry runs (no Date.now() there). */
export interface Clock {
  /** Epoch ms. */
  now(): number;
  /** Resolves after `ms` (early, without throwing, when the signal aborts). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  readonly simulated: boolean;
}

export class RealClock implements Clock {
  readonly simulated = false;
  now(): number {
    return Date.now();
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (ms <= 0 || signal?.aborted) return;
    try {
      await delay(ms, undefined, { signal });
    } catch (err) {
      if ((err as Error).name !== "AbortError") throw err;
    }
  }
}

export class VirtualClock implements Clock {
  readonly simulated = true;
  constructor(private t: number) {}
  now(): number {
    return this.t;
  }
  async sleep(ms: number): Promise<void> {
    if (ms > 0) this.t += ms;
  }
}
