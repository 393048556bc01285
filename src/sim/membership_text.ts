// Membership helpers for the simulator: who is in a configuration, and short descriptions of
// configurations and changes for the trace.
import type { ConfChange, ConfState, NodeId } from "../raft/index.ts";
import { ConfChangeType } from "../raft/index.ts";

const CHANGE_NAMES: Record<number, string> = {
  [ConfChangeType.AddNode]: "add",
  [ConfChangeType.RemoveNode]: "remove",
  [ConfChangeType.AddLearnerNode]: "add-learner",
};

/** In any role: voter (incoming or outgoing) or learner (now or after the joint config). */
export function confIncludes(confState: ConfState, id: NodeId): boolean {
  return (
    confState.voters.includes(id) ||
    confState.votersOutgoing.includes(id) ||
    confState.learners.includes(id) ||
    confState.learnersNext.includes(id)
  );
}

export function describeConf(confState: ConfState): string {
  const parts = [`voters [${confState.voters.join(",")}]`];
  if (confState.votersOutgoing.length > 0)
    parts.push(`outgoing [${confState.votersOutgoing.join(",")}]`);
  if (confState.learners.length > 0) parts.push(`learners [${confState.learners.join(",")}]`);
  if (confState.learnersNext.length > 0)
    parts.push(`learnersNext [${confState.learnersNext.join(",")}]`);
  return parts.join(" ");
}

/** "add 4, remove 2"; an empty change leaves the joint configuration. */
export function describeConfChange(change: ConfChange): string {
  if (change.changes.length === 0) return "leave joint";
  return change.changes.map((single) => `${CHANGE_NAMES[single.type]} ${single.nodeId}`).join(", ");
}
