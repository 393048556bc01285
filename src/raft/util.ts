import type { Entry } from "./types.ts";

/** The one empty payload: entries and messages share it rather than allocate their own. */
export const EMPTY_BYTES = new Uint8Array(0);

/** Bytes an entry counts for in size limits: its payload plus a fixed header estimate. */
export const ENTRY_OVERHEAD_BYTES = 16;

export function entryBytes(entry: Entry): number {
  return entry.data.length + ENTRY_OVERHEAD_BYTES;
}

export function entriesBytes(entries: readonly Entry[]): number {
  let total = 0;
  for (const entry of entries) total += entry.data.length + ENTRY_OVERHEAD_BYTES;
  return total;
}

/** The longest prefix within maxBytes, but always at least one entry (progress over limits). */
export function limitEntriesBySize<T extends readonly Entry[]>(entries: T, maxBytes: number): T {
  if (entries.length === 0) return entries;
  let size = entries[0]!.data.length + ENTRY_OVERHEAD_BYTES;
  let count = 1;
  while (count < entries.length) {
    size += entries[count]!.data.length + ENTRY_OVERHEAD_BYTES;
    if (size > maxBytes) break;
    count++;
  }
  return count === entries.length ? entries : (entries.slice(0, count) as unknown as T);
}

export function bytesEqual(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}
