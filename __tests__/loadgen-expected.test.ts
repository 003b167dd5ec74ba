import { readFileSync } from "node:fs";
import * as path from "node:path";
import { parseRecord } from "../functions/core/event";
import { computeExpected, type Expected } from "../loadgen/expected";
import { MALFORMED_KINDS, malformedPayload } from "../loadgen/model";
import { Prng } from "../loadgen/prng";
import { runLoad } from "../loadgen/run";
import { canonical, naiveExpected, readLines, tmpDir } from "./loadgen-helpers";

/** expected.json against an independent, naive recomputation from events.ndjson. */

async function dryRun(options: Parameters<typeof runLoad>[0]) {
  const out = tmpDir("loadgen-expected");
  const result = await runLoad({ dryRun: true, out, ...options });
  const expected = JSON.parse(readFileSync(path.join(out, "expected.json"), "utf8")) as Expected;
  const lines = readLines(path.join(out, "events.ndjson"));
  return { result, expected, lines, out };
}

describe.each([
  { name: "W = 60 s, seed format", window: 60, seed: 1, timestampFormat: "seed" as const },
  { name: "W = 30 s, ISO timestamps, historic start", window: 30, seed: 7, timestampFormat: "iso" as const, start: "2018-11-02T19:36:00Z" },
  { name: "W = 10 s, epoch timestamps, 10 % late", window: 10, seed: 3, timestampFormat: "epoch" as const, lateFraction: 0.1 },
])("expected.json recomputed independently ($name)", (c) => {
  let run: Awaited<ReturnType<typeof dryRun>>;
  beforeAll(async () => {
    run = await dryRun({ events: 6000, users: 120, rate: 60, malformedFraction: 0.03, lateFraction: 0.05, ...c });
  });

  test("rows, counts, reasons and Athena answers match the naive recomputation", () => {
    const { expected, lines } = run;
    const naive = naiveExpected(lines, c.window);
    expect(lines).toHaveLength(6000);
    expect(expected.counts).toEqual({ acknowledged: 6000, valid: naive.valid, malformed: naive.malformed, late: naive.late, failed: 0 });
    expect(expected.malformed_by_reason).toEqual(naive.reasons);
    expect(canonical(expected.rows)).toEqual(canonical(naive.rows));
    expect(expected.athena).toEqual({
      row_count: naive.rows.length,
      rows_with_duration: naive.rows.filter((r) => r.duration_sec > 0).length,
      duration_histogram: naive.histogram,
      treemap: naive.treemap,
    });
    expect(expected.injected.malformed.map((m) => m.line)).toEqual(naive.malformedLines);
    expect(expected.injected.malformed.map((m) => m.reason)).toEqual(naive.malformedLines.map((l) => naive.reasonOf[l]));
    expect(expected.injected.late).toEqual(naive.lateLines);
    expect(expected.window_seconds).toBe(c.window);
    expect(expected.seed).toBe(c.seed);
  });

  test("there are late and malformed records of every reason, and each late record makes one more row", () => {
    const { expected } = run;
    expect(expected.counts.late).toBeGreaterThan(0);
    expect(Object.keys(expected.malformed_by_reason).sort()).toEqual(
      ["bad_timestamp", "invalid_json", "missing_field", "not_an_object", "out_of_range", "wrong_type"],
    );
    const ids = new Set(expected.rows.map((r) => r.session_id));
    expect(expected.rows.length - ids.size).toBe(expected.counts.late);
  });

  test("rows are sorted by session_id, then beginsession", () => {
    const rows = run.expected.rows;
    for (let i = 1; i < rows.length; i++) {
      const a = rows[i - 1];
      const b = rows[i];
      expect(a.session_id < b.session_id || (a.session_id === b.session_id && a.beginsession <= b.beginsession)).toBe(true);
    }
  });

  test("no record is within the safety margin of a window boundary", () => {
    const naive = naiveExpected(run.lines, c.window);
    const margin = run.expected.safety.margin_ms;
    expect(margin).toBe(Math.min(Math.max(100 * c.window, 1000), 10_000, 250 * c.window));
    expect(naive.minDistance).toBeGreaterThanOrEqual(margin);
    expect(run.expected.safety.uncertain).toBe(0);
  });

  test("the time range covers the lines", () => {
    const { expected, lines } = run;
    expect(expected.time_range.first_arrival).toBe(lines[0].arrival);
    expect(expected.time_range.last_arrival).toBe(lines[lines.length - 1].arrival);
    if (c.start) expect(Date.parse(expected.time_range.min_client_timestamp as string)).toBeGreaterThanOrEqual(Date.parse(c.start));
  });

  test("computeExpected is a pure function of the lines", () => {
    const again = computeExpected(run.lines, c.window, { seed: c.seed, stream: run.expected.stream, marginMs: run.expected.safety.margin_ms });
    expect(again).toEqual(run.expected);
  });
});

describe("malformed records", () => {
  test.each(MALFORMED_KINDS.map((k) => [k]))("%s is rejected by the core parser", (kind) => {
    const fields = { user_id: 170, device_id: "mobile", client_event: "beer_cart", client_timestamp: "2018-11-02 19:36:39.427" };
    const reasons = new Set<string>();
    for (let i = 0; i < 30; i++) {
      const r = parseRecord(malformedPayload(kind, fields, { ip: "10.0.0.1" }, new Prng(i)));
      expect(r.ok).toBe(false);
      if (!r.ok) reasons.add(r.rejection.reason);
    }
    const expected: Record<string, string> = {
      truncated_json: "invalid_json",
      json_array: "not_an_object",
      missing_field: "missing_field",
      wrong_type: "wrong_type",
      out_of_range: "out_of_range",
      bad_timestamp: "bad_timestamp",
    };
    expect([...reasons]).toEqual([expected[kind]]);
  });
});

describe("computeExpected on hand-made lines", () => {
  const line = (arrival: string, user: number, ts: string, ev = "beer_products") => ({
    arrival,
    data: JSON.stringify({ user_id: user, device_id: "mobile", client_event: ev, client_timestamp: ts }),
    partition_key: String(user),
  });

  test("a late record opens a second window with the same session_id", () => {
    const lines = [
      line("2026-01-01T00:00:01.000Z", 170, "2026-01-01 00:00:00.900", "beer_vitrine_nav"),
      line("2026-01-01T00:00:20.000Z", 170, "2026-01-01 00:00:19.900", "beer_cart"),
      line("2026-01-01T00:01:10.000Z", 170, "2026-01-01 00:00:30.000", "beer_checkout"),
      { arrival: "2026-01-01T00:01:11.000Z", data: "{not json", partition_key: "170" },
    ];
    const e = computeExpected(lines, 60, { seed: 0, stream: "s", marginMs: 1000 });
    expect(e.rows).toEqual([
      {
        session_id: "170_MOB1767225600",
        user_id: 170,
        device_id: "mobile",
        timeagg: "2026-01-01T00:00:00.000Z",
        events: 2,
        beginnavigation: "beer_vitrine_nav",
        endnavigation: "beer_cart",
        beginsession: "2026-01-01T00:00:00.900Z",
        endsession: "2026-01-01T00:00:19.900Z",
        duration_sec: 19,
      },
      {
        session_id: "170_MOB1767225600",
        user_id: 170,
        device_id: "mobile",
        timeagg: "2026-01-01T00:00:00.000Z",
        events: 1,
        beginnavigation: "beer_checkout",
        endnavigation: "beer_checkout",
        beginsession: "2026-01-01T00:00:30.000Z",
        endsession: "2026-01-01T00:00:30.000Z",
        duration_sec: 0,
      },
    ]);
    expect(e.counts).toEqual({ acknowledged: 4, valid: 3, malformed: 1, late: 1, failed: 0 });
    expect(e.malformed_by_reason).toEqual({ invalid_json: 1 });
    expect(e.injected).toEqual({ malformed: [{ line: 4, reason: "invalid_json" }], late: [{ line: 3, session_id: "170_MOB1767225600" }] });
    expect(e.athena).toEqual({
      row_count: 2,
      rows_with_duration: 1,
      duration_histogram: [{ duration_sec: 19, sessions: 1 }],
      treemap: [{ device_id: "mobile", sum_duration_sec: 19, sum_events: 3 }],
    });
    // 00:00:20 is 41 s before the close at 00:01:01; 00:01:10 is 9 s after it
    expect(e.safety).toEqual({ margin_ms: 1000, max_call_ms: null, min_boundary_distance_ms: 9000, uncertain: 0 });
  });

  test("a record within the margin of the close is counted as uncertain", () => {
    const lines = [line("2026-01-01T00:00:01.000Z", 1, "2026-01-01 00:00:00.900"), line("2026-01-01T00:01:00.500Z", 1, "2026-01-01 00:00:59.000")];
    expect(computeExpected(lines, 60, { seed: 0, stream: "s", marginMs: 1000 }).safety.uncertain).toBe(1);
  });

  test("lines out of send order are refused", () => {
    const lines = [line("2026-01-01T00:00:02.000Z", 1, "2026-01-01 00:00:00.900"), line("2026-01-01T00:00:01.000Z", 1, "2026-01-01 00:00:00.900")];
    expect(() => computeExpected(lines, 60, { seed: 0, stream: "s" })).toThrow(/send order/);
  });
});
