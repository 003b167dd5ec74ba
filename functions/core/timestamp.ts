/**
 * client_timestamp forms (SPEC section 3): ISO-8601 with `T` (or RFC 3339's lowercase `t`) or a
 * space between date and time, with or without a zone (`Z`, `z`, `+hh:mm`, `+hhmm`, `+hh`; no
 * zone = UTC), seconds optional, a fraction of 1-9 digits (`.` or `,`) truncated to milliseconds;
 * or epoch milliseconds as a JSON number.
 * `Date.parse` is not used: it reads a zone-less "2018-11-02 19:36:39.427" as local time.
 */

const ISO_PATTERN =
  /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d{1,9}))?)?(Z|z|[+-]\d{2}(?::?\d{2})?)?$/;

/** Latest instant a JS Date can hold, in ms. */
const MAX_EPOCH_MS = 8.64e15;

function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** Returns epoch milliseconds, or a sentence saying why the value is not a timestamp. */
export function parseClientTimestamp(value: unknown): number | string {
  if (typeof value === "number") {
    if (!Number.isInteger(value)) return `epoch milliseconds must be a whole number, got ${value}`;
    if (value < 0 || value > MAX_EPOCH_MS) return `epoch milliseconds out of range: ${value}`;
    return value;
  }
  if (typeof value !== "string") return `expected an ISO-8601 string or epoch milliseconds, got ${typeof value}`;
  const m = ISO_PATTERN.exec(value);
  if (!m) return `not an ISO-8601 timestamp: ${JSON.stringify(value.slice(0, 40))}`;
  const [year, month, day, hour, minute] = [m[1], m[2], m[3], m[4], m[5]].map(Number);
  const second = m[6] === undefined ? 0 : Number(m[6]);
  const millis = m[7] === undefined ? 0 : Number(m[7].padEnd(3, "0").slice(0, 3));
  // Date.UTC maps years 0-99 to 1900-1999, so check the year before building the instant.
  if (year < 1970) return `before 1970: ${JSON.stringify(value)}`;
  if (month < 1 || month > 12 || day < 1 || day > daysInMonth(year, month) || hour > 23 || minute > 59 || second > 59) {
    return `no such date or time: ${JSON.stringify(value)}`;
  }
  let offsetMinutes = 0;
  const zone = m[8];
  if (zone && zone !== "Z" && zone !== "z") {
    const sign = zone[0] === "-" ? -1 : 1;
    const digits = zone.slice(1).replace(":", "");
    const zh = Number(digits.slice(0, 2));
    const zm = digits.length > 2 ? Number(digits.slice(2, 4)) : 0;
    if (zh > 18 || zm > 59) return `zone offset out of range: ${JSON.stringify(zone)}`;
    offsetMinutes = sign * (zh * 60 + zm);
  }
  const ms = Date.UTC(year, month - 1, day, hour, minute, second, millis) - offsetMinutes * 60_000;
  if (ms < 0) return `before 1970: ${JSON.stringify(value)}`;
  return ms;
}

export function toIso(ms: number): string {
  return new Date(ms).toISOString();
}
