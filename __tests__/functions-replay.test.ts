import { spawnSync } from "node:child_process";
import { closeSync, mkdirSync, openSync, readFileSync } from "node:fs";
import * as path from "node:path";
import { parseRecord } from "../functions/core/event";
import { LineSplitter, MAX_LINE_BYTES } from "../functions/replay/lines";
import { replayBytes } from "../functions/replay/replay";

const ROOT = path.resolve(__dirname, "..");
const docs = JSON.parse(readFileSync(path.resolve(__dirname, "../../shared/testdata/stagger-docs-example.json"), "utf8")) as {
  records: { arrival: string; event: unknown }[];
  expected: Record<string, unknown>[];
};

function run(args: string[], input: string | Buffer) {
  return spawnSync("npm", ["run", "--silent", "sessionize", "--", ...args], { cwd: ROOT, input, encoding: "utf8", timeout: 30_000 });
}

test("npm run sessionize reproduces the docs example byte-for-byte on the row fields", () => {
  const input = docs.records.map((r) => JSON.stringify(r)).join("\n") + "\n";
  const out = run(["--window", "60"], input);
  expect(out.status).toBe(0);
  const lines = out.stdout.trimEnd().split("\n");
  expect(lines).toHaveLength(2);
  const rows = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
  expect(rows.map((r) => JSON.stringify(Object.fromEntries(Object.keys(docs.expected[0]).map((k) => [k, r[k]]))))).toEqual(
    docs.expected.map((e) => JSON.stringify(e)),
  );
  expect(rows.every((r) => typeof r.window_id === "string")).toBe(true);
});

test("rejected records go to stderr with the reason, exit 0; the window defaults to the shared config; unreadable input exits 2", () => {
  const input = [
    JSON.stringify({ arrival: "2026-12-03T11:00:20.000Z", data: "{bad json" }),
    JSON.stringify(docs.records[0]),
    "not a line at all",
  ].join("\n");
  const out = run([], input);
  expect(out.status).toBe(0);
  expect(out.stdout.trimEnd().split("\n").map((l) => JSON.parse(l).events)).toEqual([1]);
  expect(out.stderr.trimEnd().split("\n").map((l) => [JSON.parse(l).line, JSON.parse(l).reason])).toEqual([
    [1, "invalid_json"],
    [3, "invalid_line"],
  ]);

  const missing = run(["--input", path.join(ROOT, ".tmp", "no-such-file.ndjson")], "");
  expect(missing.status).toBe(2);
  expect(missing.stderr).toContain("cannot read the input");

  const badWindow = run(["--window", "0"], "");
  expect(badWindow.status).toBe(1);
  expect(badWindow.stderr).toContain("--window");
});

test("a directory as stdin, or an unreadable --input, is a one-line message on stderr and exit 2", () => {
  const dir = path.join(ROOT, ".tmp");
  mkdirSync(dir, { recursive: true });
  const fd = openSync(dir, "r");
  try {
    const out = spawnSync("npm", ["run", "--silent", "sessionize", "--", "--window", "60"], {
      cwd: ROOT,
      stdio: [fd, "pipe", "pipe"],
      encoding: "utf8",
      timeout: 30_000,
    });
    expect(out.status).toBe(2);
    expect(out.stdout).toBe("");
    expect(out.stderr).toMatch(/^sessionize: cannot read the input: EISDIR[^\n]*\n$/);
  } finally {
    closeSync(fd);
  }
  for (const input of [dir, path.join(dir, "no-such-file.ndjson")]) {
    const out = run(["--window", "60", "--input", input], "");
    expect(out.status).toBe(2);
    expect(out.stdout).toBe("");
    expect(out.stderr).toMatch(/^sessionize: cannot read the input: (EISDIR|ENOENT)[^\n]*\n$/);
  }
});

describe("input bytes that are not UTF-8", () => {
  const arrival = "2026-12-03T11:00:20.000Z";
  const good = { user_id: 7, device_id: "mobile", client_event: "beer_cart", client_timestamp: "2026-12-03T11:00:10.000Z" };
  const bytes = (...parts: (string | number[] | Uint8Array)[]) => Buffer.concat(parts.map((p) => (typeof p === "string" ? Buffer.from(p, "utf8") : Buffer.from(p))));
  const goodLine = (name: string) => JSON.stringify({ arrival, event: { ...good, client_event: name } }) + "\n";
  // A `data` payload whose bytes are not UTF-8: `mob` FF FE inside the JSON string of the line.
  const payload = bytes('{"user_id":7,"device_id":"mob', [0xff, 0xfe], '","client_event":"beer_cart","client_timestamp":"2026-12-03T11:00:10.000Z"}');
  const dataLine = bytes(`{"arrival":"${arrival}","data":"`, payload.toString("latin1").replace(/"/g, '\\"').split("").map((c) => c.charCodeAt(0)), '"}\n');

  test("a `data` payload that is not UTF-8 is rejected as invalid_utf8 exactly as parseRecord on the payload bytes", () => {
    const sessionizer = parseRecord(payload);
    expect(sessionizer.ok).toBe(false);
    if (sessionizer.ok) return;
    const out = replayBytes(bytes(goodLine("a"), dataLine, goodLine("b")), 60);
    expect(out.rejected).toEqual([{ line: 2, ...sessionizer.rejection, arrival }]);
    expect(out.rows.map((r) => [r.events, r.device_id])).toEqual([[2, "mobile"]]);
  });

  test("a line with invalid UTF-8 outside a `data` payload is rejected as a line, never read with U+FFFD", () => {
    const eventLine = bytes(`{"arrival":"${arrival}","event":{"user_id":7,"device_id":"mob`, [0xff, 0xfe], '","client_event":"x","client_timestamp":1}}\r\n');
    const garbage = bytes("not json ", [0xc3, 0x28], "\n");
    const truncated = bytes(`{"arrival":"${arrival}","data":"{}","note":"`, [0xe2, 0x82], '"}\n');
    const out = replayBytes(bytes(eventLine, garbage, goodLine("a"), truncated), 60);
    expect(out.rejected.map((r) => [r.line, r.reason])).toEqual([
      [1, "invalid_utf8"],
      [2, "invalid_utf8"],
      [4, "invalid_utf8"],
    ]);
    expect(out.rejected[0].detail).toMatch(/not valid UTF-8: 2 invalid byte\(s\), the first at byte offset (\d+)/);
    expect(out.rejected[0].detail).toContain(`offset ${eventLine.indexOf(0xff)}`);
    expect(out.rows.map((r) => r.device_id)).toEqual(["mobile"]);
    expect(JSON.stringify(out)).not.toContain("\uFFFD");
  });

  test("valid multi-byte UTF-8 is kept, even split across chunks; a lone-surrogate escape in `data` is invalid_utf8", () => {
    const input = bytes(
      JSON.stringify({ arrival, event: { ...good, device_id: "müü📱" } }) + "\n",
      JSON.stringify({ arrival, data: JSON.stringify({ ...good, client_event: "ünïcödé" }) }) + "\n",
      `{"arrival":"${arrival}","data":"{\\"user_id\\":7,\\"device_id\\":\\"\\ud800\\",\\"client_event\\":\\"x\\",\\"client_timestamp\\":1}"}`,
    );
    const whole = replayBytes(input, 60);
    expect(whole.rows.map((r) => [r.device_id, r.beginnavigation]).sort()).toEqual([
      ["mobile", "ünïcödé"],
      ["müü📱", "beer_cart"],
    ]);
    expect(whole.rejected.map((r) => [r.line, r.reason])).toEqual([[3, "invalid_utf8"]]);
    const lines: string[] = [];
    const splitter = new LineSplitter(
      (line) => lines.push(line.toString("utf8")),
      () => lines.push("too long"),
    );
    for (const byte of input) splitter.push(Buffer.from([byte]));
    splitter.end();
    expect(lines).toEqual(input.toString("utf8").split("\n"));
  });

  test("through the command: a data payload that is not UTF-8 is an invalid_utf8 line on stderr, the rest is replayed", () => {
    const out = run(["--window", "60"], bytes(goodLine("a"), dataLine));
    expect(out.status).toBe(0);
    expect(out.stdout.trimEnd().split("\n").map((l) => JSON.parse(l).device_id)).toEqual(["mobile"]);
    expect(out.stderr.trimEnd().split("\n").map((l) => JSON.parse(l))).toMatchObject([{ line: 2, reason: "invalid_utf8", arrival }]);
  });
});

describe("a bound on a line", () => {
  const arrival = "2026-12-03T11:00:20.000Z";
  const goodLine = (name: string) =>
    JSON.stringify({ arrival, event: { user_id: 7, device_id: "mobile", client_event: name, client_timestamp: "2026-12-03T11:00:10.000Z" } });

  test("a line longer than the bound is counted and dropped as it streams, never held whole; the next lines are read", () => {
    const got: (string | number)[] = [];
    const splitter = new LineSplitter(
      (line) => got.push(line.toString("utf8")),
      (n) => got.push(n),
      10,
    );
    const input = Buffer.from("0123456789\n" + "x".repeat(1000) + "\nok\r\n012345678\r\n" + "y".repeat(11) + "\nlast" + "z".repeat(20));
    let maxBuffered = 0;
    for (let i = 0; i < input.length; i += 3) {
      splitter.push(input.subarray(i, i + 3));
      maxBuffered = Math.max(maxBuffered, splitter.bufferedBytes);
    }
    splitter.end();
    // A line of exactly the bound is a line (its \r counts, and is then dropped).
    expect(got).toEqual(["0123456789", 1000, "ok", "012345678", 11, 24]);
    expect(maxBuffered).toBeLessThanOrEqual(10);
  });

  test("through the command: a line over MAX_LINE_BYTES is one line_too_long JSON line on stderr with its line number; the rest is replayed", () => {
    expect(MAX_LINE_BYTES).toBe(2 * 1024 * 1024);
    const huge = JSON.stringify({ arrival, data: "x".repeat(MAX_LINE_BYTES + 100) });
    const out = run(["--window", "60"], [goodLine("a"), huge, goodLine("b")].join("\n") + "\n");
    expect(out.status).toBe(0);
    expect(out.stdout.trimEnd().split("\n").map((l) => JSON.parse(l).events)).toEqual([2]);
    const stderr = out.stderr.trimEnd().split("\n");
    expect(stderr).toHaveLength(1);
    expect(JSON.parse(stderr[0])).toEqual({
      line: 2,
      reason: "line_too_long",
      detail: `the line has ${Buffer.byteLength(huge)} bytes, more than the ${MAX_LINE_BYTES} a line may have; skipped`,
    });
  });
});
