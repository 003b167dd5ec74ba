/**
 * kinesalite in its own process for bench/loadgen.ts (so the load generator and the emulator
 * do not share one event loop): prints `{"endpoint": …}` on stdout, stops when stdin closes.
 */
import { startKinesalite } from "../local/emulators";

startKinesalite().then((k) => {
  process.stdout.write(JSON.stringify({ endpoint: k.endpoint }) + "\n");
  const stop = () => void k.stop().then(() => process.exit(0));
  process.stdin.on("end", stop);
  process.stdin.on("close", stop);
  process.stdin.resume();
  process.on("SIGTERM", stop);
});
