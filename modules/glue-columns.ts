import { z } from "zod";

/**
 * Glue/Hive column lists derived from the zod schemas the code uses (functions/core/event.ts,
 * functions/core/row.ts), through their JSON Schema: integer → bigint, number → double,
 * boolean → boolean, string → string; a string-or-number union (the raw `client_timestamp`)
 * → string, which reads both forms from JSON. Anything else fails loudly rather than guessing.
 */
export interface GlueColumn {
  readonly name: string;
  readonly type: string;
}

type JsonType = "integer" | "number" | "string" | "boolean" | "object" | "array" | "null";

function glueType(name: string, prop: { type?: JsonType | JsonType[] }): string {
  const types = Array.isArray(prop.type) ? prop.type : prop.type ? [prop.type] : [];
  if (types.length === 1) {
    switch (types[0]) {
      case "integer":
        return "bigint";
      case "number":
        return "double";
      case "boolean":
        return "boolean";
      case "string":
        return "string";
    }
  }
  if (types.length > 1 && types.includes("string") && types.every((t) => t === "string" || t === "number" || t === "integer")) {
    return "string";
  }
  throw new Error(`column ${name}: no Glue type for JSON Schema type ${JSON.stringify(prop.type)}`);
}

export function glueColumnsFromSchema(schema: z.ZodType): GlueColumn[] {
  const json = z.toJSONSchema(schema, { io: "input", unrepresentable: "any" }) as {
    properties?: Record<string, { type?: JsonType | JsonType[] }>;
  };
  if (!json.properties) throw new Error("schema is not an object schema");
  return Object.entries(json.properties).map(([name, prop]) => ({ name, type: glueType(name, prop) }));
}

/** The Presto/Trino type a Glue type has inside an Athena view definition. */
export function prestoType(glue: string): string {
  switch (glue) {
    case "string":
      return "varchar";
    case "bigint":
    case "double":
    case "boolean":
      return glue;
    default:
      throw new Error(`no Presto type for Glue type ${glue}`);
  }
}

/** Hive-style time partitions Firehose writes (strings, as Athena sees them). */
export const TIME_PARTITION_KEYS: readonly GlueColumn[] = ["year", "month", "day", "hour"].map((name) => ({ name, type: "string" }));
