import { existsSync } from "node:fs";
import * as path from "node:path";

/**
 * The project root: the nearest folder above this file holding cdktf.json. Works from the
 * TypeScript sources (tsx, jest) and from compiled JavaScript in any output folder.
 */
export function findProjectRoot(start: string = __dirname): string {
  for (let dir = path.resolve(start); ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, "cdktf.json"))) return dir;
    if (path.dirname(dir) === dir) throw new Error(`no cdktf.json above ${start}`);
  }
}

export const PROJECT_ROOT = findProjectRoot();
