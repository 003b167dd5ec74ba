import { mkdirSync, mkdtempSync, readFileSync, utimesSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { crc32 } from "node:zlib";
import * as yauzl from "yauzl";
import { z } from "zod";
import { windowTableDefinition } from "../functions/adapters/window-table";
import { prestoViewText, readSql } from "../modules/athena-view";
import { buildFunctionCode, clearFunctionCodeCache } from "../modules/function-code";
import { glueColumnsFromSchema, prestoType } from "../modules/glue-columns";
import { dynamodbTableArgs } from "../modules/window-table";
import { ZIP_FILE_MODE, zipDirectory } from "../modules/zip";
import { SCRATCH, useProjectTmp } from "../stacks/testing";

useProjectTmp();

interface ZipEntry {
  readonly name: string;
  readonly text: string;
  readonly mode: number;
  /** The raw DOS date/time fields (no time zone involved). */
  readonly dosDate: number;
  readonly dosTime: number;
  readonly compressionMethod: number;
  readonly crcMatches: boolean;
  readonly extraFieldIds: number[];
}

/** Reads a zip back with yauzl (central directory, then each entry's data), in stored order. */
function unzip(file: string): Promise<ZipEntry[]> {
  return new Promise((resolve, reject) => {
    yauzl.open(file, { lazyEntries: true, strictFileNames: true, validateEntrySizes: true }, (err, zip) => {
      if (err || !zip) return reject(err);
      const entries: ZipEntry[] = [];
      zip.on("error", reject);
      zip.on("end", () => resolve(entries));
      zip.on("entry", (entry: yauzl.Entry) => {
        zip.openReadStream(entry, (streamErr, stream) => {
          if (streamErr || !stream) return reject(streamErr);
          const chunks: Buffer[] = [];
          stream.on("data", (c: Buffer) => chunks.push(c));
          stream.on("error", reject);
          stream.on("end", () => {
            const data = Buffer.concat(chunks);
            entries.push({
              name: entry.fileName,
              text: data.toString("utf8"),
              mode: entry.externalFileAttributes >>> 16,
              dosDate: entry.lastModFileDate,
              dosTime: entry.lastModFileTime,
              compressionMethod: entry.compressionMethod,
              crcMatches: (crc32(data) >>> 0) === entry.crc32,
              extraFieldIds: entry.extraFields.map((f) => f.id),
            });
            zip.readEntry();
          });
        });
      });
      zip.readEntry();
    });
  });
}

const DOS_1980_01_01 = (0 << 9) | (1 << 5) | 1;

describe("deterministic zip (yazl)", () => {
  const saveTz = process.env.TZ;
  afterEach(() => {
    if (saveTz === undefined) delete process.env.TZ;
    else process.env.TZ = saveTz;
  });

  test("same files, same bytes (new mtimes, another time zone); entries sorted; content round-trips", async () => {
    const dir = mkdtempSync(path.join(SCRATCH, "zip-"));
    mkdirSync(path.join(dir, "lib"));
    writeFileSync(path.join(dir, "index.js"), "exports.handler = async () => 1;\n");
    writeFileSync(path.join(dir, "lib", "b.js"), "module.exports = 2;\n");
    writeFileSync(path.join(dir, "a.txt"), "first");
    const zipOf = (n: number) => zipDirectory(dir, path.join(dir, "..", `${path.basename(dir)}-${n}.zip`));
    process.env.TZ = "UTC";
    const one = await zipOf(1);
    // New mtimes and another time zone (yazl's DOS timestamps use local time): same bytes.
    writeFileSync(path.join(dir, "index.js"), "exports.handler = async () => 1;\n");
    utimesSync(path.join(dir, "a.txt"), new Date("2030-05-05T05:05:05Z"), new Date("2030-05-05T05:05:05Z"));
    process.env.TZ = "Pacific/Kiritimati"; // UTC+14
    const two = await zipOf(2);
    process.env.TZ = "America/Los_Angeles";
    const three = await zipOf(3);
    expect(readFileSync(two.file).equals(readFileSync(one.file))).toBe(true);
    expect(three.sha256).toBe(one.sha256);
    expect(one.bytes).toBe(readFileSync(one.file).length);
    expect(Buffer.from(one.sha256Base64, "base64").toString("hex")).toBe(one.sha256);

    const entries = await unzip(one.file);
    expect(entries.map((e) => [e.name, e.text])).toEqual([
      ["a.txt", "first"],
      ["index.js", "exports.handler = async () => 1;\n"],
      ["lib/b.js", "module.exports = 2;\n"],
    ]);
    for (const e of entries) {
      expect(e).toMatchObject({ mode: ZIP_FILE_MODE, dosDate: DOS_1980_01_01, dosTime: 0, compressionMethod: 8, crcMatches: true, extraFieldIds: [] });
    }
  });

  test("a content change changes the bytes", async () => {
    const dir = mkdtempSync(path.join(SCRATCH, "zip-"));
    writeFileSync(path.join(dir, "index.js"), "exports.n = 1;\n");
    const a = await zipDirectory(dir, `${dir}-a.zip`);
    writeFileSync(path.join(dir, "index.js"), "exports.n = 2;\n");
    const b = await zipDirectory(dir, `${dir}-b.zip`);
    expect(b.sha256).not.toBe(a.sha256);
  });
});

describe("Lambda code: esbuild bundle → zip whose hash changes only with the code", () => {
  test("rebuilding unchanged sources gives the same hash; a code change gives another", async () => {
    const dir = mkdtempSync(path.join(SCRATCH, "fn-"));
    const entry = path.join(dir, "handler.ts");
    const helper = path.join(dir, "helper.ts");
    writeFileSync(helper, "export const answer = (): number => 41;\n");
    writeFileSync(entry, 'import { answer } from "./helper";\nexport const handler = async () => ({ n: answer() });\n');
    const a = await buildFunctionCode("fn", entry, path.join(dir, "build-a"));
    clearFunctionCodeCache();
    writeFileSync(helper, "export const answer = (): number => 41;\n"); // rewritten, same content
    const b = await buildFunctionCode("fn", entry, path.join(dir, "build-b"));
    expect(b.sha256).toBe(a.sha256);
    expect(b.sha256Base64).toBe(a.sha256Base64); // the Lambda source_code_hash
    expect(b.bundleSha256).toBe(a.bundleSha256);
    clearFunctionCodeCache();
    writeFileSync(helper, "export const answer = (): number => 42;\n");
    const c = await buildFunctionCode("fn", entry, path.join(dir, "build-c"));
    expect(c.sha256).not.toBe(a.sha256);
    expect(c.sha256Base64).not.toBe(a.sha256Base64);
    const files = await unzip(c.file);
    expect(files.map((f) => f.name)).toEqual(["index.js"]);
    // The bundle runs: CommonJS exporting `handler`.
    const mod = { exports: {} as { handler?: () => Promise<{ n: number }> } };
    new Function("module", "exports", "require", files[0].text)(mod, mod.exports, require);
    await expect(mod.exports.handler!()).resolves.toEqual({ n: 42 });
  });

  test("a missing entry point is named", async () => {
    await expect(buildFunctionCode("nope", "functions/nope/handler.ts")).rejects.toThrow(/functions\/nope\/handler\.ts/);
  });
});

describe("Glue columns from zod schemas", () => {
  test("integer → bigint, string → string, string|number → string, number → double, boolean → boolean", () => {
    const schema = z.object({ a: z.number().int(), b: z.string(), c: z.union([z.string(), z.number()]), d: z.number(), e: z.boolean() });
    expect(glueColumnsFromSchema(schema)).toEqual([
      { name: "a", type: "bigint" },
      { name: "b", type: "string" },
      { name: "c", type: "string" },
      { name: "d", type: "double" },
      { name: "e", type: "boolean" },
    ]);
    expect(prestoType("string")).toBe("varchar");
  });
  test("an unmappable type fails loudly", () => {
    expect(() => glueColumnsFromSchema(z.object({ tags: z.array(z.string()) }))).toThrow(/column tags/);
  });
});

describe("the window table mapping", () => {
  test("maps the functions' CreateTable definition", () => {
    expect(dynamodbTableArgs(windowTableDefinition("t-windows"))).toEqual({
      name: "t-windows",
      billingMode: "PAY_PER_REQUEST",
      hashKey: "pk",
      rangeKey: undefined,
      attribute: [
        { name: "pk", type: "S" },
        { name: "sweep_partition", type: "S" },
        { name: "closes_at", type: "N" },
      ],
      globalSecondaryIndex: [{ name: "by-due-time", hashKey: "sweep_partition", rangeKey: "closes_at", projectionType: "ALL", nonKeyAttributes: undefined }],
    });
  });
  test("refuses what it does not map", () => {
    const def = windowTableDefinition("t-windows");
    expect(() => dynamodbTableArgs({ ...def, BillingMode: "PROVISIONED" })).toThrow(/billing mode/);
    expect(() => dynamodbTableArgs({ ...def, LocalSecondaryIndexes: [{ IndexName: "x", KeySchema: [], Projection: {} }] })).toThrow(/local secondary/);
  });
});

describe("Athena views from sql/", () => {
  test("readSql drops comment lines and a trailing semicolon", () => {
    const dir = mkdtempSync(path.join(SCRATCH, "sql-"));
    writeFileSync(path.join(dir, "q.sql"), "-- a comment\nSELECT 1\nFROM t;\n");
    expect(readSql("q", dir)).toBe("SELECT 1\nFROM t");
    expect(readSql("clicks_today")).toMatch(/^SELECT \*\nFROM aggregated\nWHERE /);
  });
  test("the Presto view encoding round-trips", () => {
    const text = prestoViewText("SELECT 1 AS x", "db", [{ name: "x", type: "bigint" }]);
    const json = JSON.parse(Buffer.from(/^\/\* Presto View: (.+) \*\/$/.exec(text)![1], "base64").toString("utf8"));
    expect(json).toEqual({ originalSql: "SELECT 1 AS x", catalog: "awsdatacatalog", schema: "db", columns: [{ name: "x", type: "bigint" }] });
  });
});
