import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { parseConfig } from "../config/load";
import { PROJECT_ROOT } from "../modules/project";
import { SCRATCH, useProjectTmp } from "../stacks/testing";

/** A bad parameter fails synthesis with a message naming the key and the allowed range. */
useProjectTmp();

const base = { state: { bucket: "my-state-bucket" } };
const withValue = (section: string, key: string, value: unknown) => ({ ...base, [section]: { [key]: value } });
const error = (input: unknown): string => {
  try {
    parseConfig(input, "t.json");
  } catch (err) {
    return (err as Error).message;
  }
  throw new Error("expected a ConfigError");
};

describe("config errors name the key and the allowed range", () => {
  test.each([
    ["firehose", "bufferIntervalSeconds", 59, /firehose\.bufferIntervalSeconds: .*>=60/],
    ["firehose", "bufferIntervalSeconds", 901, /firehose\.bufferIntervalSeconds: .*<=900/],
    ["firehose", "bufferSizeMB", 0, /firehose\.bufferSizeMB: .*>=1/],
    ["firehose", "bufferSizeMB", 129, /firehose\.bufferSizeMB: .*<=128/],
    ["firehose", "destinationPrefix", "a/b", /firehose\.destinationPrefix: /],
    ["stream", "shardCount", 3, /stream\.shardCount: .*<=2/],
    ["stream", "mode", "elastic", /stream\.mode: .*"provisioned"\|"on-demand"/],
    ["session", "basis", "hour", /session\.basis: .*"minute"\|"second"/],
    ["session", "windowSeconds", 0, /session\.windowSeconds: .*>=1/],
    ["analytics", "logRetentionDays", 2, /analytics\.logRetentionDays: one of the CloudWatch Logs retention values/],
    ["analytics", "maxRecordAgeSeconds", 86_401, /analytics\.maxRecordAgeSeconds: .*<=86400/],
  ])("%s.%s = %j", (section, key, value, pattern) => {
    expect(error(withValue(section, key, value))).toMatch(pattern);
  });

  test("region, environment, state bucket, unknown keys", () => {
    expect(error({ ...base, region: "mars-1" })).toMatch(/region: an AWS region/);
    expect(error({ ...base, environment: "Prod" })).toMatch(/environment: /);
    expect(error({ state: { bucket: "Bad_Bucket" } })).toMatch(/state\.bucket: /);
    expect(error({ ...base, firehose: { bufferInterval: 60 } })).toMatch(/firehose: .*bufferInterval/);
    expect(error({})).toMatch(/state: /);
  });

  test("the defaults are the seed's", () => {
    const c = parseConfig(base);
    expect(c.stream).toMatchObject({ name: "sesionesblog", mode: "provisioned", shardCount: 1 });
    expect(c.firehose).toEqual({ bufferIntervalSeconds: 300, bufferSizeMB: 5, destinationPrefix: "aggregated" });
    expect(c.windowSeconds).toBe(60);
    expect(parseConfig({ ...base, session: { basis: "second" } }).windowSeconds).toBe(30);
    expect(parseConfig({ ...base, session: { basis: "second", windowSeconds: 45 } }).windowSeconds).toBe(45);
    expect(c.region).toBe("us-east-1");
  });

  test("synthesis (main.ts) stops with the key named, and writes nothing", () => {
    mkdirSync(SCRATCH, { recursive: true });
    const bad = path.join(SCRATCH, "bad-config.json");
    writeFileSync(bad, JSON.stringify(withValue("firehose", "bufferIntervalSeconds", 1000)));
    const outdir = path.join(SCRATCH, "bad-synth-out");
    let stderr = "";
    let status = 0;
    try {
      execFileSync(process.execPath, [path.join(PROJECT_ROOT, "node_modules", "tsx", "dist", "cli.mjs"), path.join(PROJECT_ROOT, "main.ts")], {
        env: { ...process.env, SESSIONIZATION_CONFIG: bad, CDKTF_OUTDIR: outdir },
        stdio: ["ignore", "pipe", "pipe"],
      });
    } catch (err) {
      status = (err as { status: number }).status;
      stderr = String((err as { stderr: Buffer }).stderr);
    }
    expect(status).toBe(1);
    expect(stderr).toContain("firehose.bufferIntervalSeconds");
    expect(stderr).toContain("<=900");
    expect(existsSync(outdir)).toBe(false);
  });
});
