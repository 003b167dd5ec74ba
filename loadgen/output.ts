/**
 * A file or folder that cannot be written (the out folder under a file, no permission, a full
 * disk): one line, "cannot write <path>: <reason>", for the CLIs to print without a stack
 * (exit status 2).
 */
export class OutputError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`cannot write ${path}: ${reason}`);
    this.name = "OutputError";
  }
}

/** "not a directory (ENOTDIR)" from Node's "ENOTDIR: not a directory, mkdir '/dev/null/x'". */
export function fsReason(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  const message = String(e?.message ?? err);
  const m = /^([A-Z0-9_]+): (.*?)(?:, \w+ '.*')?$/s.exec(message);
  if (m) return `${m[2]} (${m[1]})`;
  return e?.code ? `${message} (${e.code})` : message;
}

/** Runs `fn` (a filesystem write); its error becomes an OutputError naming `target`. */
export function writing<T>(target: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    throw new OutputError(target, fsReason(err));
  }
}
