// Compaction (etcd's mvcc compaction): for every key keep only the newest revision at or below
// the compact revision, and drop it too when it is a tombstone. Newer revisions are untouched.
import { copyBytes } from "./bytes.ts";
import { type Dbs, isTombstoneRecord, revMain } from "./layout.ts";

/** Runs inside the apply write txn. O(keys in history): it walks every key's revision list. */
export function compactHistory(dbs: Dbs, compactRevision: number): number {
  const drop: Array<[Uint8Array, Uint8Array]> = [];
  for (const k of dbs.hist.getKeys()) {
    const key = copyBytes(k);
    let keep: Uint8Array | undefined;
    for (const v of dbs.hist.getValues(key)) {
      if (revMain(v) > compactRevision) break;
      if (keep !== undefined) drop.push([key, keep]);
      keep = copyBytes(v);
    }
    if (keep === undefined) continue;
    const rec = dbs.rev.get(keep);
    if (rec !== undefined && isTombstoneRecord(rec)) drop.push([key, keep]);
  }
  // Deleting after the scan: cursors over a dupSort db must not see their own deletions.
  for (const [key, rk] of drop) {
    dbs.hist.removeSync(key, rk);
    dbs.rev.removeSync(rk);
  }
  return drop.length;
}
