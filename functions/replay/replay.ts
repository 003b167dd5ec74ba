import { parseRecord, validateEvent, type ParseResult } from "../core/event";
import type { SessionRow } from "../core/row";
import { sessionize, type Arrival } from "../core/stagger";
import { parseClientTimestamp } from "../core/timestamp";

/**
 * The engine offline: NDJSON lines `{"arrival": "<ISO-8601>", "event": {...}}` or
 * `{"arrival": "<ISO-8601>", "data": "<raw payload>"}` in, session rows out. Records are taken in
 * arrival order (ties in input order); every window is closed at the end of the input.
 */

export interface ReplayRejection {
  /** 1-based input line. */
  readonly line: number;
  /** A core reason code, or `invalid_line` when the line is not a replay record at all. */
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

export class ReplayCollector {
  private readonly arrivals: { arrival: Arrival; order: number }[] = [];
  readonly rejected: ReplayRejection[] = [];
  private lineNo = 0;

  /** Takes one input line. */
  add(text: string): void {
    const line = ++this.lineNo;
    if (text.trim() === "") return;
    const bad = (detail: string, extra: Partial<ReplayRejection> = {}) =>
      this.rejected.push({ line, reason: "invalid_line", detail, ...extra });
    let wrapper: unknown;
    try {
      wrapper = JSON.parse(text);
    } catch (err) {
      bad(`not a JSON line: ${(err as Error).message}`);
      return;
    }
    if (typeof wrapper !== "object" || wrapper === null || Array.isArray(wrapper)) {
      bad("expected an object {arrival, event} or {arrival, data}");
      return;
    }
    const w = wrapper as Record<string, unknown>;
    const arrivalMs = parseClientTimestamp(w.arrival);
    if (typeof arrivalMs === "string") {
      bad(`arrival: ${w.arrival === undefined ? "missing" : arrivalMs}`, { field: "arrival" });
      return;
    }
    let parsed: ParseResult;
    if ("event" in w) parsed = validateEvent(w.event);
    else if (typeof w.data === "string") parsed = parseRecord(w.data);
    else {
      bad("needs an `event` object or a `data` string");
      return;
    }
    if (!parsed.ok) {
      const { reason, field, detail } = parsed.rejection;
      this.rejected.push({ line, reason, ...(field !== undefined ? { field } : {}), detail, arrival: new Date(arrivalMs).toISOString() });
      return;
    }
    this.arrivals.push({ arrival: { event: parsed.event, arrivalMs }, order: this.arrivals.length });
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
