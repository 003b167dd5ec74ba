import { randomBytes, randomUUID } from "node:crypto";
import { mkdir, rename, writeFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import * as path from "node:path";
import { firehoseErrorPrefix } from "../modules/firehose-prefixes";
import { EmulatorStartError, type RunningEmulator } from "./emulators";

/**
 * A local Amazon Data Firehose: an HTTP server on 127.0.0.1 that speaks the Firehose JSON 1.1
 * protocol (`X-Amz-Target: Firehose_20150804.<Operation>`), so the real @aws-sdk/client-firehose
 * in the Lambda handlers talks to it unchanged, plus an in-process `put()` for delivery streams
 * whose source is the Kinesis stream (Firehose `raw`).
 *
 * Delivery follows Firehose's S3 destination:
 * - records are buffered per delivery stream and delivered when the buffer holds `bufferSizeBytes`
 *   or `bufferIntervalSeconds` after the first record entered it, whichever comes first;
 * - the object key is `<prefix>year=YYYY/month=MM/day=DD/hour=HH/<stream>-1-YYYY-MM-DD-HH-MM-SS-<uuid>`,
 *   by the arrival time (UTC) of the oldest record in the object, as Firehose does;
 * - record bytes are concatenated as sent (Firehose adds no delimiter); a stream with
 *   `appendDelimiter` adds "\n" after each record (Firehose's AppendDelimiterToRecord processor,
 *   which a Kinesis-sourced stream of JSON records needs);
 * - an object that cannot be written after bounded retries goes to the stream's error output,
 *   `<errorPrefix>/delivery-failed/<shortName>/s3-failed/year=…/`: the same `firehoseErrorPrefix`
 *   the stacks give Firehose, with the error output type `s3-failed` and the object's hour filled in;
 * - objects appear atomically (written beside the lake, then renamed), so a reader never sees half a file;
 * - `flush()` / `stop()` deliver everything buffered: nothing acknowledged is lost on shutdown.
 */

export interface DeliveryStreamSpec {
  readonly name: string;
  /** Key prefix of delivered objects, relative to the lake folder, ending in "/" (e.g. `aggregated/`). */
  readonly prefix: string;
  /** The lake's error prefix without slashes (config `lake.errorPrefix`, e.g. `errors`). */
  readonly errorPrefix: string;
  /** The stream's short name in its error output prefix (e.g. `aggregated`), as the stacks name it. */
  readonly shortName: string;
  /** Add "\n" after each record (AppendDelimiterToRecord). */
  readonly appendDelimiter?: boolean;
}

export interface LocalFirehoseOptions {
  /** The lake folder: the local equivalent of the S3 bucket. */
  readonly lakeDir: string;
  readonly streams: readonly DeliveryStreamSpec[];
  /** May be fractional locally (the config's interval, scaled down). */
  readonly bufferIntervalSeconds: number;
  readonly bufferSizeBytes: number;
  readonly port?: number;
  /** Epoch ms; tests pass a fixed clock. */
  readonly now?: () => number;
  /** Test hook: return an error code to fail one entry of a PutRecordBatch (partial failure). */
  readonly failEntry?: (stream: string, index: number, data: Buffer) => string | undefined;
  /** Test hook: replaces the object writer (to simulate S3 delivery failures). */
  readonly writeObject?: (file: string, body: Buffer) => Promise<void>;
  readonly deliveryRetries?: number;
}

export interface DeliveryStreamStats {
  records: number;
  bytes: number;
  objects: number;
  /** Records that went to the error prefix. */
  failedRecords: number;
  /** Records delivered without a trailing newline on a stream without appendDelimiter. */
  recordsWithoutNewline: number;
  buffered: number;
}

/** The limits Firehose enforces on Direct PUT. */
export const FIREHOSE_LIMITS = {
  maxRecordBytes: 1000 * 1024,
  maxBatchRecords: 500,
  maxBatchBytes: 4 * 1024 * 1024,
} as const;

const ACCOUNT = "000000000000";
/** The error output type the local Firehose gives an object it could not write to the lake. */
export const LOCAL_ERROR_OUTPUT_TYPE = "s3-failed";
const TARGET_PREFIX = "Firehose_20150804.";

class FirehoseError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
  }
}

interface Buffered {
  chunks: Buffer[];
  bytes: number;
  records: number;
  oldestArrivalMs: number;
  timer?: NodeJS.Timeout;
}

const pad = (n: number) => String(n).padStart(2, "0");

/** `year=YYYY/month=MM/day=DD/hour=HH/` of an instant, UTC. */
export function hivePartition(ms: number): string {
  const d = new Date(ms);
  return `year=${d.getUTCFullYear()}/month=${pad(d.getUTCMonth() + 1)}/day=${pad(d.getUTCDate())}/hour=${pad(d.getUTCHours())}/`;
}

function objectName(stream: string, ms: number): string {
  const d = new Date(ms);
  const stamp = [d.getUTCFullYear(), pad(d.getUTCMonth() + 1), pad(d.getUTCDate()), pad(d.getUTCHours()), pad(d.getUTCMinutes()), pad(d.getUTCSeconds())].join("-");
  return `${stream}-1-${stamp}-${randomUUID()}`;
}

export class LocalFirehose {
  private readonly streams = new Map<string, DeliveryStreamSpec>();
  private readonly buffers = new Map<string, Buffered>();
  private readonly stats = new Map<string, DeliveryStreamStats>();
  /** Per stream: the chain of deliveries, so objects are written one after the other. */
  private readonly chains = new Map<string, Promise<void>>();
  private readonly now: () => number;
  private readonly stagingDir: string;
  private server?: Server;
  private stopped = false;
  endpoint = "";

  constructor(private readonly options: LocalFirehoseOptions) {
    if (!(options.bufferIntervalSeconds > 0)) throw new RangeError(`bufferIntervalSeconds must be > 0, got ${options.bufferIntervalSeconds}`);
    if (!(options.bufferSizeBytes > 0)) throw new RangeError(`bufferSizeBytes must be > 0, got ${options.bufferSizeBytes}`);
    for (const spec of options.streams) {
      this.streams.set(spec.name, spec);
      this.stats.set(spec.name, { records: 0, bytes: 0, objects: 0, failedRecords: 0, recordsWithoutNewline: 0, buffered: 0 });
      this.chains.set(spec.name, Promise.resolve());
    }
    this.now = options.now ?? Date.now;
    this.stagingDir = path.join(options.lakeDir, ".firehose-staging");
  }

  /** Starts the HTTP endpoint on 127.0.0.1 (`port` 0 or unset: a free port). */
  async start(): Promise<RunningEmulator> {
    const port = this.options.port ?? 0;
    const server = createServer((req, res) => void this.serve(req, res));
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once("error", (err) => reject(new EmulatorStartError("local firehose", port, err)));
      server.listen(port, "127.0.0.1", () => resolve());
    });
    const bound = (server.address() as AddressInfo).port;
    this.endpoint = `http://127.0.0.1:${bound}`;
    return { name: "local firehose", endpoint: this.endpoint, port: bound, stop: () => this.stop() };
  }

  /** Delivers everything buffered and closes the endpoint. */
  async stop(): Promise<void> {
    this.stopped = true;
    const server = this.server;
    this.server = undefined;
    if (server) {
      await new Promise<void>((resolve) => {
        (server as Server & { closeAllConnections?: () => void }).closeAllConnections?.();
        server.close(() => resolve());
      });
    }
    await this.flush();
  }

  /** Delivers every buffer now and waits for the writes. */
  async flush(): Promise<void> {
    for (const name of this.streams.keys()) this.deliver(name);
    await Promise.all([...this.chains.values()]);
  }

  statsOf(stream: string): DeliveryStreamStats {
    const s = this.stats.get(stream);
    if (!s) throw new Error(`no delivery stream ${stream}`);
    return { ...s, buffered: this.buffers.get(stream)?.records ?? 0 };
  }

  allStats(): Record<string, DeliveryStreamStats> {
    return Object.fromEntries([...this.streams.keys()].map((n) => [n, this.statsOf(n)]));
  }

  /** Records buffered, not yet delivered, over all streams. */
  get bufferedRecords(): number {
    let n = 0;
    for (const b of this.buffers.values()) n += b.records;
    return n;
  }

  /**
   * In-process put, for a delivery stream whose source is the Kinesis stream. `arrivalMs` is the
   * record's Kinesis arrival time (Firehose partitions a Kinesis-sourced stream by it).
   */
  put(stream: string, records: readonly Uint8Array[], arrivalMs: number = this.now()): void {
    this.spec(stream);
    for (const r of records) this.add(stream, Buffer.from(r.buffer, r.byteOffset, r.byteLength), arrivalMs);
  }

  private spec(name: unknown): DeliveryStreamSpec {
    const spec = typeof name === "string" ? this.streams.get(name) : undefined;
    if (!spec) throw new FirehoseError("ResourceNotFoundException", `Firehose ${String(name)} under account ${ACCOUNT} not found.`);
    return spec;
  }

  private add(stream: string, data: Buffer, arrivalMs: number): void {
    const spec = this.streams.get(stream) as DeliveryStreamSpec;
    const stats = this.stats.get(stream) as DeliveryStreamStats;
    const body = spec.appendDelimiter ? Buffer.concat([data, Buffer.from("\n")]) : data;
    if (!spec.appendDelimiter && body[body.length - 1] !== 0x0a) stats.recordsWithoutNewline++;
    let buf = this.buffers.get(stream);
    if (buf && buf.bytes + body.length > this.options.bufferSizeBytes) {
      this.deliver(stream);
      buf = undefined;
    }
    if (!buf) {
      buf = { chunks: [], bytes: 0, records: 0, oldestArrivalMs: arrivalMs };
      this.buffers.set(stream, buf);
      buf.timer = setTimeout(() => this.deliver(stream), this.options.bufferIntervalSeconds * 1000);
      buf.timer.unref?.();
    }
    buf.chunks.push(body);
    buf.bytes += body.length;
    buf.records++;
    buf.oldestArrivalMs = Math.min(buf.oldestArrivalMs, arrivalMs);
    stats.records++;
    stats.bytes += body.length;
    // After stop() nothing would flush a new buffer: deliver it straight away.
    if (buf.bytes >= this.options.bufferSizeBytes || this.stopped) this.deliver(stream);
  }

  /** Takes the stream's buffer and chains its write. */
  private deliver(stream: string): void {
    const buf = this.buffers.get(stream);
    if (!buf || buf.records === 0) return;
    this.buffers.delete(stream);
    if (buf.timer) clearTimeout(buf.timer);
    const prev = this.chains.get(stream) as Promise<void>;
    this.chains.set(
      stream,
      prev.then(() => this.writeBuffer(stream, buf)),
    );
  }

  private async writeBuffer(stream: string, buf: Buffered): Promise<void> {
    const spec = this.streams.get(stream) as DeliveryStreamSpec;
    const stats = this.stats.get(stream) as DeliveryStreamStats;
    const body = Buffer.concat(buf.chunks, buf.bytes);
    const name = objectName(stream, buf.oldestArrivalMs);
    const key = `${spec.prefix}${hivePartition(buf.oldestArrivalMs)}${name}`;
    const write = this.options.writeObject ?? ((file: string, data: Buffer) => this.atomicWrite(file, data));
    const retries = this.options.deliveryRetries ?? 3;
    for (let attempt = 0; ; attempt++) {
      try {
        await write(path.join(this.options.lakeDir, key), body);
        stats.objects++;
        return;
      } catch (err) {
        if (attempt >= retries) {
          const errorKey = `${firehoseErrorPrefix(spec.errorPrefix, spec.shortName, { errorOutputType: LOCAL_ERROR_OUTPUT_TYPE, timePartitions: hivePartition(buf.oldestArrivalMs) })}${name}`;
          try {
            await this.atomicWrite(path.join(this.options.lakeDir, errorKey), body);
          } catch (err2) {
            process.stderr.write(`local firehose: ${stream}: lost ${buf.records} records: ${(err2 as Error).message}\n`);
          }
          stats.failedRecords += buf.records;
          process.stderr.write(`local firehose: ${stream}: delivery failed (${(err as Error).message}); ${buf.records} records written to ${errorKey}\n`);
          return;
        }
        await new Promise((r) => setTimeout(r, 50 * 2 ** attempt));
      }
    }
  }

  private async atomicWrite(file: string, body: Buffer): Promise<void> {
    await mkdir(this.stagingDir, { recursive: true });
    const staged = path.join(this.stagingDir, `${randomUUID()}.part`);
    await writeFile(staged, body);
    await mkdir(path.dirname(file), { recursive: true });
    await rename(staged, file);
  }

  // ---- the JSON 1.1 protocol ----

  private async serve(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const requestId = randomUUID();
    const reply = (status: number, body: unknown, errorType?: string) => {
      const text = JSON.stringify(body);
      const headers: Record<string, string | number> = {
        "Content-Type": "application/x-amz-json-1.1",
        "Content-Length": Buffer.byteLength(text),
        "x-amzn-RequestId": requestId,
      };
      if (errorType) headers["x-amzn-ErrorType"] = `${errorType}:`;
      res.writeHead(status, headers);
      res.end(text);
    };
    try {
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of req) {
        size += (chunk as Buffer).length;
        if (size > 16 * 1024 * 1024) throw new FirehoseError("SerializationException", "request body too large", 413);
        chunks.push(chunk as Buffer);
      }
      if (req.method !== "POST") throw new FirehoseError("UnknownOperationException", `method ${req.method} not supported`);
      const target = String(req.headers["x-amz-target"] ?? "");
      if (!target.startsWith(TARGET_PREFIX)) throw new FirehoseError("UnknownOperationException", `missing or unknown X-Amz-Target: ${target || "(none)"}`);
      let input: Record<string, unknown>;
      try {
        input = JSON.parse(Buffer.concat(chunks).toString("utf8") || "{}");
      } catch {
        throw new FirehoseError("SerializationException", "the request body is not valid JSON");
      }
      reply(200, this.operate(target.slice(TARGET_PREFIX.length), input));
    } catch (err) {
      if (err instanceof FirehoseError) reply(err.status, { __type: err.type, message: err.message }, err.type);
      else reply(500, { __type: "ServiceUnavailableException", message: String((err as Error)?.message ?? err) }, "ServiceUnavailableException");
    }
  }

  private operate(operation: string, input: Record<string, unknown>): unknown {
    switch (operation) {
      case "PutRecord": {
        const spec = this.spec(input.DeliveryStreamName);
        const data = decodeRecord(input.Record, "record");
        this.add(spec.name, data, this.now());
        return { RecordId: recordId(), Encrypted: false };
      }
      case "PutRecordBatch": {
        const spec = this.spec(input.DeliveryStreamName);
        const records = input.Records;
        if (!Array.isArray(records) || records.length < 1 || records.length > FIREHOSE_LIMITS.maxBatchRecords) {
          throw new FirehoseError(
            "ValidationException",
            `1 validation error detected: Value at 'records' failed to satisfy constraint: Member must have length between 1 and ${FIREHOSE_LIMITS.maxBatchRecords} (got ${Array.isArray(records) ? records.length : "no list"})`,
          );
        }
        const decoded = records.map((r, i) => decodeRecord(r, `records.${i + 1}.member`));
        const total = decoded.reduce((n, d) => n + d.length, 0);
        if (total > FIREHOSE_LIMITS.maxBatchBytes) {
          throw new FirehoseError("InvalidArgumentException", `Records size exceeds ${FIREHOSE_LIMITS.maxBatchBytes} bytes limit (got ${total})`);
        }
        const arrival = this.now();
        let failed = 0;
        const responses = decoded.map((data, i) => {
          const code = this.options.failEntry?.(spec.name, i, data);
          if (code) {
            failed++;
            return { ErrorCode: code, ErrorMessage: `Injected failure: ${code}` };
          }
          this.add(spec.name, data, arrival);
          return { RecordId: recordId() };
        });
        return { FailedPutCount: failed, Encrypted: false, RequestResponses: responses };
      }
      case "ListDeliveryStreams":
        return { DeliveryStreamNames: [...this.streams.keys()].sort(), HasMoreDeliveryStreams: false };
      case "DescribeDeliveryStream": {
        const spec = this.spec(input.DeliveryStreamName);
        return {
          DeliveryStreamDescription: {
            DeliveryStreamName: spec.name,
            DeliveryStreamARN: `arn:aws:firehose:local:${ACCOUNT}:deliverystream/${spec.name}`,
            DeliveryStreamStatus: "ACTIVE",
            DeliveryStreamType: spec.appendDelimiter ? "KinesisStreamAsSource" : "DirectPut",
            VersionId: "1",
            Destinations: [],
            HasMoreDestinations: false,
          },
        };
      }
      default:
        throw new FirehoseError("UnknownOperationException", `operation ${operation} is not supported by the local Firehose`);
    }
  }
}

function recordId(): string {
  return randomBytes(48).toString("base64url");
}

function decodeRecord(record: unknown, where: string): Buffer {
  const data = (record as { Data?: unknown } | undefined)?.Data;
  if (typeof data !== "string") throw new FirehoseError("ValidationException", `1 validation error detected: Value null at '${where}.data' failed to satisfy constraint: Member must not be null`);
  const bytes = Buffer.from(data, "base64");
  if (bytes.length > FIREHOSE_LIMITS.maxRecordBytes) {
    throw new FirehoseError("ValidationException", `1 validation error detected: Value at '${where}.data' failed to satisfy constraint: Member must have length less than or equal to ${FIREHOSE_LIMITS.maxRecordBytes}`);
  }
  return bytes;
}
