// etcd's HashKV for the initial corruption check: a digest of the MVCC history up to a revision.
// Every member holds the same history records up to a revision once they compacted at the same
// revision, so two members at different applied indexes can still be compared. The live-key
// table is checked locally against that history (checkLiveKeys), since it is a copy of it.
import { createHash } from "node:crypto";
import { bytesEqual, readU64 } from "./bytes.ts";
import { lengthPrefixed } from "./hash.ts";
import type { Dbs } from "./layout.ts";
import { revKey } from "./layout.ts";

/** Records hashed per synchronous step: a step must not hold the event loop for long. */
const RECORDS_PER_STEP = 5_000;

export interface HistoryHash {
  /** The digest covers every history record with a main revision at or below this one. */
  readonly revision: number;
  /** Comparable only between members that compacted at the same revision. */
  readonly compactRevision: number;
  /** SHA-256, hex. */
  readonly hash: string;
  readonly records: number;
}

export class HistoryHashError extends Error {
  override name = "HistoryHashError";
}

export interface HistorySource {
  /** The open databases; a new object after a snapshot was installed. */
  dbs(): Dbs;
  readonly revision: number;
  readonly compactRevision: number;
}

const nextTurn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

/**
 * Hashes the `rev` records with a main revision ≤ `revision`, in key order, a step at a time so
 * apply goes on in between. Throws HistoryHashError if the revision is not held (future or
 * compacted), or if a compaction or a snapshot install changed that history while it ran.
 */
export async function hashHistory(source: HistorySource, revision: number): Promise<HistoryHash> {
  const compactRevision = source.compactRevision;
  if (revision > source.revision) {
    throw new HistoryHashError(`revision ${revision} is ahead of this member (${source.revision})`);
  }
  if (revision < compactRevision) {
    throw new HistoryHashError(`revision ${revision} is compacted (at ${compactRevision})`);
  }
  const dbs = source.dbs();
  const h = createHash("sha256");
  const feed = lengthPrefixed(h);
  const end = revKey(revision + 1, 0);
  let start: Uint8Array = revKey(0, 0);
  let records = 0;
  for (;;) {
    let count = 0;
    for (const { key, value } of dbs.rev.getRange({ start, end, limit: RECORDS_PER_STEP })) {
      feed(key);
      feed(value);
      if (++count === RECORDS_PER_STEP) start = after(key);
    }
    records += count;
    if (count < RECORDS_PER_STEP) break;
    await nextTurn();
    if (source.dbs() !== dbs || source.compactRevision !== compactRevision) {
      throw new HistoryHashError("the history changed (compaction or snapshot) while hashing it");
    }
  }
  return { revision, compactRevision, hash: h.digest("hex"), records };
}

/**
 * The live-key table must be the newest history record of each key: a key whose value, lease or
 * version was changed there (and not in the history) is named. Returns null when consistent.
 */
export async function checkLiveKeys(source: HistorySource): Promise<string | null> {
  const dbs = source.dbs();
  let start: Uint8Array = new Uint8Array(0);
  for (;;) {
    let count = 0;
    for (const { key, value } of dbs.kv.getRange({ start, limit: RECORDS_PER_STEP })) {
      const problem = liveKeyProblem(dbs, key, value);
      if (problem !== null) return problem;
      if (++count === RECORDS_PER_STEP) start = after(key);
    }
    if (count < RECORDS_PER_STEP) return null;
    await nextTurn();
    if (source.dbs() !== dbs) return null; // a snapshot replaced the store: nothing to check
  }
}

/** The smallest key greater than `key`: a range starting there resumes after it. */
function after(key: Uint8Array): Uint8Array {
  const next = new Uint8Array(key.length + 1);
  next.set(key);
  return next;
}

function liveKeyProblem(dbs: Dbs, key: Uint8Array, live: Uint8Array): string | null {
  const name = JSON.stringify(Buffer.from(key).toString("utf8"));
  let newest: Uint8Array | undefined;
  for (const v of dbs.hist.getValues(key, { reverse: true })) {
    newest = v;
    break;
  }
  if (newest === undefined) return `key ${name} is live but has no history`;
  const record = dbs.rev.get(newest);
  if (record === undefined) return `key ${name}: its newest revision has no history record`;
  if (bytesEqual(record, live)) return null;
  const modRevision = readU64(live, 9);
  return `key ${name} (mod revision ${modRevision}) differs from its history record`;
}
