import {
  AthenaClient,
  GetQueryExecutionCommand,
  GetQueryResultsCommand,
  StartQueryExecutionCommand,
  StopQueryExecutionCommand,
  type ColumnInfo,
  type QueryExecution,
} from "@aws-sdk/client-athena";
import type { QueryEngine } from "./lake";

/**
 * The verifier's queries on Athena: StartQueryExecution in a workgroup and database, polling
 * GetQueryExecution with exponential backoff (bounded by `timeoutMs`), then every page of
 * GetQueryResults. A failed or cancelled query raises an AthenaQueryError with Athena's own
 * reason and the query text, so the user sees which statement failed and why.
 */

export interface AthenaEngineOptions {
  readonly workgroup: string;
  readonly database: string;
  readonly region?: string;
  readonly catalog?: string;
  readonly client?: AthenaClient;
  /** First poll delay, ms (doubles up to maxPollMs). */
  readonly pollMs?: number;
  readonly maxPollMs?: number;
  readonly timeoutMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

export class AthenaQueryError extends Error {
  constructor(
    readonly queryExecutionId: string | undefined,
    readonly state: string,
    readonly reason: string,
    readonly sql: string,
  ) {
    const firstLines = sql.split("\n").slice(0, 6).join("\n    ");
    super(`Athena query ${queryExecutionId ?? "(not started)"} ${state}: ${reason}\n  query:\n    ${firstLines}`);
    this.name = "AthenaQueryError";
  }
}

const INTEGER_TYPES = new Set(["tinyint", "smallint", "integer", "int", "bigint"]);
const FLOAT_TYPES = new Set(["double", "float", "real", "decimal"]);

function convert(value: string | undefined, column: ColumnInfo | undefined): unknown {
  if (value === undefined) return null;
  const type = (column?.Type ?? "varchar").toLowerCase();
  if (INTEGER_TYPES.has(type) || FLOAT_TYPES.has(type) || type.startsWith("decimal")) return Number(value);
  if (type === "boolean") return value === "true";
  return value;
}

export class AthenaEngine implements QueryEngine {
  readonly name: string;
  private readonly client: AthenaClient;
  private readonly sleep: (ms: number) => Promise<void>;

  constructor(private readonly options: AthenaEngineOptions) {
    this.client = options.client ?? new AthenaClient(options.region ? { region: options.region } : {});
    this.sleep = options.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    this.name = `Athena (workgroup ${options.workgroup}, database ${options.database}${options.region ? `, ${options.region}` : ""})`;
  }

  async query(sql: string): Promise<Record<string, unknown>[]> {
    let id: string | undefined;
    try {
      const started = await this.client.send(
        new StartQueryExecutionCommand({
          QueryString: sql,
          WorkGroup: this.options.workgroup,
          QueryExecutionContext: { Database: this.options.database, ...(this.options.catalog ? { Catalog: this.options.catalog } : {}) },
        }),
      );
      id = started.QueryExecutionId;
    } catch (err) {
      throw new AthenaQueryError(undefined, "could not start", `${(err as Error).name}: ${(err as Error).message}`, sql);
    }
    if (!id) throw new AthenaQueryError(undefined, "could not start", "StartQueryExecution returned no QueryExecutionId", sql);
    await this.waitFor(id, sql);
    return this.results(id);
  }

  private async waitFor(id: string, sql: string): Promise<QueryExecution> {
    const timeoutMs = this.options.timeoutMs ?? 300_000;
    let delay = this.options.pollMs ?? 200;
    const maxDelay = this.options.maxPollMs ?? 5_000;
    let waited = 0;
    for (let polls = 0; polls < 10_000; polls++) {
      const out = await this.client.send(new GetQueryExecutionCommand({ QueryExecutionId: id }));
      const execution = out.QueryExecution ?? {};
      const state = execution.Status?.State;
      if (state === "SUCCEEDED") return execution;
      if (state === "FAILED" || state === "CANCELLED") {
        const reason = execution.Status?.StateChangeReason ?? execution.Status?.AthenaError?.ErrorMessage ?? "no reason given";
        const category = execution.Status?.AthenaError?.ErrorType ? ` (error type ${execution.Status.AthenaError.ErrorType})` : "";
        throw new AthenaQueryError(id, state, `${reason}${category}`, sql);
      }
      if (waited >= timeoutMs) {
        await this.client.send(new StopQueryExecutionCommand({ QueryExecutionId: id })).catch(() => undefined);
        throw new AthenaQueryError(id, "TIMED OUT", `still ${state ?? "unknown"} after ${Math.round(waited / 1000)} s; stopped`, sql);
      }
      await this.sleep(delay);
      waited += delay;
      delay = Math.min(maxDelay, delay * 2);
    }
    throw new AthenaQueryError(id, "TIMED OUT", "too many polls", sql);
  }

  private async results(id: string): Promise<Record<string, unknown>[]> {
    const rows: Record<string, unknown>[] = [];
    let token: string | undefined;
    let columns: ColumnInfo[] | undefined;
    let first = true;
    for (let page = 0; page < 100_000; page++) {
      const out = await this.client.send(new GetQueryResultsCommand({ QueryExecutionId: id, NextToken: token, MaxResults: 1000 }));
      columns ??= out.ResultSet?.ResultSetMetadata?.ColumnInfo ?? [];
      const names = columns.map((c) => c.Name ?? c.Label ?? "");
      for (const row of out.ResultSet?.Rows ?? []) {
        const values = (row.Data ?? []).map((d) => d.VarCharValue);
        // A SELECT's first row on the first page repeats the column names.
        if (first && values.length === names.length && values.every((v, i) => v === names[i])) {
          first = false;
          continue;
        }
        first = false;
        rows.push(Object.fromEntries(names.map((n, i) => [n, convert(values[i], columns?.[i])])));
      }
      token = out.NextToken;
      if (!token) return rows;
    }
    throw new Error(`Athena query ${id}: too many result pages`);
  }

  async close(): Promise<void> {
    if (!this.options.client) this.client.destroy();
  }
}
