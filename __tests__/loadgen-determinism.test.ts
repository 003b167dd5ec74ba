import { readFileSync } from "node:fs";
import * as path from "node:path";
import { buildProgram, flagsToOptions } from "../loadgen/cli";
import { runLoad } from "../loadgen/run";
import { readLines, tmpDir } from "./loadgen-helpers";

/** Dry runs: the same arguments give the same bytes; nothing touches the network. */

const options = { dryRun: true, seed: 42, events: 4000, users: 80, rate: 50, lateFraction: 0.05, malformedFraction: 0.05 };

async function files(extra: Record<string, unknown> = {}) {
  const out = tmpDir("loadgen-det");
  const result = await runLoad({ ...options, ...extra, out });
  return {
    result,
    events: readFileSync(path.join(out, "events.ndjson")),
    expected: readFileSync(path.join(out, "expected.json")),
    out,
  };
}

describe("determinism", () => {
  test("the same arguments give the same events.ndjson and expected.json, byte for byte", async () => {
    const a = await files();
    const b = await files();
    expect(a.events.length).toBeGreaterThan(100_000);
    expect(b.events.equals(a.events)).toBe(true);
    expect(b.expected.equals(a.expected)).toBe(true);
    expect(a.result.counts.acknowledged).toBe(4000);
  });

  test("another seed gives other payloads", async () => {
    const a = await files();
    const c = await files({ seed: 43 });
    expect(c.events.equals(a.events)).toBe(false);
  });

  test("the CLI flags map to the same run as the programmatic options", async () => {
    const program = buildProgram().exitOverride();
    program.parse(["--dry-run", "--seed", "42", "--events", "4000", "--users", "80", "--rate", "50", "--late-fraction", "0.05", "--malformed-fraction", "0.05"], { from: "user" });
    const out = tmpDir("loadgen-det-cli");
    await runLoad({ ...flagsToOptions(program.opts() as never), out });
    const a = await files();
    expect(readFileSync(path.join(out, "events.ndjson")).equals(a.events)).toBe(true);
  });

  test("a dry run starts at --start (default 2026-01-01T00:00:00Z) and paces by --rate on its simulated clock", async () => {
    const a = await files({ start: "2019-05-12T17:37:00Z", lateFraction: 0, malformedFraction: 0 });
    const lines = readLines(path.join(a.out, "events.ndjson"));
    const first = Date.parse(lines[0].arrival);
    const last = Date.parse(lines[lines.length - 1].arrival);
    expect(first).toBeGreaterThanOrEqual(Date.parse("2019-05-12T17:37:00Z"));
    expect(first).toBeLessThan(Date.parse("2019-05-12T17:38:00Z"));
    // 4,000 records at 50/s: at least 80 s of simulated time (the limiter holds the rate)
    expect(last - first).toBeGreaterThanOrEqual(79_000);
    for (const l of lines.slice(0, 200)) {
      const ts = Date.parse(JSON.parse(l.data).client_timestamp.replace(" ", "T") + "Z");
      const sent = Date.parse(l.arrival);
      expect(sent - ts).toBeGreaterThanOrEqual(0);
      expect(sent - ts).toBeLessThanOrEqual(200);
    }
    const d = await files({ lateFraction: 0, malformedFraction: 0 });
    expect(readLines(path.join(d.out, "events.ndjson"))[0].arrival.startsWith("2026-01-01T00:00:")).toBe(true);
  });

  test("the seed's model: user ids 50-280, devices about 2:2:1, the six beer_* events", async () => {
    const a = await files({ malformedFraction: 0, events: 8000, users: 231 });
    const lines = readLines(path.join(a.out, "events.ndjson")).map((l) => JSON.parse(l.data));
    const users = new Set(lines.map((e) => e.user_id));
    expect(Math.min(...users)).toBeGreaterThanOrEqual(50);
    expect(Math.max(...users)).toBeLessThanOrEqual(280);
    expect(users.size).toBeGreaterThan(200);
    const devices: Record<string, number> = {};
    for (const e of lines) devices[e.device_id] = (devices[e.device_id] ?? 0) + 1;
    expect(Object.keys(devices).sort()).toEqual(["computer", "mobile", "tablet"]);
    expect(devices.tablet / lines.length).toBeGreaterThan(0.12);
    expect(devices.tablet / lines.length).toBeLessThan(0.28);
    expect(new Set(lines.map((e) => e.client_event))).toEqual(
      new Set(["beer_vitrine_nav", "beer_products", "beer_product_detail", "beer_selection", "beer_cart", "beer_checkout"]),
    );
    for (const l of readLines(path.join(a.out, "events.ndjson")).slice(0, 500)) expect(l.partition_key).toBe(String(JSON.parse(l.data).user_id));
  });

  test("an aborted run stops and writes the expectations for what was acknowledged", async () => {
    const out = tmpDir("loadgen-abort");
    const controller = new AbortController();
    const result = await runLoad(
      { ...options, events: 20_000, out },
      { signal: controller.signal, onProgress: (p) => p.acknowledged >= 1000 && controller.abort() },
    );
    expect(result.aborted).toBe(true);
    const lines = readLines(result.eventsPath);
    expect(lines.length).toBe(result.counts.acknowledged);
    expect(lines.length).toBeGreaterThanOrEqual(1000);
    expect(lines.length).toBeLessThan(20_000);
    const expected = JSON.parse(readFileSync(result.expectedPath, "utf8"));
    expect(expected.counts.acknowledged).toBe(lines.length);
    expect(result.counts.generated).toBe(result.counts.acknowledged + result.counts.unsent);
  });
});
