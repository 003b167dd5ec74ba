import { PutRecordsCommand } from "@aws-sdk/client-kinesis";
import { writeFileSync } from "node:fs";
import * as path from "node:path";
import { computeExpected, type EventLine } from "../loadgen/expected";
import type { LoadRunner } from "./pipeline";

/**
 * A small real-time load for the local pipeline's own tests and for `npm run local -- --load simple`:
 * users browsing in the current window bucket, a share of late records (a key's bucket again, after
 * its window closed) and of malformed ones, pushed with PutRecords. The expectations come from the
 * load generator's `computeExpected` over what was acknowledged. The product's load generator
 * (loadgen/run.ts) is the default load; this one only keeps the local pipeline testable on its own.
 *
 * Pacing keeps the send-time arrival estimate exact: an ordinary record is only sent in the first
 * W − 400 ms of its bucket (so it lands well inside its key's window), a late one at least W + 1.5 s
 * after its key's first record.
 */
export interface SimpleLoadOptions {
  readonly events: number;
  readonly rate: number;
  readonly users?: number;
  readonly lateFraction?: number;
  readonly malformedFraction?: number;
  readonly seed?: number;
}

const DEVICES = ["mobile", "computer", "tablet"];
const EVENTS = ["beer_vitrine_nav", "beer_products", "beer_product_detail", "beer_selection", "beer_cart", "beer_checkout"];

function prng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export function simpleLoad(options: SimpleLoadOptions): LoadRunner {
  return async (ctx) => {
    const W = ctx.windowSeconds * 1000;
    const rand = prng(options.seed ?? 1);
    const users = Array.from({ length: options.users ?? 60 }, (_, i) => ({ id: 50 + i * 3, device: DEVICES[i % 3] }));
    const late = options.lateFraction ?? 0.03;
    const malformed = options.malformedFraction ?? 0.02;
    const lines: EventLine[] = [];
    /** Keys sent so far: first send time and a sample client timestamp. */
    const keys = new Map<string, { first: number; ts: number; user: number; device: string; lateSent: boolean }>();
    const tickMs = 100;
    const perTick = Math.max(1, Math.round((options.rate * tickMs) / 1000));
    let sent = 0;
    for (let guard = 0; sent < options.events && guard < 10_000_000; guard++) {
      if (ctx.signal.aborted) break;
      const tickStart = Date.now();
      const inBucket = tickStart % W;
      const batch: { data: string; key: string }[] = [];
      if (inBucket < W - 400 || W <= 1000) {
        for (let i = 0; i < perTick && sent + batch.length < options.events; i++) {
          const r = rand();
          const u = users[Math.floor(rand() * users.length)];
          if (r < malformed) {
            const kind = Math.floor(rand() * 4);
            const payload = [
              `{"user_id": ${u.id}, "device_id": "${u.device}", `,
              JSON.stringify({ user_id: u.id, device_id: u.device, client_event: "beer_cart" }),
              JSON.stringify({ user_id: String(u.id), device_id: u.device, client_event: "beer_cart", client_timestamp: new Date().toISOString() }),
              JSON.stringify({ user_id: u.id, device_id: u.device, client_event: "beer_cart", client_timestamp: "yesterday" }),
            ][kind];
            batch.push({ data: payload, key: String(u.id) });
            continue;
          }
          const now = Date.now();
          let ts = now;
          if (r < malformed + late) {
            const candidates = [...keys.values()].filter((k) => !k.lateSent && now - k.first > W + 1500);
            if (candidates.length > 0) {
              const k = candidates[Math.floor(rand() * candidates.length)];
              k.lateSent = true;
              batch.push({ data: JSON.stringify({ user_id: k.user, device_id: k.device, client_event: "beer_checkout", client_timestamp: new Date(k.ts).toISOString() }), key: String(k.user) });
              continue;
            }
          }
          if (W <= 1000) ts = Math.floor(now / W) * W; // W of 1 s: pin the bucket
          const bucket = Math.floor(ts / W) * W;
          const key = `${u.id}|${u.device}|${bucket}`;
          if (!keys.has(key)) keys.set(key, { first: now, ts, user: u.id, device: u.device, lateSent: false });
          const event = EVENTS[Math.floor(rand() * EVENTS.length)];
          batch.push({ data: JSON.stringify({ user_id: u.id, device_id: u.device, client_event: event, client_timestamp: new Date(ts).toISOString().replace("T", " ").replace("Z", "") }), key: String(u.id) });
        }
      }
      if (batch.length > 0) {
        const sentAt = new Date().toISOString();
        const out = await ctx.kinesis.send(
          new PutRecordsCommand({ StreamName: ctx.streamName, Records: batch.map((b) => ({ Data: Buffer.from(b.data), PartitionKey: b.key })) }),
        );
        (out.Records ?? []).forEach((r, i) => {
          if (r.SequenceNumber) lines.push({ arrival: sentAt, data: batch[i].data, partition_key: batch[i].key });
        });
        sent += batch.length;
        ctx.onProgress({ sent, acknowledged: lines.length, total: options.events });
      }
      await sleep(Math.max(0, tickMs - (Date.now() - tickStart)));
    }
    const expected = computeExpected(lines, ctx.windowSeconds, { seed: options.seed ?? 1, stream: ctx.streamName, failed: sent - lines.length });
    writeFileSync(path.join(ctx.outDir, "events.ndjson"), lines.map((l) => JSON.stringify(l)).join("\n") + (lines.length ? "\n" : ""));
    const expectedFile = path.join(ctx.outDir, "expected.json");
    writeFileSync(expectedFile, `${JSON.stringify(expected, null, 2)}\n`);
    return { expectedFile };
  };
}
