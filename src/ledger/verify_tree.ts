// Recomputes a stored ledger from its leaves alone: every leaf is re-hashed (and must match the
// hash stored with it) and re-appended to a fresh tree, and every subtree hash that appending
// produces must equal the stored one. A leaf,
// a node or the size changed behind the member's back shows up here, with the first index it
// touches. Streaming, so memory stays O(log n) whatever the size.
import { decodeLeaf, LeafDecodeError } from "./leaf.ts";
import { equalBytes, hashLeaf, MerkleAppender, type NewNode } from "./merkle.ts";
import { type LedgerTree, LOWEST_STORED_LEVEL } from "./tree_store.ts";

export interface TreeProblem {
  /** The first leaf index the problem concerns. */
  readonly index: number;
  readonly message: string;
}

export interface TreeVerification {
  readonly size: number;
  readonly root: Uint8Array;
  /** Empty when the stored tree is exactly what its leaves make. */
  readonly problems: TreeProblem[];
}

/** Stops collecting after this many problems: one is enough to fail, a few help to diagnose. */
const MAX_PROBLEMS = 20;

export function verifyStoredTree(
  tree: LedgerTree,
  onProgress?: (verified: number, size: number) => void,
): TreeVerification {
  const size = tree.committedTreeSize;
  const appender = MerkleAppender.empty();
  const problems: TreeProblem[] = [];
  const created: NewNode[] = [];
  let expected = 0;
  const page = 4096;
  while (expected < size && problems.length < MAX_PROBLEMS) {
    let got = 0;
    for (const { index, leaf, storedHash, storedNodes } of tree.leaves(
      expected,
      Math.min(page, size - expected),
    )) {
      got++;
      if (index !== expected) {
        problems.push({ index: expected, message: `leaf ${expected} is missing` });
        return { size, root: appender.root(), problems };
      }
      try {
        decodeLeaf(leaf);
      } catch (error) {
        if (!(error instanceof LeafDecodeError)) throw error;
        problems.push({ index, message: `leaf ${index}: ${error.message}` });
      }
      const leafHash = hashLeaf(leaf);
      if (!equalBytes(leafHash, storedHash)) {
        problems.push({
          index,
          message: `leaf ${index} does not match the hash stored with it: the leaf or its hash was changed`,
        });
      }
      created.length = 0;
      appender.append(leafHash, created);
      for (const node of created) {
        if (node.level < LOWEST_STORED_LEVEL) continue;
        const at = 32 * (node.level - LOWEST_STORED_LEVEL);
        const stored = storedNodes.subarray(at, at + 32);
        if (!equalBytes(stored, node.hash)) {
          const first = node.index * 2 ** node.level;
          problems.push({
            index: first,
            message: `the stored hash over leaves ${first}..${first + 2 ** node.level - 1} does not match them: a leaf or the hash was changed`,
          });
        }
      }
      expected++;
      if (problems.length >= MAX_PROBLEMS) break;
    }
    if (got === 0) {
      problems.push({
        index: expected,
        message: `leaf ${expected} is missing (size says ${size})`,
      });
      return { size, root: appender.root(), problems };
    }
    onProgress?.(expected, size);
  }
  for (const { index } of tree.leaves(size, 1)) {
    problems.push({ index, message: `leaf ${index} is stored past the tree's size ${size}` });
  }
  return { size, root: appender.root(), problems };
}
