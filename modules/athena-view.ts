import { Construct } from "constructs";
import { Token } from "cdktf";
import { readFileSync } from "node:fs";
import * as path from "node:path";
import { GlueCatalogTable } from "@cdktf/provider-aws/lib/glue-catalog-table";
import { PROJECT_ROOT } from "./project";
import { prestoType, type GlueColumn } from "./glue-columns";

/**
 * An Athena view as a Glue table of type VIRTUAL_VIEW, in the encoding Athena itself writes
 * for `CREATE VIEW`: `view_original_text` = `/* Presto View: <base64 JSON> *\/`, with the SQL,
 * the catalog/schema it resolves names in, and the output columns in Presto types. The SQL
 * comes from `sql/<name>.sql`, the same file the local pipeline runs.
 */
export const SQL_DIR = path.join(PROJECT_ROOT, "sql");

/** One statement from `sql/<name>.sql`, comment lines and trailing `;` removed. */
export function readSql(name: string, dir: string = SQL_DIR): string {
  const text = readFileSync(path.join(dir, `${name}.sql`), "utf8");
  return text
    .split("\n")
    .filter((line) => !line.trim().startsWith("--"))
    .join("\n")
    .trim()
    .replace(/;\s*$/, "");
}

export function prestoViewText(sql: string, database: string, columns: readonly GlueColumn[]): string {
  if (Token.isUnresolved(database)) throw new Error("prestoViewText: the schema must be a literal name (it is base64-encoded)");
  const view = {
    originalSql: sql,
    catalog: "awsdatacatalog",
    schema: database,
    columns: columns.map((c) => ({ name: c.name, type: prestoType(c.type) })),
  };
  return `/* Presto View: ${Buffer.from(JSON.stringify(view), "utf8").toString("base64")} */`;
}

export interface AthenaViewProps {
  /** The Glue database (may be a reference, for ordering)... */
  readonly databaseName: string;
  /** ...and its literal name, which the encoded view definition carries. */
  readonly schemaName: string;
  readonly viewName: string;
  readonly sql: string;
  /** The view's output columns (for `SELECT *` over a table: its columns then its partition keys). */
  readonly columns: readonly GlueColumn[];
  readonly description?: string;
  /** Tables the SQL reads, so Terraform creates them first. */
  readonly dependsOn?: GlueCatalogTable[];
}

export class AthenaView extends Construct {
  readonly table: GlueCatalogTable;

  constructor(scope: Construct, id: string, props: AthenaViewProps) {
    super(scope, id);
    this.table = new GlueCatalogTable(this, "view", {
      databaseName: props.databaseName,
      name: props.viewName,
      description: props.description,
      tableType: "VIRTUAL_VIEW",
      viewOriginalText: prestoViewText(props.sql, props.schemaName, props.columns),
      viewExpandedText: "/* Presto View */",
      parameters: { presto_view: "true", comment: "Presto View" },
      storageDescriptor: {
        columns: props.columns.map((c) => ({ name: c.name, type: c.type })),
        serDeInfo: {},
      },
      dependsOn: props.dependsOn,
    });
  }
}
