// The ledger's persisted tree: leaves and every complete subtree hash, in one LMDB database of
// the member's state environment, written inside the same transaction as the apply batch that
// produced them, so the ledger and the state can never disagree about what was applied.
// Appending costs O(log n) hashing (amortized two) and O(1) amortized puts; a proof for any
// index and size reads O(log n) stored nodes; memory holds only the O(log n) frontier.
//
//   [0x00][level u8][index u64 BE] -> 32-byte hash   complete subtree (level 0: leaf hash)
//   [0x01][index u64 BE]           -> leaf bytes     (leaf.ts)
//   [0x02][revision u64 BE]        -> index u64 BE   the leaf that created a store revision
//   [0x03]"size"                   -> u64 BE         leaves in the tree
import type { Database } from "lmdb";
import {
  consistencyProof,
  type EdgeHashes,
  hashLeaf,
  inclusionProof,
  MerkleAppender,
  type NewNode,
  type NodeHashes,
  rootHash,
} from "./merkle.ts";

export type LedgerDb = Database<Uint8Array, Uint8Array>;

const NODE = 0x00;
const LEAF = 0x01;
const REVISION = 0x02;
const SIZE_KEY = Uint8Array.of(0x03, ...new TextEncoder().encode("size"));

export class LedgerCorruptError extends Error {
  override name = "LedgerCorruptError";
}

export class LedgerTree {
  private appender: MerkleAppender;
  /** The size LMDB holds: what an aborted transaction falls back to. */
  private committedSize: number;
  private readonly nodeKey = Buffer.alloc(10);
  private readonly indexKey = Buffer.alloc(9);
  private readonly u64 = Buffer.alloc(8);
  private readonly newNodes: NewNode[] = [];
  /** Right-edge hashes of the last few sizes asked about (proofs cluster on recent sizes). */
  private readonly edges = new Map<number, EdgeHashes>();

  constructor(private db: LedgerDb) {
    this.committedSize = this.readSize();
    this.appender = MerkleAppender.resume(this.committedSize, this.nodes);
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
    this.rollback();
  }

  /** Appends a leaf; call inside the LMDB transaction of the apply batch. Returns its index. */
  append(leaf: Uint8Array, createdRevision: number | null): number {
    const index = this.appender.treeSize;
    this.newNodes.length = 0;
    this.appender.append(hashLeaf(leaf), this.newNodes);
    for (const node of this.newNodes) {
      this.db.putSync(this.nodeKeyOf(node.level, node.index), node.hash);
    }
    this.db.putSync(this.indexKeyOf(LEAF, index), leaf);
    if (createdRevision !== null) {
      this.db.putSync(this.indexKeyOf(REVISION, createdRevision), this.u64Of(index));
    }
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
    this.committedSize = this.readSize();
    this.appender = MerkleAppender.resume(this.committedSize, this.nodes);
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

  /** A stored subtree hash as it is on disk (no check): for audits of the store itself. */
  storedNode(level: number, index: number): Uint8Array | undefined {
    const value = this.db.getBinary(this.nodeKeyOf(level, index));
    return value === undefined ? undefined : Uint8Array.from(value);
  }

  leaf(index: number): Uint8Array | undefined {
    const value = this.db.getBinary(this.indexKeyOf(LEAF, index));
    return value === undefined ? undefined : Uint8Array.from(value);
  }

  /** Leaves [from, from + limit) that exist, in order. */
  *leaves(from: number, limit: number): Generator<{ index: number; leaf: Uint8Array }> {
    const start = Buffer.from(this.indexKeyOf(LEAF, from));
    const end = Uint8Array.of(LEAF + 1);
    for (const { key, value } of this.db.getRange({ start, end, limit })) {
      yield { index: Number(Buffer.from(key).readBigUInt64BE(1)), leaf: Uint8Array.from(value) };
    }
  }

  /** The leaf whose request created store revision `revision`. */
  leafIndexForRevision(revision: number): number | undefined {
    const value = this.db.getBinary(this.indexKeyOf(REVISION, revision));
    return value === undefined ? undefined : Number(Buffer.from(value).readBigUInt64BE(0));
  }

  private readonly nodes: NodeHashes = (level, index) => {
    const value = this.db.getBinary(this.nodeKeyOf(level, index));
    if (value === undefined || value.length !== 32) {
      throw new LedgerCorruptError(
        `ledger node (level ${level}, index ${index}) is missing from the member's state: ` +
          "the ledger database is damaged; run `qmesh ledger verify` on the data directory",
      );
    }
    // getBinary already returns a fresh copy: a plain view of it, no second copy.
    return new Uint8Array(value.buffer, value.byteOffset, value.length);
  };

  private readSize(): number {
    const value = this.db.getBinary(SIZE_KEY);
    return value === undefined ? 0 : Number(Buffer.from(value).readBigUInt64BE(0));
  }

  private checkSize(size: number): void {
    if (!Number.isSafeInteger(size) || size < 0 || size > this.committedSize) {
      throw new RangeError(`tree size ${size} is outside 0..${this.committedSize}`);
    }
  }

  private nodeKeyOf(level: number, index: number): Buffer {
    this.nodeKey[0] = NODE;
    this.nodeKey[1] = level;
    writeU64(this.nodeKey, index, 2);
    return this.nodeKey;
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
