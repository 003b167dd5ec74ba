import type { ClickEvent } from "../functions/core/event";

/**
 * Typical clickstream for the benchmarks (the seed's model, simplified): users 50-280, devices
 * mobile:computer:tablet = 2:2:1, the six beer_* events, sessions of 3-25 clicks with think times
 * of 1-15 s, arrival 50-1500 ms after the click, a few records a minute late. Deterministic.
 */
export interface TrafficRecord {
  readonly event: ClickEvent;
  readonly arrivalMs: number;
  readonly payload: string;
}

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const DEVICES = ["mobile", "mobile", "computer", "computer", "tablet"];
const EVENTS = ["beer_vitrine_nav", "beer_products", "beer_product_detail", "beer_selection", "beer_cart", "beer_checkout"];

/** `count` records in arrival order, `concurrentSessions` users browsing at any time. */
export function traffic(count: number, { seed = 42, concurrentSessions = 200, startMs = Date.UTC(2026, 11, 3, 10) } = {}): TrafficRecord[] {
  const rand = mulberry32(seed);
  const pick = <T>(xs: readonly T[]) => xs[Math.floor(rand() * xs.length)];
  interface Session {
    user: number;
    device: string;
    left: number;
    nextMs: number;
  }
  const newSession = (at: number): Session => ({
    user: 50 + Math.floor(rand() * 231),
    device: pick(DEVICES),
    left: 3 + Math.floor(rand() * 23),
    nextMs: at + Math.floor(rand() * 15_000),
  });
  const sessions = Array.from({ length: concurrentSessions }, () => newSession(startMs));
  const out: { event: ClickEvent; arrivalMs: number }[] = [];
  while (out.length < count) {
    // The session with the earliest next click.
    let s = 0;
    for (let i = 1; i < sessions.length; i++) if (sessions[i].nextMs < sessions[s].nextMs) s = i;
    const cur = sessions[s];
    const late = rand() < 0.01 ? 60_000 + Math.floor(rand() * 60_000) : 0;
    out.push({
      event: { user_id: cur.user, device_id: cur.device, client_event: pick(EVENTS), client_timestamp_ms: cur.nextMs },
      arrivalMs: cur.nextMs + 50 + Math.floor(rand() * 1450) + late,
    });
    cur.left -= 1;
    cur.nextMs += 1000 + Math.floor(rand() * 14_000);
    if (cur.left === 0) sessions[s] = newSession(cur.nextMs);
  }
  out.sort((a, b) => a.arrivalMs - b.arrivalMs);
  return out.map((r) => ({
    ...r,
    payload: JSON.stringify({
      user_id: r.event.user_id,
      device_id: r.event.device_id,
      client_event: r.event.client_event,
      client_timestamp: new Date(r.event.client_timestamp_ms).toISOString().replace("T", " ").replace("Z", ""),
    }),
  }));
}
