import * as path from "node:path";
import { configPath, loadConfig } from "./config/load";
import { buildFunctionPackages } from "./modules/function-code";
import { PROJECT_ROOT } from "./modules/project";
import { buildApp } from "./stacks/app";

/**
 * The CDKTF app. `npm run synth` (or `npx cdktf synth`) writes cdktf.out/stacks/<stack>/ for
 * bootstrap, lake, ingest, analytics and catalog. The config is `config/<SESSIONIZATION_ENV or
 * dev>.json`, or the file in SESSIONIZATION_CONFIG; a bad value stops here, naming the key.
 * The Lambda packages (esbuild bundle + deterministic zip) are built first, asynchronously;
 * the synthesis itself is synchronous.
 */
async function main(): Promise<void> {
  let config;
  try {
    // Resolved from the project root, so compiled JavaScript in another folder finds config/ too.
    const file = process.env.SESSIONIZATION_CONFIG ? configPath() : path.join(PROJECT_ROOT, "config", path.basename(configPath()));
    config = loadConfig(file);
  } catch (err) {
    console.error((err as Error).message);
    process.exit(1);
  }
  const functionCode = await buildFunctionPackages();
  const { app } = buildApp(config, { outdir: process.env.CDKTF_OUTDIR, functionCode });
  app.synth();
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
