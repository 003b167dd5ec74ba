import { SingleBar } from "cli-progress";
import type { LoadProgress } from "./run";

/**
 * Progress on stderr: a bar on a terminal (cli-progress), plain lines every few seconds
 * otherwise (CI logs, pipes).
 */
export interface ProgressReporter {
  update(p: LoadProgress): void;
  stop(): void;
}

const fmt = (n: number) => Math.round(n).toLocaleString("en-US");

function describe(p: LoadProgress): string {
  const parts = [
    `generated ${fmt(p.generated)}${p.target !== undefined ? `/${fmt(p.target)}` : ""}`,
    `acknowledged ${fmt(p.acknowledged)}`,
    `retried ${fmt(p.retried)}`,
    `failed ${fmt(p.failed)}`,
  ];
  if (p.pendingLate > 0) parts.push(`late waiting ${fmt(p.pendingLate)}`);
  parts.push(`${fmt(p.ratePerSecond)} rec/s`);
  if (p.etaMs !== undefined && p.phase === "sending") parts.push(`ETA ${Math.ceil(p.etaMs / 1000)} s`);
  if (p.phase === "draining") parts.push("(sending the late records still due)");
  return parts.join(" | ");
}

export function createProgressReporter(stream: NodeJS.WriteStream = process.stderr, intervalMs = 5000): ProgressReporter {
  if (stream.isTTY) {
    const bar = new SingleBar(
      {
        stream,
        format: "{bar} {percentage}% | sent {generated} | ack {value} | retried {retried} | failed {failed} | {rate} rec/s | ETA {eta_formatted}",
        hideCursor: true,
        etaBuffer: 50,
        fps: 5,
      },
    );
    let started = false;
    return {
      update(p) {
        const total = p.target ?? Math.max(p.generated, 1);
        const payload = { generated: fmt(p.generated), retried: fmt(p.retried), failed: fmt(p.failed), rate: fmt(p.ratePerSecond) };
        if (!started) {
          bar.start(total, p.acknowledged, payload);
          started = true;
        } else {
          bar.setTotal(total);
          bar.update(p.acknowledged, payload);
        }
      },
      stop() {
        if (started) bar.stop();
      },
    };
  }
  let last = 0;
  return {
    update(p) {
      const now = Date.now();
      if (p.phase !== "done" && now - last < intervalMs) return;
      last = now;
      stream.write(`loadgen: ${p.phase}: ${describe(p)}\n`);
    },
    stop() {},
  };
}
