import type { KinesisStreamEvent } from "aws-lambda";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:http";
import { builtinModules } from "node:module";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { promisify } from "node:util";
import { parseRecord } from "../functions/core/event";
import { bundleFunction, FUNCTIONS_DIR } from "../functions/bundle";
import { startDynalite, type RunningEmulator } from "../local/emulators";
import { SCRATCH, useProjectTmp } from "../stacks/testing";
import { prepareFunctionEnvironment } from "./function-environment";
import { kinesisEvent } from "./kinesis-event";

/**
 * The deployed artifact, not the sources: both handlers bundled by functions/bundle.ts (the
 * esbuild options the Lambda zips use, the AWS SDK inside), required by a plain Node process (as
 * Lambda's runtime does; jest's module sandbox cannot run the bundled SDK's lazy
 * `import("node:http")`), which records every module the bundles ask for, and run against dynalite
 * and a small Firehose endpoint on 127.0.0.1 (the bundled SDK cannot be mocked from here, so the
 * test speaks HTTP to it). The handler tests and the local pipeline run the TypeScript sources;
 * this catches what bundling alone can break (module formats, package entry points, tree shaking).
 */
useProjectTmp();

const docs = JSON.parse(readFileSync(path.resolve(__dirname, "../../shared/testdata/stagger-docs-example.json"), "utf8")) as {
  window_seconds: number;
  records: { arrival: string; event: unknown }[];
  expected: Record<string, unknown>[];
};

/** Firehose PutRecordBatch over HTTP (the JSON 1.1 protocol): records kept per delivery stream. */
function startFirehose(): Promise<{ server: Server; endpoint: string; received: Map<string, unknown[]> }> {
  const received = new Map<string, unknown[]>();
  const server = createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      const target = String(req.headers["x-amz-target"] ?? "");
      if (target !== "Firehose_20150804.PutRecordBatch") {
        res.writeHead(400, { "content-type": "application/x-amz-json-1.1" });
        res.end(JSON.stringify({ __type: "UnknownOperationException", message: target }));
        return;
      }
      const input = JSON.parse(body) as { DeliveryStreamName: string; Records: { Data: string }[] };
      const list = received.get(input.DeliveryStreamName) ?? [];
      for (const r of input.Records) list.push(JSON.parse(Buffer.from(r.Data, "base64").toString("utf8")));
      received.set(input.DeliveryStreamName, list);
      res.writeHead(200, { "content-type": "application/x-amz-json-1.1" });
      res.end(JSON.stringify({ FailedPutCount: 0, Encrypted: false, RequestResponses: input.Records.map((_, i) => ({ RecordId: `r${i}` })) }));
    });
  });
  return new Promise((resolve) =>
    server.listen(0, "127.0.0.1", () => resolve({ server, endpoint: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, received })),
  );
}

type Step = { fn: "sessionizer"; event: KinesisStreamEvent } | { fn: "sweeper"; now: number };
interface DriverOutput {
  exports: Record<string, string[]>;
  results: unknown[];
  /** Module ids the bundles required (at load time or later). */
  requested: string[];
}

/**
 * Runs in a child `node -e`: requires both bundles (recording what they require), runs the steps
 * in order, writes the results to a file (stdout carries the functions' EMF lines).
 */
const DRIVER = `
const Module = require("node:module");
const fs = require("node:fs");
const [bundles, stepsFile, outFile] = [JSON.parse(process.argv[1]), process.argv[2], process.argv[3]];
const files = Object.values(bundles);
const requested = new Set();
const load = Module._load;
Module._load = function (request, parent) {
  if (parent && files.includes(parent.filename)) requested.add(request);
  return load.apply(this, arguments);
};
(async () => {
  const mods = Object.fromEntries(Object.entries(bundles).map(([name, file]) => [name, require(file)]));
  const results = [];
  for (const step of JSON.parse(fs.readFileSync(stepsFile, "utf8"))) {
    if (step.fn === "sessionizer") results.push(await mods.sessionizer.handler(step.event));
    else {
      mods.sweeper.resetSweeper({ now: () => step.now });
      results.push(await mods.sweeper.handler());
    }
  }
  const exports = Object.fromEntries(Object.entries(mods).map(([name, m]) => [name, Object.keys(m).sort()]));
  fs.writeFileSync(outFile, JSON.stringify({ exports, results, requested: [...requested] }));
})().catch((err) => { console.error(err); process.exit(1); });
`;

let dynalite: RunningEmulator;
let firehose: Awaited<ReturnType<typeof startFirehose>>;
let buildDir: string;
let bundles: Record<string, string>;
const saved = { ...process.env };
const run = promisify(execFile);

/** Runs the steps against the bundles in a plain Node process (async: dynalite and Firehose serve from this one). */
async function runBundles(steps: Step[]): Promise<DriverOutput> {
  const stepsFile = path.join(buildDir, "steps.json");
  const outFile = path.join(buildDir, "out.json");
  writeFileSync(stepsFile, JSON.stringify(steps));
  await run(process.execPath, ["-e", DRIVER, JSON.stringify(bundles), stepsFile, outFile], { env: process.env, cwd: buildDir, maxBuffer: 16 * 1024 * 1024 });
  return JSON.parse(readFileSync(outFile, "utf8")) as DriverOutput;
}

beforeAll(async () => {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true"; // the lockfile pins the SDK (NOTES)
  buildDir = mkdtempSync(path.join(SCRATCH, "bundle-"));
  bundles = Object.fromEntries(
    ["sessionizer", "sweeper"].map((name) => [name, bundleFunction(path.join(FUNCTIONS_DIR, name, "handler.ts"), path.join(buildDir, name)).file]),
  );
  dynalite = await startDynalite();
  firehose = await startFirehose();
  await prepareFunctionEnvironment({
    windowSeconds: docs.window_seconds,
    tableName: "bundle-windows",
    rowsDeliveryStream: "bundle-aggregated",
    rejectedDeliveryStream: "bundle-rejected",
    serviceName: "bundle-test",
    dynamodbEndpoint: dynalite.endpoint,
    firehoseEndpoint: firehose.endpoint,
  });
  delete process.env.AWS_PROFILE;
  delete process.env.AWS_SESSION_TOKEN;
});

afterAll(async () => {
  process.env = saved;
  await dynalite?.stop();
  await new Promise((done) => firehose?.server.close(done));
  rmSync(buildDir, { recursive: true, force: true });
});

const WRONG_TYPE = JSON.stringify({ user_id: "seven", device_id: "computer", client_event: "beer_cart", client_timestamp: "2026-12-03T11:00:40.000Z" });

/**
 * Size budget. Both bundles were about 1,080,000 bytes with esbuild's default entry points (the
 * AWS SDK's CommonJS builds) and a named `import { z } from "zod"` (which keeps zod's whole
 * namespace, 64 locales included); ~485,000 with `mainFields: ["module", "main"]` and
 * `import * as z from "zod"` in functions/. A named zod import anywhere in the functions adds
 * ~360 KB back.
 */
const BUNDLE_BUDGET_BYTES = 650_000;

test("each bundle stays within the size budget", () => {
  for (const [name, file] of Object.entries(bundles)) {
    const bytes = readFileSync(file).length;
    expect({ name, withinBudget: bytes <= BUNDLE_BUDGET_BYTES, bytes }).toEqual({ name, withinBudget: true, bytes });
  }
});

test("bundled sessionizer + sweeper on dynalite and Firehose over HTTP give the docs example rows; malformed records are rejected; only Node built-ins are required", async () => {
  const records = docs.records.map((r) => ({ arrival: r.arrival, data: JSON.stringify(r.event) }));
  const last = docs.records[docs.records.length - 1].arrival;
  const out = await runBundles([
    { fn: "sessionizer", event: kinesisEvent(records.slice(0, 2)) },
    { fn: "sessionizer", event: kinesisEvent([...records.slice(2), { arrival: last, data: "{oops" }, { arrival: last, data: WRONG_TYPE }]) },
    { fn: "sweeper", now: Date.parse("2026-12-03T11:01:31.000Z") }, // the first window is due (11:01:20 + 10 s grace)
    { fn: "sweeper", now: Date.parse("2026-12-03T11:03:00.000Z") },
    { fn: "sweeper", now: Date.parse("2026-12-03T11:03:00.000Z") },
  ]);
  expect(out.exports.sessionizer).toContain("handler");
  expect(out.exports.sweeper).toEqual(expect.arrayContaining(["handler", "resetSweeper"]));
  expect(out.results).toEqual([
    { batchItemFailures: [] },
    { batchItemFailures: [] },
    expect.objectContaining({ swept: 1, failed: 0 }),
    expect.objectContaining({ swept: 1, failed: 0 }),
    expect.objectContaining({ swept: 0, due: 0 }),
  ]);
  // zod's messages inside the bundle are the sources' (its English locale survives tree shaking).
  const wrongType = parseRecord(WRONG_TYPE);
  expect(wrongType.ok).toBe(false);
  expect(firehose.received.get("bundle-rejected")).toEqual([
    expect.objectContaining({ reason: "invalid_json", data: "{oops" }),
    expect.objectContaining({ reason: "wrong_type", field: "user_id", detail: !wrongType.ok && wrongType.rejection.detail, data: WRONG_TYPE }),
  ]);
  const rows = (firehose.received.get("bundle-aggregated") ?? []) as Record<string, unknown>[];
  expect(rows.map((r) => Object.fromEntries(Object.keys(docs.expected[0]).map((k) => [k, r[k]])))).toEqual(docs.expected);
  // Self-contained, as a zip of index.js alone must be: the AWS SDK, zod and Powertools are inside.
  expect(out.requested.length).toBeGreaterThan(0);
  expect(out.requested.filter((id) => !id.startsWith("node:") && !builtinModules.includes(id))).toEqual([]);
});
