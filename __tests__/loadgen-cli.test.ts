import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { loadConfig, parseConfig } from "../config/load";
import { buildProgram, main } from "../loadgen/cli";
import { OptionsError, defaultMarginMs, resolveOptions } from "../loadgen/options";
import { tmpDir } from "./loadgen-helpers";

/** The CLI is a thin layer over runLoad: flags, defaults from the shared config, errors that name the option. */

describe("loadgen CLI", () => {
  test("--help lists every option of the issue", () => {
    const help = buildProgram().helpInformation();
    for (const flag of ["--stream", "--region", "--endpoint", "--users", "--events", "--duration", "--rate", "--shards", "--seed", "--window", "--start", "--late-fraction", "--malformed-fraction", "--out", "--dry-run"]) {
      expect(help).toContain(flag);
    }
  });

  test("defaults come from the shared config (stream, region, window, shard count)", () => {
    const o = resolveOptions({ dryRun: true });
    const config = loadConfig();
    expect(o.stream).toBe(config.stream.name);
    expect(o.region).toBe(config.region);
    expect(o.windowSeconds).toBe(config.windowSeconds);
    expect(o.configShards).toBe(config.stream.shardCount);
    expect(o.events).toBe(10_000);
    expect(o.marginMs).toBe(defaultMarginMs(config.windowSeconds));
    const other = resolveOptions({ dryRun: true, config: parseConfig({ state: { bucket: "some-state-bucket" }, stream: { name: "other", shardCount: 1 }, session: { basis: "second" } }) });
    expect([other.stream, other.windowSeconds, other.configShards]).toEqual(["other", 30, 1]);
    expect(o.startMs).toBe(Date.parse("2026-01-01T00:00:00Z"));
  });

  test("the margin: clamp(10 % of W, 1 s, 10 s), at most W/4", () => {
    expect([1, 4, 10, 30, 60, 600, 3600].map(defaultMarginMs)).toEqual([250, 1000, 1000, 3000, 6000, 10_000, 10_000]);
  });

  test("bad options are refused with the option's name", () => {
    expect(() => resolveOptions({ lateFraction: 0.9 })).toThrow(OptionsError);
    expect(() => resolveOptions({ lateFraction: 0.9 })).toThrow(/lateFraction/);
    expect(() => resolveOptions({ start: "yesterday" })).toThrow(/start: an ISO-8601 timestamp/);
    expect(() => resolveOptions({ window: 0 })).toThrow(/window/);
    expect(() => resolveOptions({ window: 4, marginMs: 3000 })).toThrow(/marginMs: at most half the window/);
  });

  test("a dry run from the command line writes both files and exits 0", async () => {
    const out = tmpDir("loadgen-cli");
    const stderr = jest.spyOn(process.stderr, "write").mockImplementation(() => true);
    try {
      const code = await main(["node", "cli.ts", "--dry-run", "--seed", "1", "--events", "2000", "--out", out, "--no-progress"]);
      expect(code).toBe(0);
    } finally {
      stderr.mockRestore();
    }
    expect(existsSync(path.join(out, "events.ndjson"))).toBe(true);
    const expected = JSON.parse(readFileSync(path.join(out, "expected.json"), "utf8"));
    expect(expected.counts.acknowledged).toBe(2000);
    expect(process.listenerCount("SIGINT")).toBe(0);
  });
});
