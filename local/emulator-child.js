"use strict";
/**
 * Runs one emulator (kinesalite or dynalite) in a child process on 127.0.0.1, so it has a core of
 * its own; started by local/emulators.ts (startEmulatorProcess). Reports {port} or {error} over IPC
 * and exits when the parent disconnects (no orphan if the parent dies) or on SIGTERM.
 */
const which = process.argv[2];
const port = Number(process.argv[3] || 0);
let server;
try {
  if (which === "kinesalite") {
    server = require("kinesalite")({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100 });
  } else if (which === "dynalite") {
    server = require("dynalite")({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  } else {
    throw new Error(`unknown emulator ${which}`);
  }
} catch (err) {
  process.send({ error: String(err && err.message ? err.message : err) });
  process.exit(1);
}
const stop = () => {
  if (server.closeAllConnections) server.closeAllConnections();
  server.close(() => process.exit(0));
  setTimeout(() => process.exit(0), 2000).unref();
};
server.once("error", (err) => {
  process.send({ error: err.code === "EADDRINUSE" ? `port ${port} is already in use` : String(err.message || err), code: err.code });
  process.exit(1);
});
server.listen(port, "127.0.0.1", () => process.send({ port: server.address().port }));
process.on("disconnect", stop);
process.on("SIGTERM", stop);
process.on("SIGINT", () => undefined); // the parent handles Ctrl-C and stops us through our handle
