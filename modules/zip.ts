import { createHash } from "node:crypto";
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { ZipFile } from "yazl";

/**
 * A deterministic zip of a directory, written with yazl: entries sorted by path, each with the
 * same timestamp (1980-01-01 00:00), permissions (-rw-r--r--) and deflate level 9. The same
 * files give the same bytes, so Lambda's `source_code_hash` only changes when the code does
 * (cdktf's own ARCHIVE assets embed file mtimes, so every synth would look like a code change).
 *
 * Asynchronous: yazl is stream-based. Synthesis itself stays synchronous; the packages are
 * built before it (`buildFunctionPackages()` in modules/function-code.ts, awaited by main.ts).
 */
export interface ZipResult {
  readonly file: string;
  readonly bytes: number;
  /** Hex SHA-256 of the zip. */
  readonly sha256: string;
  /** Base64 SHA-256 of the zip: what `aws_lambda_function.source_code_hash` expects. */
  readonly sha256Base64: string;
}

/**
 * The entries' timestamp. yazl encodes the DOS date/time from the *local* calendar fields
 * (getFullYear, getHours…), so the Date is built from local fields: 1980-01-01 00:00 in every
 * time zone. `forceDosTimestamp` leaves out the Info-ZIP "UT" field, which stores UTC epoch
 * seconds and would then differ between time zones.
 */
const ZIP_MTIME = () => new Date(1980, 0, 1, 0, 0, 0);
/** Regular file, -rw-r--r--. */
export const ZIP_FILE_MODE = 0o100644;
export const ZIP_COMPRESSION_LEVEL = 9;

function listFiles(dir: string, base = ""): string[] {
  const out: string[] = [];
  for (const name of readdirSync(path.join(dir, base))) {
    const rel = base ? `${base}/${name}` : name;
    const st = statSync(path.join(dir, rel));
    if (st.isDirectory()) out.push(...listFiles(dir, rel));
    else if (st.isFile()) out.push(rel);
  }
  return out;
}

/** The zip's bytes: the files of `sourceDir` (relative paths, `/`-separated), sorted by path. */
export function zipBuffer(sourceDir: string): Promise<Buffer> {
  const zip = new ZipFile();
  const chunks: Buffer[] = [];
  const done = new Promise<Buffer>((resolve, reject) => {
    zip.outputStream.on("data", (chunk: Buffer) => chunks.push(chunk));
    zip.outputStream.on("error", reject);
    zip.outputStream.on("end", () => resolve(Buffer.concat(chunks)));
  });
  const mtime = ZIP_MTIME();
  for (const rel of listFiles(sourceDir).sort()) {
    zip.addBuffer(readFileSync(path.join(sourceDir, rel)), rel, {
      mtime,
      mode: ZIP_FILE_MODE,
      compress: true,
      compressionLevel: ZIP_COMPRESSION_LEVEL,
      forceDosTimestamp: true,
    });
  }
  zip.end();
  return done;
}

export async function zipDirectory(sourceDir: string, target: string): Promise<ZipResult> {
  const zipFile = path.resolve(target);
  const zip = await zipBuffer(sourceDir);
  mkdirSync(path.dirname(zipFile), { recursive: true });
  writeFileSync(zipFile, zip);
  const digest = createHash("sha256").update(zip).digest();
  return { file: zipFile, bytes: zip.length, sha256: digest.toString("hex"), sha256Base64: digest.toString("base64") };
}
