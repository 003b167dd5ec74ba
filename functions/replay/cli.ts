import { Command, InvalidArgumentError } from "commander";
import { createReadStream, fstatSync } from "node:fs";
import { Readable, type Writable } from "node:stream";
import { loadConfig } from "../../config/load";
import { MAX_WINDOW_SECONDS, MIN_WINDOW_SECONDS } from "../core/stagger";
import { LineSplitter } from "./lines";
import { ReplayCollector } from "./replay";

/**
 * `npm run --silent sessionize -- --window 60 < records.ndjson > rows.ndjson`
 * Rows on stdout (NDJSON, ordered by emitted_at then session_id), rejected records on stderr
 * (one JSON line each, with the reason). Exit 0 unless the input cannot be read (2) or the
 * options are wrong (1).
 */

function windowOption(value: string): number {
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isInteger(n) || n < MIN_WINDOW_SECONDS || n > MAX_WINDOW_SECONDS) {
    throw new InvalidArgumentError(`a whole number of seconds from ${MIN_WINDOW_SECONDS} to ${MAX_WINDOW_SECONDS}`);
  }
  return n;
}

function write(stream: Writable, text: string): Promise<void> {
  return new Promise((resolve, reject) => {
    if (text === "") return resolve();
    stream.write(text, (err) => (err ? reject(err) : resolve()));
  });
}

/**
 * The process's stdin as a stream whose read errors surface. Node gives a directory (or any fd
 * it cannot classify) on fd 0 as an empty stream that just ends, so `< /tmp` would look like
 * empty input; a regular file or a directory is read through fs instead, which reports EISDIR.
 */
export function stdinStream(): Readable {
  let stat;
  try {
    stat = fstatSync(0);
  } catch (err) {
    return new Readable({
      read() {
        this.destroy(err as Error);
      },
    });
  }
  if (stat.isFile() || stat.isDirectory()) return createReadStream("", { fd: 0, autoClose: false });
  return process.stdin;
}

const oneLine = (text: string) => text.replace(/\s+/g, " ").trim();

export async function main(argv: string[], io: { stdin: Readable; stdout: Writable; stderr: Writable }): Promise<number> {
  const program = new Command()
    .name("sessionize")
    .description("Replay Kinesis records through the stagger-window sessionizer, offline.")
    .option("-w, --window <seconds>", "window length W in seconds (default: the shared config's)", windowOption)
    .option("-c, --config <file>", "config file for the default window (default: config/<SESSIONIZATION_ENV or dev>.json)")
    .option("-i, --input <file>", "read this NDJSON file instead of stdin")
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  try {
    program.parse(argv, { from: "user" });
  } catch (err) {
    const code = (err as { exitCode?: number }).exitCode;
    return code === undefined ? 1 : code;
  }
  const opts = program.opts<{ window?: number; config?: string; input?: string }>();
  let windowSeconds = opts.window;
  if (windowSeconds === undefined) {
    try {
      windowSeconds = (opts.config ? loadConfig(opts.config) : loadConfig()).windowSeconds;
    } catch (err) {
      io.stderr.write(`sessionize: no --window given and the config could not be read: ${(err as Error).message}\n`);
      return 1;
    }
  }

  const collector = new ReplayCollector();
  try {
    // Bytes, split on \n here: each line is checked as UTF-8 on its own (no replacement characters).
    const input = opts.input ? createReadStream(opts.input) : io.stdin;
    const splitter = new LineSplitter(
      (line) => collector.addBytes(line),
      (bytes) => collector.addTooLong(bytes),
    );
    for await (const chunk of input) splitter.push(typeof chunk === "string" ? Buffer.from(chunk, "utf8") : (chunk as Buffer));
    splitter.end();
  } catch (err) {
    io.stderr.write(`sessionize: cannot read the input: ${oneLine((err as Error).message)}\n`);
    return 2;
  }

  const result = collector.finish(windowSeconds);
  for (const r of result.rejected) io.stderr.write(JSON.stringify(r) + "\n");
  const CHUNK = 1000;
  for (let i = 0; i < result.rows.length; i += CHUNK) {
    await write(io.stdout, result.rows.slice(i, i + CHUNK).map((r) => JSON.stringify(r) + "\n").join(""));
  }
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2), { stdin: stdinStream(), stdout: process.stdout, stderr: process.stderr }).then(
    (code) => {
      process.exitCode = code;
    },
    (err) => {
      process.stderr.write(`sessionize: ${(err as Error).stack ?? err}\n`);
      process.exitCode = 1;
    },
  );
}
