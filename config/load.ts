import { readFileSync } from "node:fs";
import * as path from "node:path";
import { configSchema, deriveConfig, type SessionizationConfig } from "./schema";

export class ConfigError extends Error {
  constructor(source: string, problems: string[]) {
    super(`Invalid configuration in ${source}:\n${problems.map((p) => `  - ${p}`).join("\n")}`);
    this.name = "ConfigError";
  }
}

/** Validates a config object; the error names every bad key with the allowed range. */
export function parseConfig(input: unknown, source = "config"): SessionizationConfig {
  const result = configSchema.safeParse(input, { reportInput: true });
  if (!result.success) {
    throw new ConfigError(
      source,
      result.error.issues.map((issue) => {
        const key = issue.path.join(".") || "(root)";
        const got = "input" in issue && issue.input !== undefined ? ` (got ${JSON.stringify(issue.input)})` : "";
        return `${key}: ${issue.message}${got}`;
      }),
    );
  }
  return deriveConfig(result.data);
}

export const CONFIG_DIR = path.resolve(__dirname);

/**
 * The config file: `$SESSIONIZATION_CONFIG` if set, else `config/<$SESSIONIZATION_ENV or dev>.json`.
 */
export function configPath(env: NodeJS.ProcessEnv = process.env): string {
  if (env.SESSIONIZATION_CONFIG) return path.resolve(env.SESSIONIZATION_CONFIG);
  const name = env.SESSIONIZATION_ENV || "dev";
  if (!/^[a-z0-9-]+$/.test(name)) throw new ConfigError("SESSIONIZATION_ENV", [`SESSIONIZATION_ENV: not a config name: ${name}`]);
  return path.join(CONFIG_DIR, `${name}.json`);
}

export function loadConfig(file: string = configPath()): SessionizationConfig {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (err) {
    throw new ConfigError(file, [`cannot read the file: ${(err as Error).message}`]);
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(file, [`not valid JSON: ${(err as Error).message}`]);
  }
  return parseConfig(json, file);
}
