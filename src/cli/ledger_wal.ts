// The WAL checked against the ledger, for `qmesh ledger verify`: every entry still in a stopped
// member's WAL that the member applied must be what its ledger leaf recorded (term, proposer and
// request). A record changed with its CRC recomputed passes the WAL's own checks, but no longer
// matches the leaf that was written, and signed into checkpoints, when it was applied.

import type { LedgerTree } from "../ledger/index.ts";
import { decodeLeaf, LeafKind } from "../ledger/index.ts";
import { decodeProposal, ProposalDecodeError } from "../node/proposal.ts";
import { type Entry, EntryType } from "../raft/index.ts";
import { replayWal } from "../storage/index.ts";

const quiet = { info: () => {}, warn: () => {} };

export interface WalCheck {
  readonly entries: number;
  readonly problems: string[];
}

/** `appliedIndex`: entries after it were never applied, so they have no leaf yet. */
export async function checkWalAgainstLedger(
  walDir: string,
  tree: LedgerTree,
  appliedIndex: number,
): Promise<WalCheck> {
  // Replaying zeroes a torn last record, exactly as the member itself does when it starts.
  const { recovery } = await replayWal(walDir, quiet);
  const applied = recovery.entries.filter((e) => e.index <= appliedIndex && e.data.length > 0);
  const problems: string[] = [];
  const first = applied[0];
  if (first === undefined) return { entries: 0, problems };
  const byIndex = new Map<number, Entry>(applied.map((e) => [e.index, e]));
  const seen = new Set<number>();
  // Leaves are in raft-index order: start at the first leaf at or after the WAL's first entry.
  for (const { index: leafIndex, leaf } of tree.leaves(
    firstLeafAtOrAfter(tree, first.index),
    tree.committedTreeSize,
  )) {
    const decoded = decodeLeaf(leaf);
    const entry = byIndex.get(decoded.index);
    if (entry === undefined) continue;
    seen.add(entry.index);
    const problem = compare(entry, decoded);
    if (problem !== null) {
      problems.push(
        `WAL entry ${entry.index} (term ${entry.term}) is not what ledger leaf ${leafIndex} recorded: ` +
          `${problem}; the WAL was changed after the entry was applied`,
      );
    }
  }
  for (const entry of applied) {
    if (!seen.has(entry.index)) {
      problems.push(`WAL entry ${entry.index} was applied but has no ledger leaf`);
    }
  }
  return { entries: applied.length, problems };
}

function compare(entry: Entry, leaf: ReturnType<typeof decodeLeaf>): string | null {
  if (entry.term !== leaf.term) return `term ${entry.term} against ${leaf.term}`;
  let request: Uint8Array;
  let proposer = 0;
  if (entry.type === EntryType.ConfChange) {
    if (leaf.kind !== LeafKind.Membership) return "a membership change against another kind";
    request = entry.data;
  } else {
    try {
      const proposal = decodeProposal(entry.data);
      request = proposal.payload;
      proposer = proposal.proposer;
    } catch (error) {
      if (!(error instanceof ProposalDecodeError)) throw error;
      return `the entry no longer decodes (${error.message})`;
    }
  }
  if (proposer !== leaf.proposer) return `proposer ${proposer} against ${leaf.proposer}`;
  if (Buffer.compare(Buffer.from(request), Buffer.from(leaf.request)) !== 0) {
    return "the request bytes differ";
  }
  return null;
}

/** Binary search: leaves are in raft-index order. */
function firstLeafAtOrAfter(tree: LedgerTree, raftIndex: number): number {
  let low = 0;
  let high = tree.committedTreeSize;
  while (low < high) {
    const middle = Math.floor((low + high) / 2);
    if (decodeLeaf(tree.leaf(middle)!).index < raftIndex) low = middle + 1;
    else high = middle;
  }
  return low;
}
