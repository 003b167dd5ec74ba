/**
 * kinesalite on 127.0.0.1 for trying the load generator against an emulator:
 *   npx tsx loadgen/kinesalite.ts [port]     (default: a free port)
 * prints `{"endpoint": "http://127.0.0.1:<port>"}` on stdout and runs until SIGINT, SIGTERM or,
 * when stdin is a pipe (as for a child process), until the pipe closes. Then: npm run loadgen -- --endpoint <endpoint> --create-stream …
 * (bench/loadgen.ts runs it as a child process, so the emulator has its own event loop.)
 */
import { fstatSync } from "node:fs";
import { startKinesalite } from "../local/emulators";

const port = Number(process.argv[2] ?? 0);

startKinesalite(port).then(
  (k) => {
    process.stdout.write(JSON.stringify({ endpoint: k.endpoint }) + "\n");
    let stopping = false;
    const stop = () => {
      if (stopping) return;
      stopping = true;
      void k.stop().then(() => process.exit(0));
    };
    const stdin = fstatSync(0);
    if (stdin.isFIFO() || stdin.isSocket()) {
      process.stdin.on("end", stop);
      process.stdin.on("close", stop);
      process.stdin.resume();
    }
    process.on("SIGTERM", stop);
    process.on("SIGINT", stop);
  },
  (err: Error) => {
    process.stderr.write(`${err.message}\n`);
    process.exit(1);
  },
);
