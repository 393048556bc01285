// The ledger's persisted tree: one record per leaf, in one LMDB database of the member's state
// environment, written inside the same transaction as the apply batch that produced it, so the
// ledger and the state can never disagree about what was applied.
//
//   [0x01][index u64 BE] -> leaf hash ++ hashes of the subtrees this leaf completed, level 2 up
//                           (one per trailing 1 bit of the index past the first) ++ leaf bytes
//   [0x03]"size"         -> u64 BE   leaves in the tree
//   [0x03]"format"       -> u8 3
//
// A subtree hash lives in the record of the leaf that completed it, the subtree's last leaf, so
// appending is one put per leaf and every put lands at the right edge of one key range: an apply
// batch dirties the same few LMDB pages whatever the tree's height (keyed by level, the subtree
// hashes cost a page per level per commit). Levels 0 and 1 are not stored apart: the leaf hash
// is in the record, and a level-1 node is one hash of two of them when a proof needs it.
// Appending costs O(log n) hashing (amortized two); a proof reads O(log n) records; memory holds
// only the O(log n) frontier and a bounded cache of upper subtrees.
//
// Revisions are not indexed: leaves carry the store revision after them, which never decreases
// along the log, so the leaf that created a revision is found by binary search.
import { hash } from "node:crypto";
import type { Database } from "lmdb";
import {
  consistencyProof,
  type EdgeHashes,
  inclusionProof,
  MerkleAppender,
  type NewNode,
  type NodeHashes,
  rootHash,
  type TreeHasher,
} from "./merkle.ts";

/**
 * The same RFC 9162 hashes as merkle.ts, by node:crypto: the member appends a leaf per write and
 * a proof hashes four times. The prefix and the input are laid out in one reused buffer, so a
 * hash allocates nothing but its digest.
 */
class NativeHasher implements TreeHasher {
  private scratch = Buffer.allocUnsafe(4096);

  leaf(leaf: Uint8Array): Uint8Array {
    const length = leaf.length + 1;
    if (length > this.scratch.length) this.scratch = Buffer.allocUnsafe(2 * length);
    this.scratch[0] = 0x00;
    this.scratch.set(leaf, 1);
    return digest(this.scratch.subarray(0, length));
  }

  children(left: Uint8Array, right: Uint8Array): Uint8Array {
    this.scratch[0] = 0x01;
    this.scratch.set(left, 1);
    this.scratch.set(right, 33);
    return digest(this.scratch.subarray(0, 65));
  }
}

function digest(input: Buffer): Uint8Array {
  const out = hash("sha256", input, "buffer");
  return new Uint8Array(out.buffer, out.byteOffset, out.length);
}

/** The member's hasher: node:crypto through one reused buffer (not for the browser build). */
export const NATIVE_HASHER: TreeHasher = new NativeHasher();

export type LedgerDb = Database<Uint8Array, Uint8Array>;

const LEAF = 0x01;
/** Levels below this are not stored apart from the leaf hash (a level-1 node is one hash). */
export const LOWEST_STORED_LEVEL = 2;
const CACHED_FROM_LEVEL = 2;
const CACHED_PER_LEVEL = 16_384;
/** Where a leaf keeps its raft index and the store revision after it (see leaf.ts). */
const LEAF_RAFT_INDEX_OFFSET = 2;
const LEAF_REVISION_OFFSET = 26;
const SIZE_KEY = Uint8Array.of(0x03, ...new TextEncoder().encode("size"));
const FORMAT_KEY = Uint8Array.of(0x03, ...new TextEncoder().encode("format"));
const FORMAT = 3;
/** Leaf records start with the leaf's hash. */
const HASH_BYTES = 32;

/** Subtree hashes stored in leaf `index`'s record: the levels >= 2 it completed. */
export function storedNodesOf(index: number): number {
  let ones = 0;
  while (index % 2 === 1) {
    index = (index - 1) / 2;
    ones++;
  }
  return Math.max(0, ones - 1);
}

/** Where leaf `index`'s bytes start in its record. */
function leafOffset(index: number): number {
  return HASH_BYTES * (1 + storedNodesOf(index));
}

export class LedgerCorruptError extends Error {
  override name = "LedgerCorruptError";
}

export class LedgerTree {
  private appender: MerkleAppender;
  /** The size LMDB holds: what an aborted transaction falls back to. */
  private committedSize: number;
  private readonly indexKey = Buffer.alloc(9);
  private readonly u64 = Buffer.alloc(8);
  private readonly newNodes: NewNode[] = [];
  /** Right-edge hashes of the last few sizes asked about (proofs cluster on recent sizes). */
  private readonly edges = new Map<number, EdgeHashes>();
  /**
   * Stored nodes read before, per level from CACHED_FROM_LEVEL up: complete subtrees never
   * change, and every proof passes through the few upper ones. Each level holds at most
   * CACHED_PER_LEVEL and starts over when full, so memory stays bounded at any size.
   */
  private readonly cached: Map<number, Uint8Array>[] = [];

  /** Where a leaf record (hash ++ leaf) is laid out before it is put: no allocation per leaf. */
  private record = Buffer.allocUnsafe(4096);

  constructor(private db: LedgerDb) {
    this.committedSize = this.readSize();
    this.checkFormat();
    this.appender = MerkleAppender.resume(this.committedSize, this.nodes, NATIVE_HASHER);
  }

  /** The size that committed: what proofs and roots are served for. */
  get committedTreeSize(): number {
    return this.committedSize;
  }

  /** The tree size, including leaves appended in a transaction not yet committed. */
  get size(): number {
    return this.appender.treeSize;
  }

  /** After the environment was reopened (a snapshot was installed): resume from what it holds. */
  rebind(db: LedgerDb): void {
    this.db = db;
    this.checkFormat();
    this.rollback();
  }

  /** Appends a leaf; call inside the LMDB transaction of the apply batch. Returns its index. */
  append(leaf: Uint8Array): number {
    const index = this.appender.treeSize;
    this.newNodes.length = 0;
    const leafHash = NATIVE_HASHER.leaf(leaf);
    this.appender.append(leafHash, this.newNodes);
    // newNodes: the leaf, then one subtree per level it completed, from level 1 up.
    const stored = Math.max(0, this.newNodes.length - LOWEST_STORED_LEVEL);
    const at = HASH_BYTES * (1 + stored);
    const length = at + leaf.length;
    if (length > this.record.length) this.record = Buffer.allocUnsafe(2 * length);
    this.record.set(leafHash, 0);
    for (let i = 0; i < stored; i++) {
      this.record.set(this.newNodes[LOWEST_STORED_LEVEL + i]!.hash, HASH_BYTES * (1 + i));
    }
    this.record.set(leaf, at);
    this.db.putSync(this.indexKeyOf(LEAF, index), this.record.subarray(0, length));
    if (index === 0) this.db.putSync(FORMAT_KEY, Uint8Array.of(FORMAT));
    return index;
  }

  /** Records the size; call at the end of the transaction in which leaves were appended. */
  finish(): void {
    if (this.appender.treeSize !== this.committedSize) {
      this.db.putSync(SIZE_KEY, this.u64Of(this.appender.treeSize));
    }
  }

  /** The transaction committed. */
  committed(): void {
    this.committedSize = this.appender.treeSize;
  }

  /** The transaction was aborted (or the store replaced): forget what it appended. */
  rollback(): void {
    // A new environment (a snapshot installed) may hold another history for the same sizes.
    this.edges.clear();
    this.cached.length = 0;
    this.committedSize = this.readSize();
    this.appender = MerkleAppender.resume(this.committedSize, this.nodes, NATIVE_HASHER);
  }

  /** The root over every leaf appended so far, including those of the open transaction. */
  appendedRoot(): Uint8Array {
    return this.appender.root();
  }

  root(size = this.committedSize): Uint8Array {
    this.checkSize(size);
    return size === this.appender.treeSize
      ? this.appender.root()
      : rootHash(this.nodes, size, this.edgeOf(size));
  }

  inclusionProof(index: number, size = this.committedSize): Uint8Array[] {
    this.checkSize(size);
    return inclusionProof(this.nodes, index, size, this.edgeOf(size));
  }

  consistencyProof(oldSize: number, newSize = this.committedSize): Uint8Array[] {
    this.checkSize(newSize);
    return consistencyProof(this.nodes, oldSize, newSize, this.edgeOf(newSize));
  }

  private edgeOf(size: number): EdgeHashes {
    let edge = this.edges.get(size);
    if (edge === undefined) {
      if (this.edges.size >= 8) this.edges.delete(this.edges.keys().next().value!);
      edge = new Map();
      this.edges.set(size, edge);
    }
    return edge;
  }

  /** A stored subtree hash as it is on disk (no check), level >= 2: for audits of the store. */
  storedNode(level: number, index: number): Uint8Array | undefined {
    const stored = this.readNode(level, index);
    return stored === undefined ? undefined : Uint8Array.from(stored);
  }

  leaf(index: number): Uint8Array | undefined {
    const value = this.db.getBinary(this.indexKeyOf(LEAF, index));
    if (value === undefined) return undefined;
    const at = leafOffset(index);
    if (value.length < at) throw this.shortRecord(index);
    // getBinary returns a copy already: a view of it, not a second copy.
    return new Uint8Array(value.buffer, value.byteOffset + at, value.length - at);
  }

  /**
   * Leaves [from, from + limit) that exist, in order, with the hashes stored beside each: its own
   * and those of the subtrees it completed (level 2 up, see storedNodesOf).
   */
  *leaves(
    from: number,
    limit: number,
  ): Generator<{
    index: number;
    leaf: Uint8Array;
    storedHash: Uint8Array;
    storedNodes: Uint8Array;
  }> {
    const start = Buffer.from(this.indexKeyOf(LEAF, from));
    const end = Uint8Array.of(LEAF + 1);
    for (const { key, value } of this.db.getRange({ start, end, limit })) {
      const index = Number(Buffer.from(key).readBigUInt64BE(1));
      const at = leafOffset(index);
      if (value.length < at) throw this.shortRecord(index);
      const record = Uint8Array.from(value);
      yield {
        index,
        leaf: record.subarray(at),
        storedHash: record.subarray(0, HASH_BYTES),
        storedNodes: record.subarray(HASH_BYTES, at),
      };
    }
  }

  /** The leaf whose request created store revision `revision` (binary search, O(log n) reads). */
  leafIndexForRevision(revision: number): number | undefined {
    return this.findLeaf(LEAF_REVISION_OFFSET, revision);
  }

  /** The leaf of raft entry `raftIndex`, if that entry made one (binary search). */
  leafIndexForRaftIndex(raftIndex: number): number | undefined {
    return this.findLeaf(LEAF_RAFT_INDEX_OFFSET, raftIndex);
  }

  /** The first leaf whose u64 at `offset` is `value`; the field must never decrease along the log. */
  private findLeaf(offset: number, value: number): number | undefined {
    let low = 0;
    let high = this.committedSize;
    while (low < high) {
      const middle = Math.floor((low + high) / 2);
      if (this.leafField(middle, offset) < value) low = middle + 1;
      else high = middle;
    }
    if (low === this.committedSize || this.leafField(low, offset) !== value) return undefined;
    return low;
  }

  private leafField(index: number, offset: number): number {
    const record = this.db.getBinaryFast(this.indexKeyOf(LEAF, index));
    const at = leafOffset(index) + offset;
    if (record === undefined || record.length < at + 8) {
      throw new LedgerCorruptError(`ledger leaf ${index} is missing or cut short`);
    }
    return record.readUInt32BE(at) * 0x1_0000_0000 + record.readUInt32BE(at + 4);
  }

  private readonly nodes: NodeHashes = (level, index) => {
    if (level === 0) {
      // The hash stored with the leaf; getBinaryFast's buffer is reused by the next read.
      const record = this.db.getBinaryFast(this.indexKeyOf(LEAF, index));
      if (record === undefined) throw this.missing(0, index);
      if (record.length < HASH_BYTES) throw this.shortRecord(index);
      const hash = new Uint8Array(HASH_BYTES);
      hash.set(record.subarray(0, HASH_BYTES));
      return hash;
    }
    if (level === 1) {
      return NATIVE_HASHER.children(this.nodes(0, 2 * index), this.nodes(0, 2 * index + 1));
    }
    const cache = level >= CACHED_FROM_LEVEL ? (this.cached[level] ??= new Map()) : undefined;
    const known = cache?.get(index);
    if (known !== undefined) return known;
    const stored = this.readNode(level, index);
    if (stored === undefined) throw this.missing(level, index);
    const value = new Uint8Array(32);
    value.set(stored);
    if (cache !== undefined) {
      if (cache.size >= CACHED_PER_LEVEL) cache.clear();
      cache.set(index, value);
    }
    return value;
  };

  /**
   * Subtree (level >= 2, index) from the record of its last leaf, as a view of getBinaryFast's
   * buffer (reused by the next read): copy it before reading again.
   */
  private readNode(level: number, index: number): Uint8Array | undefined {
    const last = (index + 1) * 2 ** level - 1;
    const record = this.db.getBinaryFast(this.indexKeyOf(LEAF, last));
    const at = HASH_BYTES * (level - 1);
    if (record === undefined || record.length < at + HASH_BYTES) return undefined;
    return record.subarray(at, at + HASH_BYTES);
  }

  private shortRecord(index: number): LedgerCorruptError {
    return new LedgerCorruptError(
      `ledger leaf ${index} is cut short: the ledger database is damaged; run \`qmesh ledger verify\` on the data directory`,
    );
  }

  /** A ledger written before leaf records carried their hash cannot be read as one that does. */
  private checkFormat(): void {
    const format = this.db.getBinary(FORMAT_KEY);
    if (this.readSize() > 0 && (format === undefined || format[0] !== FORMAT)) {
      throw new LedgerCorruptError(
        `this member's ledger was written by an older qmesh (ledger format ${format?.[0] ?? 1}, ` +
          `this build reads ${FORMAT}): start it with the build that wrote it, or replace the ` +
          "member with a fresh data directory",
      );
    }
  }

  private missing(level: number, index: number): LedgerCorruptError {
    return new LedgerCorruptError(
      `ledger ${level === 0 ? "leaf" : "node"} (level ${level}, index ${index}) is missing from ` +
        "the member's state: the ledger database is damaged; run `qmesh ledger verify` on the " +
        "data directory",
    );
  }

  private readSize(): number {
    const value = this.db.getBinary(SIZE_KEY);
    return value === undefined ? 0 : Number(Buffer.from(value).readBigUInt64BE(0));
  }

  private checkSize(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.committedSize) {
      throw new RangeError(`tree size ${size} is outside 0..${this.committedSize}`);
    }
  }

  private indexKeyOf(prefix: number, index: number): Buffer {
    this.indexKey[0] = prefix;
    writeU64(this.indexKey, index, 1);
    return this.indexKey;
  }

  private u64Of(value: number): Buffer {
    writeU64(this.u64, value, 0);
    return this.u64;
  }
}

/** Big-endian u64 of a safe integer, without a BigInt per key (this runs on every lookup). */
function writeU64(into: Buffer, value: number, at: number): void {
  into.writeUInt32BE(Math.floor(value / 0x1_0000_0000), at);
  into.writeUInt32BE(value >>> 0, at + 4);
}
