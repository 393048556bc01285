// A digest of the replicated state, to check that members are byte-identical.
import { createHash, type Hash } from "node:crypto";
import { writeU32 } from "./bytes.ts";
import type { Bin, Dbs } from "./layout.ts";

/** Feeds byte strings to `h` each after its u32 length, so that no two sequences hash alike. */
export function lengthPrefixed(h: Hash): (bytes: Uint8Array) => void {
  const len = new Uint8Array(4);
  return (bytes) => {
    writeU32(len, 0, bytes.length);
    h.update(len);
    h.update(bytes);
  };
}

/** SHA-256 over every record of rev, kv, hist, lease, leasekey, auth and the internal meta keys
 * (appliedIndex, revision, compactRevision), in key order. Caller meta keys are excluded:
 * they may hold member-local data. */
export function hashDbs(dbs: Dbs): string {
  const h = createHash("sha256");
  const feed = lengthPrefixed(h);
  const tables: Array<[string, Bin]> = [
    ["rev", dbs.rev],
    ["kv", dbs.kv],
    ["hist", dbs.hist],
    ["lease", dbs.lease],
    ["leasekey", dbs.leasekey],
    ["auth", dbs.auth],
  ];
  for (const [name, db] of tables) {
    h.update(name);
    for (const { key, value } of db.getRange({})) {
      feed(key);
      feed(value);
    }
  }
  h.update("meta");
  for (const { key, value } of dbs.meta.getRange({ end: Uint8Array.of(1) })) {
    feed(key);
    feed(value);
  }
  return h.digest("hex");
}
