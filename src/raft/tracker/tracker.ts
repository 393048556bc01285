// The leader's (or candidate's) view of the whole membership: who votes, who learns, how far
// each has replicated, and the votes of the current election (etcd's ProgressTracker).
import {
  type JointVoters,
  jointCommittedIndex,
  jointVoteResult,
  type VoteResult,
} from "../quorum/index.ts";
import type { ConfState, NodeId } from "../types.ts";
import type { Progress } from "./progress.ts";

export interface TrackerConfig {
  /** [incoming, outgoing]; outgoing is empty unless the configuration is joint. */
  readonly voters: JointVoters;
  readonly learners: ReadonlySet<NodeId>;
  /** Outgoing voters that become learners when the joint configuration is left. */
  readonly learnersNext: ReadonlySet<NodeId>;
  readonly autoLeave: boolean;
}

export type ProgressMap = Map<NodeId, Progress>;

export const EMPTY_TRACKER_CONFIG: TrackerConfig = {
  voters: [new Set(), new Set()],
  learners: new Set(),
  learnersNext: new Set(),
  autoLeave: false,
};

export function sortedIds(ids: Iterable<NodeId>): NodeId[] {
  return [...ids].sort((a, b) => a - b);
}

/** e.g. "voters=(1 2)&&(1) learners=(3) learners_next=() autoleave", for traces and tests. */
export function formatTrackerConfig(config: TrackerConfig): string {
  const list = (ids: ReadonlySet<NodeId>) => `(${sortedIds(ids).join(" ")})`;
  const [incoming, outgoing] = config.voters;
  let text = `voters=${list(incoming)}`;
  if (outgoing.size > 0) text += `&&${list(outgoing)}`;
  text += ` learners=${list(config.learners)} learners_next=${list(config.learnersNext)}`;
  if (config.autoLeave) text += " autoleave";
  return text;
}

export class ProgressTracker {
  config: TrackerConfig = EMPTY_TRACKER_CONFIG;
  progress: ProgressMap = new Map();
  readonly votes = new Map<NodeId, boolean>();

  constructor(
    readonly maxInflightMessages: number,
    readonly maxInflightBytes: number,
  ) {}

  confState(): ConfState {
    const [incoming, outgoing] = this.config.voters;
    return {
      voters: sortedIds(incoming),
      votersOutgoing: sortedIds(outgoing),
      learners: sortedIds(this.config.learners),
      learnersNext: sortedIds(this.config.learnersNext),
      autoLeave: this.config.autoLeave,
    };
  }

  /** A lone voter decides alone: it commits and wins elections without messages. */
  isSingleton(): boolean {
    const [incoming, outgoing] = this.config.voters;
    return incoming.size === 1 && outgoing.size === 0;
  }

  isJoint(): boolean {
    return this.config.voters[1].size > 0;
  }

  isVoter(id: NodeId): boolean {
    const [incoming, outgoing] = this.config.voters;
    return incoming.has(id) || outgoing.has(id);
  }

  /** The highest index durable on a (joint) quorum; +Infinity when there are no voters. */
  committed(): number {
    return jointCommittedIndex(this.config.voters, (id) => this.progress.get(id)?.match);
  }

  /** Every member, learners included, in ascending id order (for deterministic messages). */
  visit(fn: (id: NodeId, progress: Progress) => void): void {
    for (const id of sortedIds(this.progress.keys())) {
      const progress = this.progress.get(id);
      // `fn` may remove members; those not yet visited are skipped.
      if (progress !== undefined) fn(id, progress);
    }
  }

  /** Whether a quorum has been heard from since the last CheckQuorum. */
  quorumActive(): boolean {
    const active = new Map<NodeId, boolean>();
    for (const [id, progress] of this.progress) {
      if (!progress.isLearner) active.set(id, progress.recentActive);
    }
    return jointVoteResult(this.config.voters, active) === "won";
  }

  voterIds(): NodeId[] {
    const [incoming, outgoing] = this.config.voters;
    return sortedIds(new Set([...incoming, ...outgoing]));
  }

  learnerIds(): NodeId[] {
    return sortedIds(this.config.learners);
  }

  resetVotes(): void {
    this.votes.clear();
  }

  /** The first answer of a member counts: a duplicate (retransmitted) response cannot flip it. */
  recordVote(id: NodeId, granted: boolean): void {
    if (!this.votes.has(id)) this.votes.set(id, granted);
  }

  tallyVotes(): { granted: number; rejected: number; result: VoteResult } {
    let granted = 0;
    let rejected = 0;
    for (const id of this.voterIds()) {
      const vote = this.votes.get(id);
      if (vote === true) granted++;
      else if (vote === false) rejected++;
    }
    return { granted, rejected, result: jointVoteResult(this.config.voters, this.votes) };
  }
}
