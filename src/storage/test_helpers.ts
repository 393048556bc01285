// Shared by the storage tests: temp directories and entry builders.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
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
