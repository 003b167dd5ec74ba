import { fork } from "node:child_process";
import type { Server } from "node:http";
import * as path from "node:path";
import type { AddressInfo } from "node:net";

/**
 * AWS emulators started in this process, bound to 127.0.0.1 only (their CLIs bind every
 * interface). Each returns its endpoint URL and a `stop()` that closes it through its own handle.
 */
export interface RunningEmulator {
  readonly name: string;
  readonly endpoint: string;
  readonly port: number;
  stop(): Promise<void>;
}

export class EmulatorStartError extends Error {
  constructor(name: string, port: number, cause: unknown) {
    const reason = (cause as NodeJS.ErrnoException)?.code === "EADDRINUSE" ? `port ${port} is already in use` : String((cause as Error)?.message ?? cause);
    super(`${name} could not start on 127.0.0.1:${port}: ${reason}`);
    this.name = "EmulatorStartError";
  }
}

const HOST = "127.0.0.1";

function listen(name: string, server: Server, port: number): Promise<RunningEmulator> {
  return new Promise((resolve, reject) => {
    const onError = (err: unknown) => reject(new EmulatorStartError(name, port, err));
    server.once("error", onError);
    server.listen(port, HOST, () => {
      server.off("error", onError);
      const bound = (server.address() as AddressInfo).port;
      resolve({
        name,
        endpoint: `http://${HOST}:${bound}`,
        port: bound,
        stop: () =>
          new Promise<void>((done, fail) => {
            (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
            server.close((err) => (err ? fail(err) : done()));
          }),
      });
    });
  });
}

/** Kinesis (kinesalite), in memory; `port` 0 picks a free one. */
export function startKinesalite(port = 0): Promise<RunningEmulator> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const kinesalite = require("kinesalite") as (opts: object) => Server;
  return listen("kinesalite", kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100 }), port);
}

/** DynamoDB (dynalite), in memory; `port` 0 picks a free one. */
export function startDynalite(port = 0): Promise<RunningEmulator> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const dynalite = require("dynalite") as (opts: object) => Server;
  return listen("dynalite", dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 }), port);
}

/** S3 (s3rver) over a folder; credentials S3RVER/S3RVER. */
export async function startS3rver(directory: string, port = 0): Promise<RunningEmulator> {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const S3rver = require("s3rver") as new (opts: object) => { run(): Promise<AddressInfo>; close(): Promise<void> };
  const server = new S3rver({ port, address: HOST, directory, silent: true });
  let address: AddressInfo;
  try {
    address = await server.run();
  } catch (err) {
    throw new EmulatorStartError("s3rver", port, err);
  }
  return {
    name: "s3rver",
    endpoint: `http://${HOST}:${address.port}`,
    port: address.port,
    stop: () => server.close(),
  };
}

/**
 * kinesalite or dynalite in a child process of its own (local/emulator-child.js), on 127.0.0.1:
 * the emulator then has a core to itself instead of sharing the pipeline's event loop. `stop()`
 * ends that child through its handle; the child also exits if this process goes away.
 */
export function startEmulatorProcess(name: "kinesalite" | "dynalite", port = 0, timeoutMs = 15_000): Promise<RunningEmulator> {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, "emulator-child.js"), [name, String(port)], {
      stdio: ["ignore", "ignore", "inherit", "ipc"],
      execArgv: [],
    });
    let settled = false;
    const fail = (cause: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      if (child.exitCode === null) child.kill("SIGKILL");
      reject(new EmulatorStartError(`${name} (child process)`, port, cause));
    };
    const timer = setTimeout(() => fail(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs);
    child.once("error", fail);
    child.once("exit", (code, signal) => fail(new Error(`exited early (${signal ?? `code ${code}`})`)));
    child.once("message", (msg: { port?: number; error?: string; code?: string }) => {
      if (msg.error !== undefined || !msg.port) return fail(Object.assign(new Error(msg.error ?? "no port"), { code: msg.code }));
      settled = true;
      clearTimeout(timer);
      child.removeAllListeners("exit");
      const exited = new Promise<void>((done) => child.once("exit", () => done()));
      resolve({
        name,
        endpoint: `http://${HOST}:${msg.port}`,
        port: msg.port,
        stop: async () => {
          if (child.exitCode !== null || child.signalCode !== null) return;
          child.kill("SIGTERM");
          const killer = setTimeout(() => child.kill("SIGKILL"), 3000);
          await exited;
          clearTimeout(killer);
        },
      });
    });
  });
}

/** Credentials the emulators accept; never real ones. */
export const EMULATOR_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" } as const;
