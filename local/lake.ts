import { DuckDBInstance, type DuckDBConnection } from "@duckdb/node-api";
import { existsSync, readFileSync } from "node:fs";
import * as path from "node:path";
import type { SessionizationConfig } from "../config/schema";
import { eventSchema } from "../functions/core/event";
import { rejectedRecordSchema } from "../functions/core/rejected";
import { sessionRowSchema } from "../functions/core/row";
import { glueColumnsFromSchema, type GlueColumn } from "../modules/glue-columns";

/**
 * The local lake on DuckDB, as Athena sees the S3 lake through the Glue catalog:
 * - `aggregated`: the session rows (`<destinationPrefix>/year=/month=/day=/hour=/…`), columns from
 *   `sessionRowSchema` (the same schema the Glue table takes), partition columns as strings;
 * - `rawdata`: the raw records (`<rawPrefix>/…`), columns from `eventSchema`; a line that is not a
 *   JSON object of that shape reads as a row of NULLs (Athena's JSON SerDe with
 *   `ignore.malformed.json`), so `count(*)` counts every record delivered;
 * - `rejected`: the sessionizer's error output (`<errorPrefix>/rejected/…`), columns from
 *   `rejectedRecordSchema` through the same derivation as the Glue `rejected` table's;
 * - `clicks_today`, `clicks_month`: views from sql/clicks_today.sql and sql/clicks_month.sql;
 * and the duration query from sql/sessions_by_duration.sql: the catalog's own SQL files, run as they are.
 * The session runs with TimeZone UTC, so `current_date` is the UTC date the partitions use.
 */

export const SQL_DIR = path.resolve(__dirname, "..", "sql");

export function readSqlFile(name: string): string {
  const file = path.join(SQL_DIR, name);
  return readFileSync(file, "utf8").trim().replace(/;\s*$/, "");
}

export interface LakeLayout {
  readonly aggregated: string;
  readonly rawdata: string;
  readonly rejected: string;
  /** The error prefix: the rejected records and, under `delivery-failed/`, Firehose delivery failures (modules/firehose-prefixes.ts). */
  readonly errors: string;
}

/** Lake prefixes (relative to the lake folder) from the config, as the stacks lay out the bucket. */
export function lakeLayout(config: SessionizationConfig): LakeLayout {
  return {
    aggregated: `${config.firehose.destinationPrefix}/`,
    rawdata: `${config.lake.rawPrefix}/`,
    rejected: `${config.rejectedPrefix}/`,
    errors: `${config.lake.errorPrefix}/`,
  };
}

/** A value DuckDB returns, as plain JSON-ish JS (bigint → number, dates → ISO strings). */
function plain(value: unknown): unknown {
  if (typeof value === "bigint") return Number(value);
  if (value === null || value === undefined) return null;
  if (typeof value === "object" && "toString" in (value as object)) {
    const s = String(value);
    return s;
  }
  return value;
}

type ZodLike = { def?: { type?: string }; _def?: { type?: string } };

function duckType(schema: unknown): string {
  const t = (schema as ZodLike).def?.type ?? (schema as ZodLike)._def?.type;
  if (t === "number") return "BIGINT";
  if (t === "boolean") return "BOOLEAN";
  return "VARCHAR";
}

const DUCK_OF_GLUE: Record<string, string> = { string: "VARCHAR", bigint: "BIGINT", double: "DOUBLE", boolean: "BOOLEAN" };

/** DuckDB `columns={…}` from Glue columns (modules/glue-columns.ts): the types Athena reads. */
export function duckColumnsOfGlue(columns: readonly GlueColumn[]): Record<string, string> {
  return Object.fromEntries(
    columns.map((c) => {
      const t = DUCK_OF_GLUE[c.type];
      if (!t) throw new Error(`column ${c.name}: no DuckDB type for Glue type ${c.type}`);
      return [c.name, t];
    }),
  );
}

/** DuckDB `columns={…}` from an object schema's shape (zod 4). */
export function duckColumns(shape: Record<string, unknown>): Record<string, string> {
  return Object.fromEntries(Object.entries(shape).map(([k, v]) => [k, duckType(v)]));
}

const quote = (s: string) => `'${s.replace(/'/g, "''")}'`;
const PARTITION_COLUMNS = ["year", "month", "day", "hour"];

export interface QueryEngine {
  readonly name: string;
  /** Runs one statement and returns its rows as objects (numbers for integer columns). */
  query(sql: string): Promise<Record<string, unknown>[]>;
  close(): Promise<void>;
}

export class LocalLake implements QueryEngine {
  readonly name = "DuckDB over the local lake";
  private constructor(
    private readonly instance: DuckDBInstance,
    private readonly connection: DuckDBConnection,
    readonly lakeDir: string,
  ) {}

  static async open(lakeDir: string, layout: LakeLayout): Promise<LocalLake> {
    const instance = await DuckDBInstance.create(":memory:");
    const connection = await instance.connect();
    const lake = new LocalLake(instance, connection, path.resolve(lakeDir));
    try {
      await connection.run("SET TimeZone = 'UTC'");
      await lake.createTableView("aggregated", layout.aggregated, duckColumns(sessionRowSchema.shape), false);
      const rawColumns = duckColumns(eventSchema.shape);
      rawColumns.client_timestamp = "VARCHAR";
      await lake.createTableView("rawdata", layout.rawdata, rawColumns, true);
      await lake.createTableView("rejected", layout.rejected, duckColumnsOfGlue(glueColumnsFromSchema(rejectedRecordSchema)), false);
      await connection.run(`CREATE VIEW clicks_today AS ${readSqlFile("clicks_today.sql")}`);
      await connection.run(`CREATE VIEW clicks_month AS ${readSqlFile("clicks_month.sql")}`);
    } catch (err) {
      await lake.close();
      throw err;
    }
    return lake;
  }

  private async createTableView(name: string, prefix: string, columns: Record<string, string> | undefined, ignoreErrors: boolean): Promise<void> {
    const dir = path.join(this.lakeDir, prefix);
    const pattern = path.join(dir, "year=*", "month=*", "day=*", "hour=*", "*");
    const found = existsSync(dir) ? Number((await this.query(`SELECT count(*) AS n FROM glob(${quote(pattern)})`))[0].n) : 0;
    if (found === 0) {
      // No object yet: an empty view with the table's columns (read_json fails on no files).
      const cols = Object.entries(columns ?? { line: "VARCHAR" })
        .map(([c, t]) => `CAST(NULL AS ${t}) AS ${c}`)
        .concat(PARTITION_COLUMNS.map((p) => `CAST(NULL AS VARCHAR) AS ${p}`));
      await this.connection.run(`CREATE VIEW ${name} AS SELECT ${cols.join(", ")} WHERE false`);
      return;
    }
    const options = [
      "format = 'newline_delimited'",
      "hive_partitioning = true",
      "hive_types_autocast = false",
      ignoreErrors ? "ignore_errors = true" : undefined,
      columns
        ? `columns = {${Object.entries(columns)
            .map(([c, t]) => `${c}: ${quote(t)}`)
            .join(", ")}}`
        : "union_by_name = true",
    ].filter(Boolean);
    await this.connection.run(`CREATE VIEW ${name} AS SELECT * FROM read_json(${quote(pattern)}, ${options.join(", ")})`);
  }

  async query(sql: string): Promise<Record<string, unknown>[]> {
    const reader = await this.connection.runAndReadAll(sql);
    return reader.getRowObjects().map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, plain(v)])));
  }

  /** The seed's duration query (sql/sessions_by_duration.sql), as it is. */
  durationHistogram(): Promise<Record<string, unknown>[]> {
    return this.query(readSqlFile("sessions_by_duration.sql"));
  }

  async close(): Promise<void> {
    try {
      this.connection.closeSync();
    } finally {
      this.instance.closeSync();
    }
  }
}
