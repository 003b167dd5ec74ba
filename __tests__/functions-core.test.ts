import * as path from "node:path";
import { readFileSync } from "node:fs";
import { parseRecord, validateEvent, type ClickEvent } from "../functions/core/event";
import { sessionRowSchema, type SessionRow } from "../functions/core/row";
import { applyToWindow, sessionize, StaggerEngine, windowKey, type Arrival } from "../functions/core/stagger";
import { parseClientTimestamp } from "../functions/core/timestamp";
import { replayText } from "../functions/replay/replay";
import { REJECTED_COLUMNS, rejectedRecordSchema } from "../functions/core/rejected";
import { rejectedRecord } from "../functions/sessionizer/process-batch";

const DOCS_EXAMPLE = path.resolve(__dirname, "../../shared/testdata/stagger-docs-example.json");

interface DocsExample {
  window_seconds: number;
  records: { arrival: string; event: Record<string, unknown> }[];
  expected: Record<string, unknown>[];
}
const docs: DocsExample = JSON.parse(readFileSync(DOCS_EXAMPLE, "utf8"));

const ms = (iso: string) => Date.parse(iso);

function ev(user_id: number, device_id: string, client_event: string, ts: string | number): ClickEvent {
  const r = validateEvent({ user_id, device_id, client_event, client_timestamp: ts });
  if (!r.ok) throw new Error(JSON.stringify(r.rejection));
  return r.event;
}
const at = (arrival: string, event: ClickEvent): Arrival => ({ event, arrivalMs: ms(arrival) });

/** The expected row's fields, in the expected object's key order. */
function project(row: SessionRow, like: Record<string, unknown>): Record<string, unknown> {
  return Object.fromEntries(Object.keys(like).map((k) => [k, (row as unknown as Record<string, unknown>)[k]]));
}

describe("the AWS documentation's stagger-window example", () => {
  test("comes out exactly (core)", () => {
    const arrivals = docs.records.map((r) => {
      const parsed = validateEvent(r.event);
      if (!parsed.ok) throw new Error("bad test data");
      return { event: parsed.event, arrivalMs: ms(r.arrival) };
    });
    const rows = sessionize(arrivals, docs.window_seconds);
    expect(rows.map((r, i) => project(r, docs.expected[i]))).toEqual(docs.expected);
    expect(rows.map((r) => JSON.stringify(project(r, docs.expected[0])))).toEqual(docs.expected.map((e) => JSON.stringify(e)));
    expect(rows.map((r) => r.window_id)).toEqual(["7_COM1796295600@2026-12-03T11:00:20.000Z", "7_COM1796295660@2026-12-03T11:01:15.000Z"]);
    for (const r of rows) expect(sessionRowSchema.parse(r)).toEqual(r);
  });

  test("comes out exactly through the replay parser, from both input forms", () => {
    const asEvents = docs.records.map((r) => JSON.stringify(r)).join("\n");
    const asData = docs.records.map((r) => JSON.stringify({ arrival: r.arrival, data: JSON.stringify(r.event) })).join("\n");
    for (const text of [asEvents, asData]) {
      const out = replayText(text + "\n", docs.window_seconds);
      expect(out.rejected).toEqual([]);
      expect(out.rows.map((r, i) => project(r, docs.expected[i]))).toEqual(docs.expected);
    }
  });
});

describe("hand-computed cases", () => {
  test("a late record yields a second row with the same session_id", () => {
    const rows = sessionize(
      [
        at("2026-03-01T10:00:05.000Z", ev(170, "mobile", "beer_vitrine_nav", "2026-03-01T10:00:01.000Z")),
        at("2026-03-01T10:00:20.000Z", ev(170, "mobile", "beer_products", "2026-03-01T10:00:15.000Z")),
        // Same bucket (10:00), but arrives after the window opened at 10:00:05 closed (10:01:05).
        at("2026-03-01T10:01:30.000Z", ev(170, "mobile", "beer_cart", "2026-03-01T10:00:30.000Z")),
      ],
      60,
    );
    const bucket = ms("2026-03-01T10:00:00.000Z") / 1000;
    expect(rows).toEqual([
      {
        session_id: `170_MOB${bucket}`,
        user_id: 170,
        device_id: "mobile",
        timeagg: "2026-03-01T10:00:00.000Z",
        events: 2,
        beginnavigation: "beer_vitrine_nav",
        endnavigation: "beer_products",
        beginsession: "2026-03-01T10:00:01.000Z",
        endsession: "2026-03-01T10:00:15.000Z",
        duration_sec: 14,
        window_id: `170_MOB${bucket}@2026-03-01T10:00:05.000Z`,
        emitted_at: "2026-03-01T10:01:05.000Z",
      },
      {
        session_id: `170_MOB${bucket}`,
        user_id: 170,
        device_id: "mobile",
        timeagg: "2026-03-01T10:00:00.000Z",
        events: 1,
        beginnavigation: "beer_cart",
        endnavigation: "beer_cart",
        beginsession: "2026-03-01T10:00:30.000Z",
        endsession: "2026-03-01T10:00:30.000Z",
        duration_sec: 0,
        window_id: `170_MOB${bucket}@2026-03-01T10:01:30.000Z`,
        emitted_at: "2026-03-01T10:02:30.000Z",
      },
    ]);
  });

  test("a record arriving exactly at the close opens the next window", () => {
    const rows = sessionize(
      [
        at("2026-03-01T10:00:05.000Z", ev(1, "tablet", "a", "2026-03-01T10:00:01.000Z")),
        at("2026-03-01T10:01:04.999Z", ev(1, "tablet", "b", "2026-03-01T10:00:02.000Z")),
        at("2026-03-01T10:01:05.000Z", ev(1, "tablet", "c", "2026-03-01T10:00:03.000Z")),
      ],
      60,
    );
    expect(rows.map((r) => [r.events, r.beginnavigation, r.endnavigation, r.emitted_at])).toEqual([
      [2, "a", "b", "2026-03-01T10:01:05.000Z"],
      [1, "c", "c", "2026-03-01T10:02:05.000Z"],
    ]);
  });

  test("the 30-second basis splits at the bucket boundary", () => {
    const rows = sessionize(
      [
        at("2026-03-01T10:00:31.000Z", ev(42, "computer", "beer_products", "2026-03-01T10:00:29.999Z")),
        at("2026-03-01T10:00:31.500Z", ev(42, "computer", "beer_cart", "2026-03-01T10:00:30.000Z")),
      ],
      30,
    );
    const b0 = ms("2026-03-01T10:00:00.000Z") / 1000;
    expect(rows.map((r) => [r.session_id, r.timeagg, r.events, r.emitted_at])).toEqual([
      [`42_COM${b0}`, "2026-03-01T10:00:00.000Z", 1, "2026-03-01T10:01:01.000Z"],
      [`42_COM${b0 + 30}`, "2026-03-01T10:00:30.000Z", 1, "2026-03-01T10:01:01.500Z"],
    ]);
  });

  test("out-of-order timestamps: first/last by arrival, duration from min/max", () => {
    const [row] = sessionize(
      [
        at("2026-03-01T10:00:41.000Z", ev(5, "mobile", "first_by_arrival", "2026-03-01T10:00:20.000Z")),
        at("2026-03-01T10:00:42.000Z", ev(5, "mobile", "earliest_ts", "2026-03-01T10:00:05.250Z")),
        at("2026-03-01T10:00:43.000Z", ev(5, "mobile", "latest_ts", "2026-03-01T10:00:40.000Z")),
        at("2026-03-01T10:00:44.000Z", ev(5, "mobile", "last_by_arrival", "2026-03-01T10:00:30.000Z")),
      ],
      60,
    );
    expect(row).toMatchObject({
      events: 4,
      beginnavigation: "first_by_arrival",
      endnavigation: "last_by_arrival",
      beginsession: "2026-03-01T10:00:05.250Z",
      endsession: "2026-03-01T10:00:40.000Z",
      duration_sec: 34,
    });
  });

  test("duration is truncated: 59.999 s gives 59", () => {
    const [row] = sessionize(
      [
        at("2026-03-01T10:01:00.000Z", ev(9, "mobile", "a", "2026-03-01T10:00:00.000Z")),
        at("2026-03-01T10:01:01.000Z", ev(9, "mobile", "b", "2026-03-01T10:00:59.999Z")),
      ],
      60,
    );
    expect(row.duration_sec).toBe(59);
    expect(row.endsession).toBe("2026-03-01T10:00:59.999Z");
  });

  test("a bucket across midnight UTC", () => {
    const rows = sessionize(
      [
        at("2026-12-31T23:59:55.000Z", ev(77, "mobile", "a", "2026-12-31T23:59:50.000Z")),
        // Bucket 23:59 of Dec 31, arriving after midnight: joins the window opened at 23:59:55.
        at("2027-01-01T00:00:30.000Z", ev(77, "mobile", "b", "2026-12-31T23:59:59.999Z")),
        at("2027-01-01T00:00:31.000Z", ev(77, "mobile", "c", "2027-01-01T00:00:10.000Z")),
      ],
      60,
    );
    const b = ms("2026-12-31T23:59:00.000Z") / 1000;
    expect(rows.map((r) => [r.session_id, r.timeagg, r.events, r.duration_sec, r.emitted_at])).toEqual([
      [`77_MOB${b}`, "2026-12-31T23:59:00.000Z", 2, 9, "2027-01-01T00:00:55.000Z"],
      [`77_MOB${b + 60}`, "2027-01-01T00:00:00.000Z", 1, 0, "2027-01-01T00:01:31.000Z"],
    ]);
  });

  test("user ids of four and more digits are kept whole; short device names", () => {
    const rows = sessionize(
      [
        at("2026-03-01T10:00:01.000Z", ev(1234, "tv", "a", "2026-03-01T10:00:00.000Z")),
        at("2026-03-01T10:00:01.000Z", ev(9007199254740991, "x", "a", "2026-03-01T10:00:00.000Z")),
        at("2026-03-01T10:00:01.000Z", ev(0, "Tablet", "a", "2026-03-01T10:00:00.000Z")),
      ],
      60,
    );
    const b = ms("2026-03-01T10:00:00.000Z") / 1000;
    expect(rows.map((r) => r.session_id).sort()).toEqual([`0_TAB${b}`, `1234_TV${b}`, `9007199254740991_X${b}`].sort());
  });

  test("W can be any whole number of seconds from 1 to 3600", () => {
    expect(() => new StaggerEngine(0)).toThrow(RangeError);
    expect(() => new StaggerEngine(3601)).toThrow(RangeError);
    expect(() => new StaggerEngine(1.5)).toThrow(RangeError);
    const e = ev(1, "mobile", "a", "2026-03-01T10:17:45.500Z");
    expect(windowKey(e, 1).bucket).toBe(ms("2026-03-01T10:17:45.000Z") / 1000);
    expect(windowKey(e, 3600).bucket).toBe(ms("2026-03-01T10:00:00.000Z") / 1000);
    expect(windowKey(e, 7).bucket % 7).toBe(0);
  });

  test("a frozen current window is closed whatever the arrival", () => {
    const key = windowKey(ev(1, "mobile", "a", 1_000), 60);
    const first = applyToWindow(undefined, key, [{ event: ev(1, "mobile", "a", 1_000), arrivalMs: 2_000 }], 60);
    const next = applyToWindow(first.window, key, [{ event: ev(1, "mobile", "b", 1_500), arrivalMs: 3_000 }], 60, true);
    expect(next.emitted.map((r) => r.events)).toEqual([1]);
    expect(next.window).toMatchObject({ opened_at: 3_000, events: 1, first_event: "b" });
  });
});

describe("timestamps", () => {
  const base = Date.UTC(2018, 10, 2, 19, 36, 39, 427);
  test.each([
    ["2018-11-02 19:36:39.427", base],
    ["2018-11-02T19:36:39.427", base],
    ["2018-11-02T19:36:39.427Z", base],
    ["2018-11-02 19:36:39.427z", base],
    ["2018-11-02T20:36:39.427+01:00", base],
    ["2018-11-02T20:36:39.427+0100", base],
    ["2018-11-02T20:36:39.427+01", base],
    ["2018-11-02T14:06:39.427-05:30", base],
    ["2018-11-02T19:36:39.427999", base],
    ["2018-11-02T19:36:39,427", base],
    ["2018-11-02T19:36:39.4", base - 27],
    ["2018-11-02T19:36:39", base - 427],
    ["2018-11-02T19:36", base - 39_427],
    [base, base],
    [0, 0],
  ])("%p is %p ms", (input, expected) => {
    expect(parseClientTimestamp(input)).toBe(expected);
  });

  test.each([
    "2018-11-02",
    "2018-13-02 10:00:00",
    "2018-02-29 10:00:00",
    "2018-11-02 24:00:00",
    "2018-11-02 10:60:00",
    "2018-11-02 10:00:60",
    "0070-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "1970-01-01T00:30:00+01:00",
    "2018-11-02T10:00:00+19:00",
    "Fri Nov 02 2018",
    "1541187399427",
    -1,
    1.5,
  ])("%p is not a timestamp", (input) => {
    expect(typeof parseClientTimestamp(input)).toBe("string");
  });

  test("every accepted form of SPEC section 3: separators T, space, t; zones Z, z, +hh:mm, +hhmm, +hh, none; fractions of 1-9 digits truncated", () => {
    const at = Date.UTC(2026, 1, 28, 23, 5, 7);
    const zones: [string, number][] = [
      ["Z", 0],
      ["z", 0],
      ["+02:30", -150],
      ["+0230", -150],
      ["+02", -120],
      ["-03:00", 180],
      ["-0300", 180],
      ["-03", 180],
      ["", 0],
    ];
    const fractions: [string, number][] = [
      ["", 0],
      [".1", 100],
      [".12", 120],
      [".123", 123],
      [".1234", 123],
      [".12345", 123],
      [".123456", 123],
      [".1234567", 123],
      [".12345678", 123],
      [".123456789", 123],
      [".999999999", 999],
      [",5", 500],
    ];
    for (const sep of ["T", " ", "t"]) {
      for (const [zone, offsetMinutes] of zones) {
        for (const [fraction, millis] of fractions) {
          const text = `2026-02-28${sep}23:05:07${fraction}${zone}`;
          expect([text, parseClientTimestamp(text)]).toEqual([text, at + millis + offsetMinutes * 60_000]);
        }
        expect(parseClientTimestamp(`2026-02-28${sep}23:05${zone}`)).toBe(at - 7_000 + offsetMinutes * 60_000);
      }
    }
    expect(parseClientTimestamp("2018-11-02t19:36:39.427z")).toBe(base);
  });

  test.each([
    "",
    "2026-02-30T10:00:00Z",
    "2026-02-28T25:00:00Z",
    "2026-02-28T25:00",
    "2026-13-01T10:00:00Z",
    "20260228",
    "1772319907000",
    "0",
    "2026-02-28x10:00:00Z",
    "2026-02-28T10:00:00.Z",
    "2026-02-28T10:00:00.1234567890Z",
    "2026-02-28T10:00:00+2",
    "2026-02-28T10:00:00+02:3",
    "2026-02-28T10:00:00 Z",
    " 2026-02-28T10:00:00Z",
  ])("bad form %p is rejected with a reason", (input) => {
    const r = parseClientTimestamp(input);
    expect(typeof r).toBe("string");
    expect((r as string).length).toBeGreaterThan(0);
  });

  test("leap day exists in leap years", () => {
    expect(parseClientTimestamp("2024-02-29 00:00:00")).toBe(Date.UTC(2024, 1, 29));
  });
});

describe("parsing and rejection reasons", () => {
  const good = { user_id: 170, device_id: "mobile", client_event: "beer_cart", client_timestamp: "2018-11-02 19:36:39.427" };
  const enc = (v: unknown) => new TextEncoder().encode(typeof v === "string" ? v : JSON.stringify(v));

  test("a good record, extra fields ignored", () => {
    expect(parseRecord(enc({ ...good, extra: [1, 2], nested: { a: 1 } }))).toEqual({
      ok: true,
      event: { user_id: 170, device_id: "mobile", client_event: "beer_cart", client_timestamp_ms: Date.UTC(2018, 10, 2, 19, 36, 39, 427) },
    });
  });

  test.each<[string, Uint8Array, string, string | undefined]>([
    ["bad UTF-8", new Uint8Array([0x7b, 0xff, 0xfe, 0x7d]), "invalid_utf8", undefined],
    ["not JSON", enc("{user_id: 1"), "invalid_json", undefined],
    ["an array", enc([good]), "not_an_object", undefined],
    ["null", enc("null"), "not_an_object", undefined],
    ["a number", enc("42"), "not_an_object", undefined],
    ["no user_id", enc({ ...good, user_id: undefined }), "missing_field", "user_id"],
    ["no client_timestamp", enc({ ...good, client_timestamp: undefined }), "missing_field", "client_timestamp"],
    ["user_id as a string", enc({ ...good, user_id: "170" }), "wrong_type", "user_id"],
    ["user_id null", enc({ ...good, user_id: null }), "wrong_type", "user_id"],
    ["user_id fractional", enc({ ...good, user_id: 1.5 }), "wrong_type", "user_id"],
    ["device_id a number", enc({ ...good, device_id: 3 }), "wrong_type", "device_id"],
    ["client_timestamp a boolean", enc({ ...good, client_timestamp: true }), "wrong_type", "client_timestamp"],
    ["negative user_id", enc({ ...good, user_id: -1 }), "out_of_range", "user_id"],
    ["device_id of 11", enc({ ...good, device_id: "smartwatch1" }), "out_of_range", "device_id"],
    ["empty device_id", enc({ ...good, device_id: "" }), "out_of_range", "device_id"],
    ["client_event of 33", enc({ ...good, client_event: "x".repeat(33) }), "out_of_range", "client_event"],
    ["bad timestamp", enc({ ...good, client_timestamp: "yesterday" }), "bad_timestamp", "client_timestamp"],
  ])("%s is rejected as %s", (_name, data, reason, field) => {
    const r = parseRecord(data);
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.rejection.reason).toBe(reason);
    expect(r.rejection.field).toBe(field);
    expect(r.rejection.detail.length).toBeGreaterThan(0);
  });

  test("malformed records interleaved with good ones: none lost, none crashing", () => {
    const lines = [
      { arrival: "2026-03-01T10:00:01Z", event: { ...good, client_timestamp: "2026-03-01T10:00:00Z" } },
      { arrival: "2026-03-01T10:00:02Z", data: "{not json" },
      { arrival: "2026-03-01T10:00:03Z", event: { ...good, client_event: "beer_checkout", client_timestamp: "2026-03-01T10:00:02Z" } },
      { arrival: "2026-03-01T10:00:04Z", event: { ...good, user_id: "x" } },
      { arrival: "2026-03-01T10:00:05Z", data: JSON.stringify([1]) },
      { arrival: "2026-03-01T10:00:06Z", event: { ...good, client_event: "beer_selection", client_timestamp: "2026-03-01T10:00:04Z" } },
      { arrival: "not a time", event: good },
    ].map((l) => JSON.stringify(l));
    lines.splice(3, 0, "this line is not JSON", "");
    const out = replayText(lines.join("\n") + "\n", 60);
    expect(out.rows).toHaveLength(1);
    expect(out.rows[0]).toMatchObject({ events: 3, beginnavigation: "beer_cart", endnavigation: "beer_selection", duration_sec: 4 });
    expect(out.rejected.map((r) => [r.line, r.reason])).toEqual([
      [2, "invalid_json"],
      [4, "invalid_line"],
      [6, "wrong_type"],
      [7, "not_an_object"],
      [9, "invalid_line"],
    ]);
    expect(out.records).toBe(3);
  });
});

describe("replay ordering", () => {
  test("records are taken in arrival order, ties in input order; rows by emitted_at then session_id", () => {
    const line = (arrival: string, user: number, name: string, ts: string) =>
      JSON.stringify({ arrival, event: { user_id: user, device_id: "mobile", client_event: name, client_timestamp: ts } });
    const text = [
      line("2026-03-01T10:00:10Z", 2, "late_in_file", "2026-03-01T10:00:00Z"),
      line("2026-03-01T10:00:05Z", 2, "first", "2026-03-01T10:00:01Z"),
      line("2026-03-01T10:00:10Z", 2, "tie_second", "2026-03-01T10:00:02Z"),
      line("2026-03-01T10:00:05Z", 1, "other_user", "2026-03-01T10:00:01Z"),
    ].join("\n");
    const { rows } = replayText(text, 60);
    expect(rows.map((r) => [r.user_id, r.beginnavigation, r.endnavigation, r.events])).toEqual([
      [1, "other_user", "other_user", 1],
      [2, "first", "tie_second", 3],
    ]);
  });
});

describe("rejected records as written to the rejected stream", () => {
  const base = { shardId: "shardId-000000000003", sequenceNumber: "4960", partitionKey: "pk-1", arrivalMs: Date.UTC(2026, 11, 3, 12) };
  test("UTF-8 payloads as text, others as base64, oversized ones cut", () => {
    const text = rejectedRecord({ ...base, data: new TextEncoder().encode("{oops ü") }, { reason: "invalid_json", detail: "d" });
    expect(text).toEqual({
      reason: "invalid_json",
      detail: "d",
      data: "{oops ü",
      partition_key: "pk-1",
      shard_id: "shardId-000000000003",
      sequence_number: "4960",
      arrival: "2026-12-03T12:00:00.000Z",
    });
    const bin = rejectedRecord({ ...base, data: new Uint8Array([0xff, 0x00, 0xc3]) }, { reason: "invalid_utf8", detail: "d" });
    expect(bin).toMatchObject({ data: "/wDD", data_encoding: "base64" });
    const big = rejectedRecord({ ...base, data: new TextEncoder().encode("x".repeat(600_000)) }, { reason: "invalid_json", field: undefined, detail: "d" });
    expect(big.data.length).toBe(256 * 1024);
    expect(big.data_truncated).toBe(true);
    expect("field" in big).toBe(false);
    // Each one is an instance of the one schema (the Glue table's and the local lake's columns), keys in column order.
    const withField = rejectedRecord({ ...base, data: new TextEncoder().encode("{}") }, { reason: "missing_field", field: "user_id", detail: "d" });
    for (const r of [text, bin, big, withField]) {
      expect(rejectedRecordSchema.parse(r)).toEqual(r);
      expect(Object.keys(r)).toEqual(REJECTED_COLUMNS.filter((c) => c in r));
    }
  });
});
