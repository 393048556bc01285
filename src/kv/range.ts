// Reads: the current revision is served from `kv`, past revisions from `hist` + `rev`.
import { compareBytes } from "./bytes.ts";
import { KvError } from "./errors.ts";
import { type Dbs, decodeRecord, isTombstoneRecord, revMain } from "./layout.ts";
import type { KeyValue, RangeRequest, RangeResponse, SortTarget } from "./types.ts";

export interface Bounds {
  start?: Uint8Array;
  end?: Uint8Array;
}

/** etcd's rangeEnd: null for a single key; [0] = everything from key on. */
export function rangeBounds(key: Uint8Array, rangeEnd: Uint8Array | undefined): Bounds | null {
  if (rangeEnd === undefined || rangeEnd.length === 0) return null;
  const b: Bounds = {};
  // LMDB has no empty key; an empty start means "from the first key".
  if (key.length > 0) b.start = key;
  if (!(rangeEnd.length === 1 && rangeEnd[0] === 0)) b.end = rangeEnd;
  return b;
}

export function inRange(k: Uint8Array, key: Uint8Array, rangeEnd: Uint8Array): boolean {
  const b = rangeBounds(key, rangeEnd);
  if (b === null) return compareBytes(k, key) === 0;
  if (b.start !== undefined && compareBytes(k, b.start) < 0) return false;
  return b.end === undefined || compareBytes(k, b.end) < 0;
}

/** Live key-values in the range as of the current (possibly in-progress) write txn. */
export function currentKvs(
  dbs: Dbs,
  key: Uint8Array,
  rangeEnd: Uint8Array | undefined,
  keysOnly = false,
  limit = 0,
): KeyValue[] {
  const b = rangeBounds(key, rangeEnd);
  if (b === null) {
    if (key.length === 0) return [];
    const v = dbs.kv.get(key);
    return v === undefined ? [] : [decodeRecord(v, keysOnly).kv];
  }
  const out: KeyValue[] = [];
  const opts = limit > 0 ? { ...b, limit } : b;
  for (const { value } of dbs.kv.getRange(opts)) out.push(decodeRecord(value, keysOnly).kv);
  return out;
}

/** The key's newest revision key at or below `rev`, if any survives compaction. */
export function revisionAtOrBelow(dbs: Dbs, key: Uint8Array, rev: number): Uint8Array | undefined {
  for (const v of dbs.hist.getValues(key, { reverse: true })) {
    if (revMain(v) <= rev) return v;
  }
  return undefined;
}

function pastKv(dbs: Dbs, key: Uint8Array, rev: number, keysOnly: boolean): KeyValue | undefined {
  const rk = revisionAtOrBelow(dbs, key, rev);
  if (rk === undefined) return undefined;
  const rec = dbs.rev.get(rk);
  if (rec === undefined || isTombstoneRecord(rec)) return undefined;
  return decodeRecord(rec, keysOnly).kv;
}

function pastKvs(dbs: Dbs, req: RangeRequest, rev: number, keysOnly: boolean): KeyValue[] {
  const b = rangeBounds(req.key, req.rangeEnd);
  if (b === null) {
    if (req.key.length === 0) return [];
    const kv = pastKv(dbs, req.key, rev, keysOnly);
    return kv === undefined ? [] : [kv];
  }
  const out: KeyValue[] = [];
  for (const k of dbs.hist.getKeys(b)) {
    const kv = pastKv(dbs, k, rev, keysOnly);
    if (kv !== undefined) out.push(kv);
  }
  return out;
}

function sortValue(kv: KeyValue, t: SortTarget): number {
  return t === "version" ? kv.version : t === "create" ? kv.createRevision : kv.modRevision;
}

export interface RevisionState {
  revision: number;
  compactRevision: number;
}

/** etcd's applyRange. Throws KvError for compacted or future revisions. */
export function readRange(dbs: Dbs, req: RangeRequest, state: RevisionState): RangeResponse {
  const rev = req.revision || state.revision;
  if (rev > state.revision) throw new KvError("FutureRevision");
  // As etcd: the state at compactRevision itself is still complete.
  if (rev < state.compactRevision) throw new KvError("Compacted");
  const limit = req.limit ?? 0;
  const target = req.sortTarget ?? "key";
  let order = req.sortOrder ?? "none";
  if (order === "none" && target !== "key") order = "ascend";
  const filtered =
    !!req.minModRevision ||
    !!req.maxModRevision ||
    !!req.minCreateRevision ||
    !!req.maxCreateRevision;
  const keysOnly = !!req.keysOnly && target !== "value";
  const current = rev === state.revision;

  // Fast path: no sort, no filter, current revision: let LMDB count and stop at the limit.
  if (current && !filtered && (order === "none" || (order === "ascend" && target === "key"))) {
    const b = rangeBounds(req.key, req.rangeEnd);
    const count =
      b === null ? (req.key.length > 0 && dbs.kv.doesExist(req.key) ? 1 : 0) : dbs.kv.getCount(b);
    if (req.countOnly) return { kvs: [], more: false, count, revision: state.revision };
    const kvs = currentKvs(dbs, req.key, req.rangeEnd, keysOnly, limit > 0 ? limit + 1 : 0);
    const more = limit > 0 && kvs.length > limit;
    if (more) kvs.length = limit;
    return { kvs, more, count, revision: state.revision };
  }

  let kvs = current
    ? currentKvs(dbs, req.key, req.rangeEnd, keysOnly)
    : pastKvs(dbs, req, rev, keysOnly);
  const count = kvs.length;
  if (req.countOnly) return { kvs: [], more: false, count, revision: state.revision };
  if (filtered) {
    kvs = kvs.filter(
      (kv) =>
        !(req.minModRevision && kv.modRevision < req.minModRevision) &&
        !(req.maxModRevision && kv.modRevision > req.maxModRevision) &&
        !(req.minCreateRevision && kv.createRevision < req.minCreateRevision) &&
        !(req.maxCreateRevision && kv.createRevision > req.maxCreateRevision),
    );
  }
  if (order !== "none") {
    const sign = order === "descend" ? -1 : 1;
    // Stable sort over key-ordered input: ties stay in key order.
    kvs.sort((a, b) => {
      if (target === "key") return sign * compareBytes(a.key, b.key);
      if (target === "value") return sign * compareBytes(a.value, b.value);
      return sign * (sortValue(a, target) - sortValue(b, target));
    });
  }
  const more = limit > 0 && kvs.length > limit;
  if (more) kvs.length = limit;
  if (req.keysOnly && !keysOnly) for (const kv of kvs) kv.value = new Uint8Array(0);
  return { kvs, more, count, revision: state.revision };
}
