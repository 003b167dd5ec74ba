import { readFileSync } from "node:fs";
import { DESCRIPTIONS, DOC_FILES, parameters, withTable } from "../scripts/infra-docs";

test.each(DOC_FILES)("%s has the current parameter table (npx tsx scripts/infra-docs.ts rewrites it)", (file) => {
  const doc = readFileSync(file, "utf8");
  expect(withTable(doc, file)).toBe(doc);
});

test("every config key is documented, and no description is stale", () => {
  const keys = parameters().map((p) => p.key);
  expect(keys.filter((k) => !DESCRIPTIONS[k])).toEqual([]);
  expect(Object.keys(DESCRIPTIONS).filter((k) => !keys.includes(k))).toEqual([]);
  expect(keys).toEqual(expect.arrayContaining(["stream.name", "stream.shardCount", "firehose.bufferIntervalSeconds", "firehose.bufferSizeMB", "firehose.destinationPrefix", "session.basis", "region", "environment", "tags"]));
});
