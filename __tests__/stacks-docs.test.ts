import { readFileSync } from "node:fs";
import { DESCRIPTIONS, DOC_FILE, parameters, withTable } from "../scripts/infra-docs";

test("docs/infra.md has the current parameter table (npx tsx scripts/infra-docs.ts rewrites it)", () => {
  const doc = readFileSync(DOC_FILE, "utf8");
  expect(withTable(doc)).toBe(doc);
});

test("every config key is documented, and no description is stale", () => {
  const keys = parameters().map((p) => p.key);
  expect(keys.filter((k) => !DESCRIPTIONS[k])).toEqual([]);
  expect(Object.keys(DESCRIPTIONS).filter((k) => !keys.includes(k))).toEqual([]);
  expect(keys).toEqual(expect.arrayContaining(["stream.name", "stream.shardCount", "firehose.bufferIntervalSeconds", "firehose.bufferSizeMB", "firehose.destinationPrefix", "session.basis", "region", "environment", "tags"]));
});
