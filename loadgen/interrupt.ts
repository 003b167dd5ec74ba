/**
 * Ctrl-C handling for the CLIs: the first interrupt asks for a clean stop, a second one quits at
 * once. One Ctrl-C can arrive more than once: under `npm run` / tsx, the terminal sends SIGINT to
 * the whole foreground process group and tsx forwards its own SIGINT to the script, so the script
 * gets two within milliseconds. Interrupts within `sameWithinMs` of the first are that same one.
 */
export interface InterruptOptions {
  /** The first interrupt: start the clean stop. */
  readonly onFirst: () => void;
  /** A later, separate interrupt: quit at once (default process.exit(130)). */
  readonly onSecond?: () => void;
  readonly sameWithinMs?: number;
  readonly now?: () => number;
}

export function interruptHandler(options: InterruptOptions): () => void {
  const sameWithinMs = options.sameWithinMs ?? 500;
  const now = options.now ?? Date.now;
  let firstAt: number | undefined;
  return () => {
    const t = now();
    if (firstAt === undefined) {
      firstAt = t;
      options.onFirst();
    } else if (t - firstAt >= sameWithinMs) {
      (options.onSecond ?? (() => process.exit(130)))();
    }
  };
}
