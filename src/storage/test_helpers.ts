// Shared by the storage tests: temp directories, small file systems and entry builders.
import { execFileSync } from "node:child_process";
import { closeSync, mkdtempSync, openSync, rmSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestContext } from "node:test";
import { type Entry, EntryType } from "../raft/index.ts";

/** Runs `body` with a fresh temp directory, removed afterwards whatever happens. */
export async function withTempDir(body: (dir: string) => Promise<void>): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "qmesh-storage-"));
  try {
    await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * A fresh tmpfs of `bytes`, unmounted after the test; null (and the test skipped) when none
 * can be mounted, which needs root.
 */
export function mountTmpfs(t: TestContext, bytes: number): string | null {
  const dir = mkdtempSync(join(tmpdir(), "qmesh-tmpfs-"));
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${bytes}`, "tmpfs", dir], { stdio: "pipe" });
  } catch (error) {
    rmSync(dir, { recursive: true, force: true });
    t.skip(`cannot mount a tmpfs (needs root): ${(error as Error).message.split("\n")[0]}`);
    return null;
  }
  t.after(() => {
    execFileSync("umount", ["-l", dir]);
    rmSync(dir, { recursive: true, force: true });
  });
  return dir;
}

/** Writes zeros into a new file at `path` until its file system is full; returns the bytes. */
export function fillDisk(path: string): number {
  const fd = openSync(path, "w");
  let written = 0;
  try {
    for (let chunk = 1024 * 1024; chunk >= 512; ) {
      try {
        written += writeSync(fd, Buffer.alloc(chunk), 0, chunk, written);
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== "ENOSPC") throw error;
        chunk /= 2;
      }
    }
  } finally {
    closeSync(fd);
  }
  return written;
}

/** Entries [first, last] of `term`, each with distinct data of `dataBytes` bytes. */
export function makeEntries(first: number, last: number, term: number, dataBytes = 16): Entry[] {
  const entries: Entry[] = [];
  for (let index = first; index <= last; index++) {
    const data = new Uint8Array(dataBytes).map((_, i) => (index * 7 + term * 13 + i) & 0xff);
    const type = index % 5 === 0 ? EntryType.ConfChange : EntryType.Normal;
    entries.push({ index, term, type, data });
  }
  return entries;
}

/** Entries as plain objects with copied data, for deepEqual against what recovery returns. */
export function plain(entries: readonly Entry[]): object[] {
  return entries.map((entry) => ({ ...entry, data: Array.from(entry.data) }));
}
