import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import * as path from "node:path";
import { interruptHandler } from "../loadgen/interrupt";

/**
 * A real Ctrl-C: the terminal sends SIGINT to the whole foreground process group, and tsx forwards
 * its own SIGINT to the script, so local/cli.ts gets two at once. That is one interrupt: the clean
 * shutdown, exit 130, no emulator process left.
 */

jest.setTimeout(90_000);

test("interrupts within 500 ms of the first are the same one; a later one quits at once", () => {
  let t = 0;
  const calls: string[] = [];
  const h = interruptHandler({ onFirst: () => calls.push("first"), onSecond: () => calls.push("second"), now: () => t });
  h();
  t = 5;
  h();
  t = 499;
  h();
  expect(calls).toEqual(["first"]);
  t = 800;
  h();
  expect(calls).toEqual(["first", "second"]);
});

const groupAlive = (pid: number) => {
  try {
    process.kill(-pid, 0);
    return true;
  } catch {
    return false;
  }
};

test("Ctrl-C to the process group of local/cli.ts, then tsx's copy (--emulators child): the clean shutdown, exit 130, nothing left running", async () => {
  const root = path.join(__dirname, "..");
  const out = mkdtempSync(path.join(process.env.TMPDIR ?? "/tmp", "local-interrupt-"));
  // `node --import tsx`: the script is the group leader itself, and tsx's relayed copy of the SIGINT is sent
  // by the test (below), at a known time. (Under the tsx binary, a script whose event loop stalls past tsx's
  // 30 + 30 ms acknowledgement windows is SIGKILLed by tsx itself: a race the test would only sometimes hit.)
  const child = spawn(process.execPath, ["--import", "tsx", "local/cli.ts", "--out", out, "--emulators", "child", "--events", "100000", "--rate", "200"], {
    cwd: root,
    detached: true,
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: "true" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  const pid = child.pid as number;
  let stderr = "";
  let stdout = "";
  child.stdout.on("data", (d) => (stdout += String(d)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on("exit", (code, signal) => resolve({ code, signal })));
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no load phase within 60 s:\n${stderr}`)), 60_000);
      child.stderr.on("data", (d) => {
        stderr += String(d);
        if (/\bloading\b/.test(stderr)) {
          clearTimeout(timer);
          resolve();
        }
      });
    });
    // The terminal's SIGINT to the whole group, then tsx's copy to the script: tsx relays a SIGINT to its child
    // when the child's acknowledgement has not reached it within 30 ms (or came in before tsx's own handler ran),
    // so the script sees two, tens of ms apart.
    process.kill(-pid, "SIGINT");
    await new Promise((r) => setTimeout(r, 70));
    try {
      process.kill(pid, "SIGINT");
    } catch {
      // already done with its clean shutdown
    }
    const { code } = await exited;
    expect(stderr).toContain("local: interrupted; stopping the load and the emulators");
    expect(stderr).toContain("local: interrupted; emulators stopped");
    expect(code).toBe(130);
    // every process of the group (tsx, the script, the emulator children) is gone
    for (let i = 0; i < 50 && groupAlive(pid); i++) await new Promise((r) => setTimeout(r, 100));
    expect(groupAlive(pid)).toBe(false);
    void stdout;
  } finally {
    if (groupAlive(pid)) process.kill(-pid, "SIGKILL");
    rmSync(out, { recursive: true, force: true });
  }
});
