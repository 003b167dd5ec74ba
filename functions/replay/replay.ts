import { parseRecord, validateEvent, type ParseResult } from "../core/event";
import type { SessionRow } from "../core/row";
import { sessionize, type Arrival } from "../core/stagger";
import { parseClientTimestamp } from "../core/timestamp";
import { decodeEscaped, encodeEscaped, hasLoneSurrogate, LineSplitter, MAX_LINE_BYTES } from "./lines";

/**
 * The engine offline: NDJSON lines `{"arrival": "<ISO-8601>", "event": {...}}` or
 * `{"arrival": "<ISO-8601>", "data": "<raw payload>"}` in, session rows out. Records are taken in
 * arrival order (ties in input order); every window is closed at the end of the input.
 */

export interface ReplayRejection {
  /** 1-based input line. */
  readonly line: number;
  /**
   * A core reason code, `invalid_line` when the line is not a replay record at all, or
   * `line_too_long` when it has more than MAX_LINE_BYTES bytes.
   */
  readonly reason: string;
  readonly field?: string;
  readonly detail: string;
  readonly arrival?: string;
}

export interface ReplayResult {
  readonly rows: SessionRow[];
  readonly rejected: ReplayRejection[];
  readonly records: number;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

export class ReplayCollector {
  private readonly arrivals: { arrival: Arrival; order: number }[] = [];
  readonly rejected: ReplayRejection[] = [];
  private lineNo = 0;

  /** Takes one input line, as text. */
  add(text: string): void {
    this.take(++this.lineNo, text, false);
  }

  /**
   * Takes one input line, as bytes. A line that is not valid UTF-8 is never decoded with
   * replacement characters: when its invalid bytes are in a `data` payload, the record is
   * rejected as `invalid_utf8` by `parseRecord` on the payload's bytes, as the sessionizer does;
   * otherwise the line is rejected as `invalid_utf8` (where the first bad byte is).
   */
  addBytes(bytes: Uint8Array): void {
    const line = ++this.lineNo;
    let text: string;
    try {
      text = utf8.decode(bytes);
    } catch {
      const decoded = decodeEscaped(bytes);
      const rejected = this.take(line, decoded.text, true);
      if (rejected !== "invalid_utf8") {
        // Not a `data` payload's fault (or not a record): the line itself.
        if (rejected !== undefined) this.rejected.pop();
        else this.arrivals.pop();
        this.rejected.push({
          line,
          reason: "invalid_utf8",
          detail: `the line is not valid UTF-8: ${decoded.invalidBytes} invalid byte(s), the first at byte offset ${decoded.firstInvalidOffset}`,
        });
      }
      return;
    }
    this.take(line, text, false);
  }

  /** Counts one input line that was too long to be read (`bytes` long, without its `\n`). */
  addTooLong(bytes: number, maxLineBytes = MAX_LINE_BYTES): void {
    this.rejected.push({
      line: ++this.lineNo,
      reason: "line_too_long",
      detail: `the line has ${bytes} bytes, more than the ${maxLineBytes} a line may have; skipped`,
    });
  }

  /**
   * One line's record; returns the reason it was rejected with, or undefined when it was taken.
   * `escaped`: the text came from `decodeEscaped`, its lone U+DC80-U+DCFF stand for raw bytes.
   */
  private take(line: number, text: string, escaped: boolean): string | undefined {
    if (!escaped && text.trim() === "") return undefined;
    const bad = (detail: string, extra: Partial<ReplayRejection> = {}) => {
      this.rejected.push({ line, reason: "invalid_line", detail, ...extra });
      return "invalid_line";
    };
    let wrapper: unknown;
    try {
      wrapper = JSON.parse(text);
    } catch (err) {
      return bad(`not a JSON line: ${(err as Error).message}`);
    }
    if (typeof wrapper !== "object" || wrapper === null || Array.isArray(wrapper)) {
      return bad("expected an object {arrival, event} or {arrival, data}");
    }
    const w = wrapper as Record<string, unknown>;
    const arrivalMs = parseClientTimestamp(w.arrival);
    if (typeof arrivalMs === "string") {
      return bad(`arrival: ${w.arrival === undefined ? "missing" : arrivalMs}`, { field: "arrival" });
    }
    let parsed: ParseResult;
    if ("event" in w) parsed = validateEvent(w.event);
    else if (typeof w.data === "string") {
      // The payload as the bytes a Kinesis record would carry; a string with a lone surrogate has
      // no UTF-8 form, so it is checked as bytes too and comes out `invalid_utf8`.
      parsed = escaped || hasLoneSurrogate(w.data) ? parseRecord(encodeEscaped(w.data, escaped)) : parseRecord(w.data);
    } else {
      return bad("needs an `event` object or a `data` string");
    }
    if (!parsed.ok) {
      const { reason, field, detail } = parsed.rejection;
      this.rejected.push({ line, reason, ...(field !== undefined ? { field } : {}), detail, arrival: new Date(arrivalMs).toISOString() });
      return reason;
    }
    this.arrivals.push({ arrival: { event: parsed.event, arrivalMs }, order: this.arrivals.length });
    return undefined;
  }

  finish(windowSeconds: number): ReplayResult {
    const ordered = [...this.arrivals].sort((a, b) => a.arrival.arrivalMs - b.arrival.arrivalMs || a.order - b.order);
    return { rows: sessionize(ordered.map((a) => a.arrival), windowSeconds), rejected: this.rejected, records: this.arrivals.length };
  }
}

/** Replays a whole NDJSON text (tests, or callers holding the input in memory). */
export function replayText(text: string, windowSeconds: number): ReplayResult {
  const collector = new ReplayCollector();
  const lines = text.split("\n");
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  for (const line of lines) collector.add(line.endsWith("\r") ? line.slice(0, -1) : line);
  return collector.finish(windowSeconds);
}

/** Replays a whole NDJSON input given as bytes, split and checked as the replay command does. */
export function replayBytes(bytes: Uint8Array, windowSeconds: number, maxLineBytes = MAX_LINE_BYTES): ReplayResult {
  const collector = new ReplayCollector();
  const splitter = new LineSplitter(
    (line) => collector.addBytes(line),
    (n) => collector.addTooLong(n, maxLineBytes),
    maxLineBytes,
  );
  splitter.push(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength));
  splitter.end();
  return collector.finish(windowSeconds);
}
