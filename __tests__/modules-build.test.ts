import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { inflateRawSync } from "node:zlib";
import { z } from "zod";
import { windowTableDefinition } from "../functions/adapters/window-table";
import { prestoViewText, readSql } from "../modules/athena-view";
import { buildFunctionCode, clearFunctionCodeCache } from "../modules/function-code";
import { glueColumnsFromSchema, prestoType } from "../modules/glue-columns";
import { dynamodbTableArgs } from "../modules/window-table";
import { zipDirectory } from "../modules/zip";
import { SCRATCH, useProjectTmp } from "../stacks/testing";

useProjectTmp();

/** Reads a zip's entries back with zlib (local headers), to check what zipDirectory wrote. */
function unzip(file: string): Record<string, string> {
  const buf = readFileSync(file);
  const out: Record<string, string> = {};
  let at = 0;
  while (buf.readUInt32LE(at) === 0x04034b50) {
    const size = buf.readUInt32LE(at + 18);
    const nameLen = buf.readUInt16LE(at + 26);
    const extraLen = buf.readUInt16LE(at + 28);
    const name = buf.subarray(at + 30, at + 30 + nameLen).toString("utf8");
    const start = at + 30 + nameLen + extraLen;
    out[name] = inflateRawSync(buf.subarray(start, start + size)).toString("utf8");
    at = start + size;
  }
  return out;
}

describe("deterministic zip", () => {
  test("same files, same bytes; entries sorted; content round-trips", () => {
    const dir = mkdtempSync(path.join(SCRATCH, "zip-"));
    writeFileSync(path.join(dir, "index.js"), "exports.handler = async () => 1;\n");
    writeFileSync(path.join(dir, "a.txt"), "first");
    const one = zipDirectory(dir, path.join(dir, "..", `${path.basename(dir)}-1.zip`));
    // Touch the files (new mtimes): the zip must not change.
    writeFileSync(path.join(dir, "index.js"), "exports.handler = async () => 1;\n");
    const two = zipDirectory(dir, path.join(dir, "..", `${path.basename(dir)}-2.zip`));
    expect(two.sha256).toBe(one.sha256);
    expect(Buffer.from(one.sha256Base64, "base64").toString("hex")).toBe(one.sha256);
    expect(unzip(one.file)).toEqual({ "a.txt": "first", "index.js": "exports.handler = async () => 1;\n" });
    expect(Object.keys(unzip(one.file))).toEqual(["a.txt", "index.js"]);
  });
});

describe("Lambda code: esbuild bundle → zip whose hash changes only with the code", () => {
  test("rebuilding unchanged sources gives the same hash; a code change gives another", () => {
    const dir = mkdtempSync(path.join(SCRATCH, "fn-"));
    const entry = path.join(dir, "handler.ts");
    const helper = path.join(dir, "helper.ts");
    writeFileSync(helper, "export const answer = (): number => 41;\n");
    writeFileSync(entry, 'import { answer } from "./helper";\nexport const handler = async () => ({ n: answer() });\n');
    const a = buildFunctionCode("fn", entry, path.join(dir, "build-a"));
    clearFunctionCodeCache();
    writeFileSync(helper, "export const answer = (): number => 41;\n"); // rewritten, same content
    const b = buildFunctionCode("fn", entry, path.join(dir, "build-b"));
    expect(b.sha256).toBe(a.sha256);
    expect(b.bundleSha256).toBe(a.bundleSha256);
    clearFunctionCodeCache();
    writeFileSync(helper, "export const answer = (): number => 42;\n");
    const c = buildFunctionCode("fn", entry, path.join(dir, "build-c"));
    expect(c.sha256).not.toBe(a.sha256);
    const files = unzip(c.file);
    expect(Object.keys(files)).toEqual(["index.js"]);
    // The bundle runs: CommonJS exporting `handler`.
    const mod = { exports: {} as { handler?: () => Promise<{ n: number }> } };
    new Function("module", "exports", "require", files["index.js"])(mod, mod.exports, require);
    return expect(mod.exports.handler!()).resolves.toEqual({ n: 42 });
  });

  test("a missing entry point is named", () => {
    expect(() => buildFunctionCode("nope", "functions/nope/handler.ts")).toThrow(/functions\/nope\/handler\.ts/);
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
