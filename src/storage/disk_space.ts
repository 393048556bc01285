// Telling a full disk from a broken one: ENOSPC and EDQUOT leave what was written intact and go
// away when space is freed, so the caller may retry; every other write error may not.
import { statfsSync } from "node:fs";
import { constants } from "node:os";
import { DiskFullError } from "./errors.ts";

// Node's fs errors carry the name ("ENOSPC"); lmdb-js carries the errno number (28).
const FULL_CODES: ReadonlySet<unknown> = new Set([
  "ENOSPC",
  "EDQUOT",
  constants.errno.ENOSPC,
  constants.errno.EDQUOT,
]);

/** The error, or one of its causes, says the disk or the quota is full. */
export function isDiskFull(error: unknown): boolean {
  let current = error;
  for (let depth = 0; depth < 8 && typeof current === "object" && current !== null; depth++) {
    if (current instanceof DiskFullError) return true;
    if (FULL_CODES.has((current as { code?: unknown }).code)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** Bytes an unprivileged writer may still use on the file system holding `path`. */
export function freeBytes(path: string): number {
  const stats = statfsSync(path);
  return stats.bavail * stats.bsize;
}
