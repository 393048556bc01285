// The LMDB layout of one MvccStore: one environment (`<dir>/data.mdb`), seven named databases,
// binary keys and binary values everywhere (no msgpack: byte-exact and deterministic).
//
//   meta      [0x00]"appliedIndex" | [0x00]"revision" | [0x00]"compactRevision" -> u64 BE
//             [0x01]utf8(name) -> caller's bytes (ApplyItem.meta, getMeta)
//   rev       mainRev u64 BE ++ subRev u32 BE -> record    history, like etcd's bbolt "key" bucket
//   kv        user key -> record of the live revision        absent when deleted; serves current reads
//   hist      user key -> dupSort values: mainRev ++ subRev   every uncompacted revision of the key,
//             (12 bytes, sorted bytewise = by revision)      answers reads at past revisions
//   lease     lease id u64 BE -> granted ttl seconds u64 BE
//   leasekey  lease id u64 BE ++ user key -> empty          keys attached to the lease
//   auth      users, roles, permissions, enabled flag        see auth_store.ts
//
// record = [flags u8: 1 = tombstone][createRev u64][modRev u64][version u64][lease u64]
//          [keyLen u32][key][value]
//
// Everything an apply batch changes, including appliedIndex, commits in one LMDB txn.
import { type Database, open, type RootDatabase, type TransactionFlags } from "lmdb";
import { copyBytes, readU32, readU64, u64Bytes, writeU32, writeU64 } from "./bytes.ts";
import type { KeyValue } from "./types.ts";

export type Bin = Database<Uint8Array, Uint8Array>;

export interface Dbs {
  env: RootDatabase<Uint8Array, Uint8Array>;
  meta: Bin;
  rev: Bin;
  kv: Bin;
  hist: Bin;
  lease: Bin;
  leasekey: Bin;
  auth: Bin;
}

/** SYNCHRONOUS_COMMIT | NO_SYNC_FLUSH: commit now (visible, survives kill -9 in the page cache),
 * fsync later in sync(). The Raft WAL is what makes entries durable until then. */
export const TXN_FLAGS = 0x10002 as TransactionFlags;

export function openDbs(path: string, mapSizeBytes: number | undefined): Dbs {
  const noSubdir = path.endsWith(".mdb");
  const env = open<Uint8Array, Uint8Array>({
    path,
    noSubdir,
    maxDbs: 16, // seven here, the rest for sideDatabase()
    keyEncoding: "binary",
    encoding: "binary",
    // overlappingSync makes every commit wait on the previous flush (~0.4 ms each here);
    // per-txn NO_SYNC_FLUSH + explicit env sync gives the WAL-backed contract we need.
    overlappingSync: false,
    ...(mapSizeBytes === undefined ? {} : { mapSize: mapSizeBytes }),
  });
  const sub = (name: string, dupSort = false): Bin =>
    env.openDB<Uint8Array, Uint8Array>({
      name,
      keyEncoding: "binary",
      encoding: "binary",
      dupSort,
    });
  return {
    env,
    meta: sub("meta"),
    rev: sub("rev"),
    kv: sub("kv"),
    hist: sub("hist", true),
    lease: sub("lease"),
    leasekey: sub("leasekey"),
    auth: sub("auth"),
  };
}

const enc = new TextEncoder();
export const META_APPLIED = Uint8Array.of(0, ...enc.encode("appliedIndex"));
export const META_REVISION = Uint8Array.of(0, ...enc.encode("revision"));
export const META_COMPACT = Uint8Array.of(0, ...enc.encode("compactRevision"));

export function userMetaKey(name: string): Uint8Array {
  return Uint8Array.of(1, ...enc.encode(name));
}

export function readMetaNumber(dbs: Dbs, key: Uint8Array, fallback: number): number {
  const v = dbs.meta.get(key);
  return v === undefined ? fallback : readU64(v, 0);
}

export function writeMetaNumber(dbs: Dbs, key: Uint8Array, n: number): void {
  dbs.meta.putSync(key, u64Bytes(n));
}

export function revKey(main: number, sub: number): Uint8Array {
  const b = new Uint8Array(12);
  writeU64(b, 0, main);
  writeU32(b, 8, sub);
  return b;
}

export function revMain(revKeyBytes: Uint8Array): number {
  return readU64(revKeyBytes, 0);
}

const HEADER = 1 + 8 * 4 + 4;

export function encodeRecord(kv: KeyValue, tombstone: boolean): Uint8Array {
  const b = new Uint8Array(HEADER + kv.key.length + kv.value.length);
  b[0] = tombstone ? 1 : 0;
  writeU64(b, 1, kv.createRevision);
  writeU64(b, 9, kv.modRevision);
  writeU64(b, 17, kv.version);
  writeU64(b, 25, kv.lease);
  writeU32(b, 33, kv.key.length);
  b.set(kv.key, HEADER);
  b.set(kv.value, HEADER + kv.key.length);
  return b;
}

export interface DecodedRecord {
  kv: KeyValue;
  tombstone: boolean;
}

export function decodeRecord(b: Uint8Array, keysOnly = false): DecodedRecord {
  const keyLen = readU32(b, 33);
  const key = copyBytes(b, HEADER, HEADER + keyLen);
  return {
    tombstone: b[0] === 1,
    kv: {
      key,
      value: keysOnly ? new Uint8Array(0) : copyBytes(b, HEADER + keyLen),
      createRevision: readU64(b, 1),
      modRevision: readU64(b, 9),
      version: readU64(b, 17),
      lease: readU64(b, 25),
    },
  };
}

export function isTombstoneRecord(b: Uint8Array): boolean {
  return b[0] === 1;
}

export function leaseKeyOf(id: number, key: Uint8Array): Uint8Array {
  const b = new Uint8Array(8 + key.length);
  writeU64(b, 0, id);
  b.set(key, 8);
  return b;
}

/** Attached keys of a lease, in key order. */
export function leaseKeys(dbs: Dbs, id: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const k of dbs.leasekey.getKeys({ start: u64Bytes(id), end: u64Bytes(id + 1) })) {
    out.push(copyBytes(k, 8));
  }
  return out;
}

export function leaseTtl(dbs: Dbs, id: number): number | undefined {
  const v = dbs.lease.get(u64Bytes(id));
  return v === undefined ? undefined : readU64(v, 0);
}

export function leaseIds(dbs: Dbs): number[] {
  const out: number[] = [];
  for (const k of dbs.lease.getKeys()) out.push(readU64(k, 0));
  return out;
}
