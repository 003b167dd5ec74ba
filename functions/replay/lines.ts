/**
 * Byte-level input for the replay command: NDJSON split on `\n` (a trailing `\r` is dropped)
 * without decoding, so each line can be checked as UTF-8 on its own; and the UTF-8 helpers that
 * let a line with invalid bytes still be read as JSON, to find which record it was.
 */

/**
 * The longest input line taken, in bytes (without its `\n`): 2 MiB, twice Kinesis' 1 MiB
 * record limit plus room for the wrapper and JSON escaping. A longer line is not buffered: its
 * bytes are counted and dropped up to its `\n`, and it is reported as `line_too_long`.
 */
export const MAX_LINE_BYTES = 2 * 1024 * 1024;

/**
 * Splits a byte stream into lines on `\n`; the bytes of a line are passed without the `\n` and a
 * trailing `\r`. A line longer than `maxLineBytes` is passed to `onTooLong` with its length
 * instead, and never held whole: at most `maxLineBytes` bytes are buffered.
 */
export class LineSplitter {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  /** Bytes of the current line when it is already too long, else -1. */
  private overflowBytes = -1;

  constructor(
    private readonly onLine: (bytes: Buffer) => void,
    private readonly onTooLong: (bytes: number) => void,
    private readonly maxLineBytes = MAX_LINE_BYTES,
  ) {}

  /** Bytes held for the unfinished line. */
  get bufferedBytes(): number {
    return this.pendingBytes;
  }

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(0x0a, start);
      const segment = chunk.subarray(start, nl < 0 ? chunk.length : nl);
      if (this.overflowBytes < 0 && this.pendingBytes + segment.length > this.maxLineBytes) {
        this.overflowBytes = this.pendingBytes;
        this.pending = [];
        this.pendingBytes = 0;
      }
      if (this.overflowBytes >= 0) {
        this.overflowBytes += segment.length;
        if (nl >= 0) {
          const n = this.overflowBytes;
          this.overflowBytes = -1;
          this.onTooLong(n);
        }
      } else if (nl >= 0) this.emit(segment);
      else if (segment.length > 0) {
        this.pending.push(segment);
        this.pendingBytes += segment.length;
      }
      if (nl < 0) return;
      start = nl + 1;
    }
  }

  /** The end of the input: a last line without `\n` is still a line. */
  end(): void {
    if (this.overflowBytes >= 0) {
      const n = this.overflowBytes;
      this.overflowBytes = -1;
      this.onTooLong(n);
    } else if (this.pending.length > 0) this.emit(Buffer.alloc(0));
  }

  private emit(tail: Buffer): void {
    let line = tail;
    if (this.pending.length > 0) {
      line = Buffer.concat([...this.pending, tail]);
      this.pending = [];
      this.pendingBytes = 0;
    }
    if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
    this.onLine(line);
  }
}

/** Length of the well-formed UTF-8 sequence starting at `i`, or 0 when the byte there starts none. */
function sequenceLength(b: Uint8Array, i: number): number {
  const c = b[i];
  if (c < 0x80) return 1;
  const cont = (j: number, lo = 0x80, hi = 0xbf) => j < b.length && b[j] >= lo && b[j] <= hi;
  if (c >= 0xc2 && c <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    const lo = c === 0xe0 ? 0xa0 : 0x80;
    const hi = c === 0xed ? 0x9f : 0xbf;
    return cont(i + 1, lo, hi) && cont(i + 2) ? 3 : 0;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    const lo = c === 0xf0 ? 0x90 : 0x80;
    const hi = c === 0xf4 ? 0x8f : 0xbf;
    return cont(i + 1, lo, hi) && cont(i + 2) && cont(i + 3) ? 4 : 0;
  }
  return 0;
}

const utf8 = new TextDecoder("utf-8", { fatal: true });

/**
 * Decodes UTF-8 keeping every byte that is not part of a well-formed sequence as the lone low
 * surrogate U+DC80 + (byte - 0x80) (Python's "surrogateescape"), so nothing is replaced and
 * `encodeEscaped` gives the bytes back.
 */
export function decodeEscaped(bytes: Uint8Array): { text: string; invalidBytes: number; firstInvalidOffset: number } {
  let text = "";
  let invalidBytes = 0;
  let firstInvalidOffset = -1;
  let runStart = 0;
  let i = 0;
  while (i < bytes.length) {
    const n = sequenceLength(bytes, i);
    if (n > 0) {
      i += n;
      continue;
    }
    text += utf8.decode(bytes.subarray(runStart, i)) + String.fromCharCode(0xdc00 + bytes[i]);
    if (firstInvalidOffset < 0) firstInvalidOffset = i;
    invalidBytes++;
    i++;
    runStart = i;
  }
  text += utf8.decode(bytes.subarray(runStart));
  return { text, invalidBytes, firstInvalidOffset };
}

/**
 * The UTF-8 bytes of a string, without replacing anything: with `escaped`, lone U+DC80-U+DCFF are
 * the raw bytes `decodeEscaped` kept; other lone surrogates (a JSON `\ud800` escape) get their
 * generalized UTF-8 form (ED A0 80), which is not valid UTF-8 either, as no UTF-8 can encode them.
 */
export function encodeEscaped(text: string, escaped: boolean): Uint8Array {
  const out: number[] = [];
  for (let i = 0; i < text.length; i++) {
    let cp = text.charCodeAt(i);
    if (cp >= 0xd800 && cp <= 0xdbff && i + 1 < text.length) {
      const lo = text.charCodeAt(i + 1);
      if (lo >= 0xdc00 && lo <= 0xdfff && !(escaped && lo >= 0xdc80 && lo <= 0xdcff)) {
        cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
        i++;
      }
    } else if (escaped && cp >= 0xdc80 && cp <= 0xdcff) {
      out.push(cp - 0xdc00);
      continue;
    }
    if (cp < 0x80) out.push(cp);
    else if (cp < 0x800) out.push(0xc0 | (cp >> 6), 0x80 | (cp & 0x3f));
    else if (cp < 0x10000) out.push(0xe0 | (cp >> 12), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
    else out.push(0xf0 | (cp >> 18), 0x80 | ((cp >> 12) & 0x3f), 0x80 | ((cp >> 6) & 0x3f), 0x80 | (cp & 0x3f));
  }
  return Uint8Array.from(out);
}

/** Whether a string has a lone surrogate, i.e. no UTF-8 encoding. */
export const hasLoneSurrogate = (text: string): boolean => /\p{Cs}/u.test(text);
