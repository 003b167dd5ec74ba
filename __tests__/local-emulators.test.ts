import { DynamoDBClient, ListTablesCommand } from "@aws-sdk/client-dynamodb";
import { NodeHttpHandler } from "@smithy/node-http-handler";
import { createServer, request, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { mkdtempSync, rmSync } from "node:fs";
import * as path from "node:path";
import { EmulatorStartError, startDynalite, startEmulatorProcess, startKinesalite } from "../local/emulators";
import { PipelineAbortedError, runLocalPipeline } from "../local/pipeline";
import { loadgenLoad } from "../local/loadgen-runner";

/** Emulators: a clear error when a port is taken, child processes stopped through their handles, Ctrl-C. */

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = "true";

/** Resolves true if something answers HTTP at the endpoint, false on a refused connection. */
function answers(endpoint: string): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request(endpoint, { method: "POST", timeout: 2000 }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on("error", () => resolve(false));
    req.on("timeout", () => {
      req.destroy();
      resolve(false);
    });
    req.end("{}");
  });
}

let busy: Server;
let busyPort: number;
beforeAll(async () => {
  busy = createServer(() => undefined);
  await new Promise<void>((r) => busy.listen(0, "127.0.0.1", () => r()));
  busyPort = (busy.address() as AddressInfo).port;
});
afterAll(() => new Promise<void>((r) => busy.close(() => r())));

test("a taken port is a clear EmulatorStartError, in-process and as a child process", async () => {
  await expect(startKinesalite(busyPort)).rejects.toThrow(new EmulatorStartError("kinesalite", busyPort, Object.assign(new Error("x"), { code: "EADDRINUSE" })).message);
  await expect(startDynalite(busyPort)).rejects.toThrow(`dynalite could not start on 127.0.0.1:${busyPort}: port ${busyPort} is already in use`);
  await expect(startEmulatorProcess("dynalite", busyPort)).rejects.toThrow(`dynalite (child process) could not start on 127.0.0.1:${busyPort}: port ${busyPort} is already in use`);
});

test("an emulator in a child process serves the SDK and stops through its handle", async () => {
  const dynalite = await startEmulatorProcess("dynalite");
  expect(dynalite.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  const client = new DynamoDBClient({ region: "us-east-1", endpoint: dynalite.endpoint, credentials: { accessKeyId: "l", secretAccessKey: "l" }, requestHandler: new NodeHttpHandler() });
  expect((await client.send(new ListTablesCommand({}))).TableNames).toEqual([]);
  client.destroy();
  await dynalite.stop();
  expect(await answers(dynalite.endpoint)).toBe(false);
  await dynalite.stop(); // a second stop is harmless
});

test("an interrupted run (Ctrl-C) stops the load and every emulator", async () => {
  const out = mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "local-abort-"));
  const controller = new AbortController();
  let endpoints: Record<string, string> = {};
  try {
    await expect(
      runLocalPipeline({
        outDir: out,
        load: loadgenLoad({ events: 100_000, rate: 500 }),
        windowSeconds: 2,
        progressIntervalMs: 20,
        signal: controller.signal,
        onProgress: (s) => {
          endpoints = s.endpoints;
          if (s.phase === "loading" && (s.load.acknowledged ?? 0) > 50) controller.abort();
        },
      }),
    ).rejects.toBeInstanceOf(PipelineAbortedError);
    expect(Object.keys(endpoints).sort()).toEqual(["dynalite", "kinesalite", "local firehose"]);
    for (const e of Object.values(endpoints)) expect(await answers(e)).toBe(false);
  } finally {
    rmSync(out, { recursive: true, force: true });
  }
});

test("npm run local: Ctrl-C ends the run with status 130 and leaves no emulator process behind", async () => {
  const { spawn, execFileSync } = await import("node:child_process");
  const out = mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "local-sigint-"));
  const root = path.join(__dirname, "..");
  const child = spawn(process.execPath, ["--import", "tsx", "local/cli.ts", "--events", "100000", "--emulators", "child", "--out", out], {
    cwd: root,
    stdio: ["ignore", "pipe", "pipe"],
  });
  let stderr = "";
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  try {
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`no progress line; stderr: ${stderr}`)), 60_000);
      child.stderr.on("data", (d) => {
        stderr += String(d);
        if (/\] loading /.test(stderr)) {
          clearTimeout(t);
          resolve();
        }
      });
    });
    const kids = execFileSync("ps", ["-o", "pid=,args=", "--ppid", String(child.pid)])
      .toString()
      .split("\n")
      .filter((l) => l.includes("emulator-child.js"))
      .map((l) => Number(l.trim().split(/\s+/)[0]));
    expect(kids.length).toBe(2); // kinesalite and dynalite
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(stderr).toContain("interrupted");
    for (const pid of kids) expect(() => process.kill(pid, 0)).toThrow();
  } finally {
    if (child.exitCode === null) child.kill("SIGKILL");
    rmSync(out, { recursive: true, force: true });
  }
});

test("npm run local: a port that cannot be bound is exit status 2 with a clear message", async () => {
  const { main } = await import("../local/cli");
  const out = mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "local-port-"));
  const printed: string[] = [];
  const spy = jest.spyOn(process.stderr, "write").mockImplementation((s) => {
    printed.push(String(s));
    return true;
  });
  try {
    expect(await main(["--dynamodb-port", String(busyPort), "--out", out, "--no-progress"])).toBe(2);
  } finally {
    spy.mockRestore();
    rmSync(out, { recursive: true, force: true });
  }
  expect(printed.join("")).toContain(`local: dynalite could not start on 127.0.0.1:${busyPort}: port ${busyPort} is already in use`);
});
