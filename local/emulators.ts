import type { Server } from "node:http";
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

/** Credentials the emulators accept; never real ones. */
export const EMULATOR_CREDENTIALS = { accessKeyId: "local", secretAccessKey: "local" } as const;
