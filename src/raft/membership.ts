import {
  ConfChanger,
  type ConfigAndProgress,
  enterJointOf,
  isLeaveJoint,
  restoreConfState,
} from "./confchange/index.ts";
import { invariant } from "./errors.ts";
import { releasePendingReadIndexMessages } from "./leader.ts";
import type { Raft } from "./raft.ts";
import { broadcastAppend, maybeSendAppend } from "./replication.ts";
import { type ConfChange, type ConfState, NONE, type Snapshot } from "./types.ts";

/** Applies a committed conf change (called by the caller when it applies that entry). */
export function applyConfChange(raft: Raft, change: ConfChange): ConfState {
  const changer = new ConfChanger(raft.tracker, raft.log.lastIndex());
  let next: ConfigAndProgress;
  if (isLeaveJoint(change)) {
    next = changer.leaveJoint();
  } else {
    const { enter, autoLeave } = enterJointOf(change);
    next = enter ? changer.enterJoint(autoLeave, change.changes) : changer.simple(change.changes);
  }
  return switchToConfig(raft, next);
}

export function switchToConfig(raft: Raft, next: ConfigAndProgress): ConfState {
  raft.tracker.config = next.config;
  raft.tracker.progress = next.progress;
  const own = raft.tracker.progress.get(raft.id);
  raft.isLearner = own?.isLearner ?? false;
  const confState = raft.tracker.confState();
  if ((own === undefined || raft.isLearner) && raft.role === "leader") {
    // Removed or demoted: step down so that the remaining voters elect one of their own.
    raft.becomeFollower(raft.term, NONE);
    return confState;
  }
  if (raft.role !== "leader" || confState.voters.length === 0) return confState;
  // The quorum changed: the commit index may move, and new members need entries.
  if (raft.maybeCommit()) {
    releasePendingReadIndexMessages(raft);
    broadcastAppend(raft);
  } else {
    raft.tracker.visit((id) => {
      if (id !== raft.id) maybeSendAppend(raft, id, false);
    });
  }
  if (raft.leadTransferee !== NONE && !raft.tracker.isVoter(raft.leadTransferee)) {
    raft.leadTransferee = NONE;
  }
  return confState;
}

/**
 * Follower: installs a leader's snapshot unless our log already covers it. Returns whether it
 * was installed (the caller persists it from the next Ready).
 */
export function restoreSnapshot(raft: Raft, snapshot: Snapshot): boolean {
  const { index, term } = snapshot.metadata;
  if (index <= raft.log.committed) return false;
  // The caller is applying entries from the last Ready (conf changes among them): a snapshot
  // now would change the configuration under them. Ignore it; the leader sends it again.
  if (raft.log.applying > raft.log.applied) return false;
  invariant(raft.role === "follower", () => `${raft.role} asked to install a snapshot`);
  if (raft.log.matchTerm(index, term)) {
    // We have the entry: the snapshot only tells us it is committed.
    raft.log.commitTo(index);
    return false;
  }
  raft.log.restore(snapshot);
  const restored = restoreConfState(
    snapshot.metadata.confState,
    raft.log.lastIndex(),
    raft.tracker.maxInflightMessages,
    raft.tracker.maxInflightBytes,
  );
  switchToConfig(raft, restored);
  return true;
}
