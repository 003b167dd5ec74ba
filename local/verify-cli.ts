import { Command, InvalidArgumentError } from "commander";
import { existsSync, mkdirSync, writeFileSync } from "node:fs";
import * as path from "node:path";
import { loadConfig } from "../config/load";
import { REJECTED_TABLE } from "../functions/core/rejected";
import { AthenaEngine } from "./athena";
import { lakeLayout, LocalLake, type QueryEngine } from "./lake";
import { formatReport, readExpectedFile, reportJson, runScope, verify, type VerifyOptions } from "./verify";

/**
 * `npm run verify -- --expected FILE (--lake DIR | --athena --workgroup W --database D --region R)`
 * Exit status: 0 every check passed, 1 a check failed, 2 the verification could not run.
 */

interface CliOptions {
  expected: string;
  lake?: string;
  athena?: boolean;
  workgroup?: string;
  database?: string;
  region?: string;
  catalog?: string;
  rejectedTable?: string;
  rejected: boolean;
  report?: string;
  slackHours: number;
}

const positive = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError("a number ≥ 0");
  return n;
};

export async function main(argv: string[]): Promise<number> {
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  const program = new Command()
    .name("verify")
    .description("Compare a pipeline's output (a local lake or Athena) with the load generator's expected.json.")
    .requiredOption("--expected <file>", "the load generator's expected.json")
    .option("--lake <dir>", "a local lake folder (the local pipeline's <out>/lake)")
    .option("--athena", "query the deployed lake through Athena")
    .option("--workgroup <name>", "Athena workgroup (with --athena)")
    .option("--database <name>", "Glue database (with --athena; default: the config's)")
    .option("--region <region>", "AWS region (with --athena; default: the config's)")
    .option("--catalog <name>", "Athena data catalog (default AwsDataCatalog)")
    .option("--rejected-table <name>", `table over the error output's rejected records (default: the catalog's ${REJECTED_TABLE}; the lake's ${REJECTED_TABLE} view)`)
    .option("--no-rejected", "skip the malformed checks")
    .option("--slack-hours <h>", "with --athena: partitions read past the last arrival", positive, 2)
    .option("--report <file>", "where report.json goes (default: beside the expected file)")
    .exitOverride()
    .configureOutput({ writeErr: (s) => process.stderr.write(s) });
  try {
    program.parse(argv, { from: "user" });
  } catch (err) {
    const code = (err as { exitCode?: number }).exitCode;
    return code === 0 ? 0 : 2;
  }
  const opts = program.opts<CliOptions>();
  if (Boolean(opts.lake) === Boolean(opts.athena)) {
    process.stderr.write("verify: give exactly one of --lake DIR or --athena (with --workgroup, --database, --region)\n");
    return 2;
  }
  let engine: QueryEngine | undefined;
  try {
    const expected = readExpectedFile(opts.expected);
    const verifyOptions: VerifyOptions = opts.rejected ? { rejectedTable: opts.rejectedTable ?? REJECTED_TABLE } : { skipRejected: "--no-rejected" };
    if (opts.lake) {
      if (!existsSync(opts.lake)) throw new Error(`no lake folder at ${opts.lake}`);
      engine = await LocalLake.open(opts.lake, lakeLayout(loadConfig()));
    } else {
      const config = loadConfig();
      if (!opts.workgroup) throw new Error("--athena needs --workgroup");
      engine = new AthenaEngine({
        workgroup: opts.workgroup,
        database: opts.database ?? config.databaseName,
        region: opts.region ?? config.region,
        catalog: opts.catalog,
      });
      const scope = runScope(expected, opts.slackHours * 3600_000);
      if (!scope) throw new Error(`${opts.expected} has no time_range.first_arrival/last_arrival: cannot scope the Athena queries to the run`);
      Object.assign(verifyOptions, { scope });
    }
    const report = await verify(engine, expected, verifyOptions);
    const reportFile = opts.report ?? path.join(path.dirname(path.resolve(opts.expected)), "report.json");
    mkdirSync(path.dirname(reportFile), { recursive: true });
    writeFileSync(reportFile, reportJson(report));
    process.stdout.write(`${formatReport(report, process.stdout.isTTY)}\nreport: ${reportFile}\n`);
    return report.passed ? 0 : 1;
  } catch (err) {
    process.stderr.write(`verify: ${(err as Error).message}\n`);
    return 2;
  } finally {
    await engine?.close();
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err) => {
      process.stderr.write(`verify: ${(err as Error)?.stack ?? err}\n`);
      process.exit(2);
    },
  );
}
