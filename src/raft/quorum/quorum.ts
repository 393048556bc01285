// Majority and joint-majority decisions (etcd's quorum package). Everything that needs "a
// quorum agrees" — the commit index, elections, CheckQuorum, lease reads — goes through here,
// so that joint consensus (Raft thesis §4.3) is handled in one place.
import type { NodeId } from "../types.ts";

export type VoteResult = "pending" | "lost" | "won";

/** [incoming, outgoing]. Outside a joint configuration, `outgoing` is empty. */
export type JointVoters = readonly [incoming: ReadonlySet<NodeId>, outgoing: ReadonlySet<NodeId>];

/**
 * Scratch space for majorityCommittedIndex: this runs on every append response, so it reuses
 * one array rather than allocating. Safe because the function never calls itself.
 */
const scratchAckedIndexes: number[] = [];

/**
 * The highest index acked by a majority of `voters`. An empty voter set yields +Infinity, so
 * that the minimum over a joint configuration is decided by the non-empty half alone. A voter
 * for which `ackedIndex` returns undefined counts as having acked 0.
 */
export function majorityCommittedIndex(
  voters: ReadonlySet<NodeId>,
  ackedIndex: (id: NodeId) => number | undefined,
): number {
  const voterCount = voters.size;
  if (voterCount === 0) return Number.POSITIVE_INFINITY;
  const sorted = scratchAckedIndexes;
  let filled = 0;
  for (const id of voters) {
    insertSorted(sorted, filled, ackedIndex(id) ?? 0);
    filled++;
  }
  // Ascending order: the value at this position and every one above it (a majority) are at
  // least it, while any larger value is acked by fewer than a majority.
  const majorityPosition = voterCount - (Math.floor(voterCount / 2) + 1);
  return sorted[majorityPosition]!;
}

/** Insertion sort step: voter sets are small, and this avoids a comparator-driven sort. */
function insertSorted(sorted: number[], filled: number, value: number): void {
  let position = filled;
  while (position > 0 && sorted[position - 1]! > value) {
    sorted[position] = sorted[position - 1]!;
    position--;
  }
  sorted[position] = value;
}

/**
 * Whether `voters` elected the candidate. Voters absent from `votes` have not answered yet; an
 * empty voter set wins (the convention that makes a joint result depend on the other half).
 */
export function majorityVoteResult(
  voters: ReadonlySet<NodeId>,
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  if (voters.size === 0) return "won";
  let granted = 0;
  let missing = 0;
  for (const id of voters) {
    const vote = votes.get(id);
    if (vote === undefined) missing++;
    else if (vote) granted++;
  }
  const quorumSize = Math.floor(voters.size / 2) + 1;
  if (granted >= quorumSize) return "won";
  if (granted + missing >= quorumSize) return "pending";
  return "lost";
}

/** An index is committed in a joint configuration only once both halves committed it. */
export function jointCommittedIndex(
  voters: JointVoters,
  ackedIndex: (id: NodeId) => number | undefined,
): number {
  const incoming = majorityCommittedIndex(voters[0], ackedIndex);
  const outgoing = majorityCommittedIndex(voters[1], ackedIndex);
  return Math.min(incoming, outgoing);
}

/** Winning needs both halves; losing either half loses. */
export function jointVoteResult(
  voters: JointVoters,
  votes: ReadonlyMap<NodeId, boolean>,
): VoteResult {
  const incoming = majorityVoteResult(voters[0], votes);
  const outgoing = majorityVoteResult(voters[1], votes);
  if (incoming === outgoing) return incoming;
  if (incoming === "lost" || outgoing === "lost") return "lost";
  return "pending";
}
