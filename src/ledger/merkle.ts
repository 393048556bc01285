// RFC 9162's Merkle tree (section 2.1): SHA-256, 0x00 before a leaf, 0x01 before two children,
// and a tree of n leaves split at the largest power of two below n. Roots, inclusion proofs
// and consistency proofs are computed from the hashes of complete subtrees, which the log
// stores as it appends (see MerkleAppender), so nothing is rebuilt to answer for any size.
// The verifiers need nothing but the proof: they run in Node and in browsers alike.
import { sha256 } from "@noble/hashes/sha2.js";

export const HASH_BYTES = 32;

/** The root of the empty tree: SHA-256 of nothing. */
export const EMPTY_ROOT: Uint8Array = sha256(new Uint8Array(0));

/**
 * The hash of the complete subtree at `level` (0: a leaf hash) whose leftmost leaf is
 * `index << level`. Only subtrees that are complete at the size asked about are requested.
 */
export type NodeHashes = (level: number, index: number) => Uint8Array;

export function hashLeaf(leaf: Uint8Array): Uint8Array {
  const input = new Uint8Array(1 + leaf.length);
  input[0] = 0x00;
  input.set(leaf, 1);
  return sha256(input);
}

export function hashChildren(left: Uint8Array, right: Uint8Array): Uint8Array {
  const input = new Uint8Array(1 + 2 * HASH_BYTES);
  input[0] = 0x01;
  input.set(left, 1);
  input.set(right, 1 + HASH_BYTES);
  return sha256(input);
}

/** The two hashes a tree is made of; the default is noble's (pure, runs anywhere). */
export interface TreeHasher {
  leaf(leaf: Uint8Array): Uint8Array;
  children(left: Uint8Array, right: Uint8Array): Uint8Array;
}

export const PURE_HASHER: TreeHasher = { leaf: hashLeaf, children: hashChildren };

/** The largest power of two strictly below n (n ≥ 2): RFC 9162's split point k. */
function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/**
 * Hashes of the incomplete subtrees of one tree size, by their first leaf: in a tree of n
 * leaves every incomplete subtree ends at n, so one map per size is enough. Proofs for the same
 * size share them instead of re-hashing the tree's right edge every time.
 */
export type EdgeHashes = Map<number, Uint8Array>;

/** MTH(D[start:end]) from stored complete subtrees. */
export function subtreeHash(
  nodes: NodeHashes,
  start: number,
  end: number,
  edge?: EdgeHashes,
): Uint8Array {
  const width = end - start;
  if (width <= 0) return EMPTY_ROOT;
  // A complete, aligned subtree is stored whole.
  // (Not width & (width - 1): bitwise operators truncate to 32 bits, and logs outgrow that.)
  const level = Math.log2(width);
  if (Number.isInteger(level) && start % width === 0) return nodes(level, start / width);
  const known = edge?.get(start);
  if (known !== undefined) return known;
  const k = split(width);
  const hash = hashChildren(
    subtreeHash(nodes, start, start + k, edge),
    subtreeHash(nodes, start + k, end, edge),
  );
  edge?.set(start, hash);
  return hash;
}

export function rootHash(nodes: NodeHashes, size: number, edge?: EdgeHashes): Uint8Array {
  return subtreeHash(nodes, 0, size, edge);
}

function checkRange(what: string, value: number, low: number, high: number): void {
  if (!Number.isSafeInteger(value) || value < low || value > high) {
    throw new RangeError(`${what} ${value} is outside ${low}..${high}`);
  }
}

/** PATH(index, D[size]): the audit path, leaf side first (RFC 9162 2.1.3.1). */
export function inclusionProof(
  nodes: NodeHashes,
  index: number,
  size: number,
  edge?: EdgeHashes,
): Uint8Array[] {
  checkRange("leaf index", index, 0, size - 1);
  const proof: Uint8Array[] = [];
  let start = 0;
  let end = size;
  // Walk down from the root, collecting each sibling; the proof lists them bottom-up.
  while (end - start > 1) {
    const k = split(end - start);
    if (index < start + k) {
      proof.push(subtreeHash(nodes, start + k, end, edge));
      end = start + k;
    } else {
      proof.push(subtreeHash(nodes, start, start + k, edge));
      start += k;
    }
  }
  return proof.reverse();
}

/** PROOF(oldSize, D[newSize]) (RFC 9162 2.1.4.1); empty when oldSize is 0 or equal. */
export function consistencyProof(
  nodes: NodeHashes,
  oldSize: number,
  newSize: number,
  edge?: EdgeHashes,
): Uint8Array[] {
  checkRange("old size", oldSize, 0, newSize);
  if (oldSize === 0 || oldSize === newSize) return [];
  const proof: Uint8Array[] = [];
  let start = 0;
  let end = newSize;
  let m = oldSize;
  let complete = true;
  while (m !== end - start) {
    const k = split(end - start);
    if (m <= k) {
      proof.push(subtreeHash(nodes, start + k, end, edge));
      end = start + k;
    } else {
      proof.push(subtreeHash(nodes, start, start + k, edge));
      start += k;
      m -= k;
      complete = false;
    }
  }
  if (!complete) proof.push(subtreeHash(nodes, start, end, edge));
  return proof.reverse();
}

/** Byte equality in time independent of where the first difference is. */
export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let difference = 0;
  for (let i = 0; i < a.length; i++) difference |= a[i]! ^ b[i]!;
  return difference === 0;
}

/** The root an audit path leads to (RFC 9162 2.1.3.2), or null if the path cannot be right. */
export function rootFromInclusionProof(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
): Uint8Array | null {
  if (!Number.isSafeInteger(index) || !Number.isSafeInteger(size) || index < 0 || index >= size) {
    return null;
  }
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (p.length !== HASH_BYTES || sn === 0) return null;
    if (fn % 2 === 1 || fn === sn) {
      r = hashChildren(p, r);
      if (fn % 2 === 0) {
        while (fn % 2 === 0 && fn !== 0) {
          fn = Math.floor(fn / 2);
          sn = Math.floor(sn / 2);
        }
      }
    } else {
      r = hashChildren(r, p);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 ? r : null;
}

export function verifyInclusion(
  leafHash: Uint8Array,
  index: number,
  size: number,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  const computed = rootFromInclusionProof(leafHash, index, size, proof);
  return computed !== null && equalBytes(computed, root);
}

/** RFC 9162 2.1.4.2: does `proof` show the tree of newSize extends the tree of oldSize? */
export function verifyConsistency(
  oldSize: number,
  newSize: number,
  proof: readonly Uint8Array[],
  oldRoot: Uint8Array,
  newRoot: Uint8Array,
): boolean {
  if (!Number.isSafeInteger(oldSize) || !Number.isSafeInteger(newSize)) return false;
  if (oldSize < 0 || oldSize > newSize) return false;
  if (oldSize === newSize) return proof.length === 0 && equalBytes(oldRoot, newRoot);
  if (oldSize === 0) return proof.length === 0;
  if (proof.length === 0 || proof.some((p) => p.length !== HASH_BYTES)) return false;
  const path = [...proof];
  // A power-of-two old tree is itself a node of the new one: it heads the path.
  if (Number.isInteger(Math.log2(oldSize))) path.unshift(oldRoot);
  let fn = oldSize - 1;
  let sn = newSize - 1;
  while (fn % 2 === 1) {
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (const c of path.slice(1)) {
    if (sn === 0) return false;
    if (fn % 2 === 1 || fn === sn) {
      fr = hashChildren(c, fr);
      sr = hashChildren(c, sr);
      while (fn % 2 === 0 && fn !== 0) {
        fn = Math.floor(fn / 2);
        sn = Math.floor(sn / 2);
      }
    } else {
      sr = hashChildren(sr, c);
    }
    fn = Math.floor(fn / 2);
    sn = Math.floor(sn / 2);
  }
  return sn === 0 && equalBytes(fr, oldRoot) && equalBytes(sr, newRoot);
}

/** A complete subtree that an append finished: store it under (level, index). */
export interface NewNode {
  readonly level: number;
  readonly index: number;
  readonly hash: Uint8Array;
}

/**
 * Appending leaves: each leaf completes its own node at level 0 and, whenever it fills a right
 * child, the parent above it — O(log n) hashes per leaf, amortized two. `frontier` holds the
 * hashes of the complete left subtrees still waiting for a right sibling (one per set bit of
 * the size), so an appender restarts from the stored nodes without reading the whole log.
 */
export class MerkleAppender {
  private constructor(
    private size: number,
    private readonly frontier: Uint8Array[],
    private readonly hasher: TreeHasher,
  ) {}

  static empty(hasher: TreeHasher = PURE_HASHER): MerkleAppender {
    return new MerkleAppender(0, [], hasher);
  }

  /** Resumes at `size` leaves, fetching the frontier's nodes from storage. */
  static resume(size: number, nodes: NodeHashes, hasher: TreeHasher = PURE_HASHER): MerkleAppender {
    const frontier: Uint8Array[] = [];
    let start = 0;
    for (let level = 52; level >= 0; level--) {
      const width = 2 ** level;
      if (size - start >= width) {
        frontier.push(nodes(level, start / width));
        start += width;
      }
    }
    return new MerkleAppender(size, frontier, hasher);
  }

  get treeSize(): number {
    return this.size;
  }

  append(leafHash: Uint8Array, out: NewNode[] = []): NewNode[] {
    let hash = leafHash;
    let index = this.size;
    let level = 0;
    out.push({ level, index, hash });
    // Every trailing 1 bit of the old size is a left sibling that this leaf now completes.
    while (index % 2 === 1) {
      hash = this.hasher.children(this.frontier.pop()!, hash);
      index = Math.floor(index / 2);
      level++;
      out.push({ level, index, hash });
    }
    this.frontier.push(hash);
    this.size++;
    return out;
  }

  /** The current root, from the frontier alone. */
  root(): Uint8Array {
    if (this.frontier.length === 0) return EMPTY_ROOT;
    let hash = this.frontier[this.frontier.length - 1]!;
    for (let i = this.frontier.length - 2; i >= 0; i--)
      hash = this.hasher.children(this.frontier[i]!, hash);
    return hash;
  }
}
