import { decodeConfChange, isLeaveJoint } from "./confchange/index.ts";
import { invariant } from "./errors.ts";
import { jointCommittedIndex, jointVoteResult } from "./quorum/index.ts";
import type { Raft } from "./raft.ts";
import { MAX_PENDING_READS } from "./read_only.ts";
import {
  broadcastAppend,
  broadcastHeartbeat,
  maybeSendAppend,
  sendTimeoutNow,
} from "./replication.ts";
import { type Entry, EntryType, type Message, MessageType, NONE, type NodeId } from "./types.ts";
import { EMPTY_BYTES } from "./util.ts";

/** ReadIndex.index set to this: the requester accepts an answer from the leader's lease. */
export const READ_ACCEPTS_LEASE = 1;

export function stepLeader(raft: Raft, message: Message): void {
  switch (message.type) {
    case MessageType.Beat:
      broadcastHeartbeat(raft, null);
      return;
    case MessageType.Propose:
      handlePropose(raft, message);
      return;
    case MessageType.ReadIndex:
      handleReadIndex(raft, message);
      return;
    case MessageType.TransferLeader:
      handleTransferLeader(raft, message.from);
      return;
  }
  const progress = raft.tracker.progress.get(message.from);
  if (progress === undefined) return;
  switch (message.type) {
    case MessageType.AppendResponse:
      handleAppendResponse(raft, message);
      return;
    case MessageType.HeartbeatResponse:
      handleHeartbeatResponse(raft, message);
      return;
    case MessageType.SnapshotStatus:
      if (progress.state !== "snapshot") return;
      if (message.reject) progress.pendingSnapshot = 0;
      // Either way, probe again after the next heartbeat response.
      progress.becomeProbe();
      progress.msgAppFlowPaused = true;
      raft.snapshotSentTick.delete(message.from);
      return;
    case MessageType.Unreachable:
      if (progress.state === "replicate") progress.becomeProbe();
      return;
  }
}

function handlePropose(raft: Raft, message: Message): void {
  invariant(message.entries.length > 0, () => "empty proposal");
  if (!raft.tracker.progress.has(raft.id))
    raft.dropProposal("this member was removed from the cluster");
  if (raft.leadTransferee !== NONE) raft.dropProposal("leadership transfer in progress");
  const entries = filterConfChanges(raft, message);
  if (!raft.appendEntries(entries)) raft.dropProposal("too many uncommitted bytes; retry later");
  broadcastAppend(raft);
}

/**
 * Only one conf change may be pending at a time (etcd applies them at apply time). A refused
 * local proposal throws; a refused forwarded one becomes an empty entry, as in etcd.
 */
function filterConfChanges(raft: Raft, message: Message): readonly Entry[] {
  let entries = message.entries;
  for (let i = 0; i < entries.length; i++) {
    const entry = entries[i]!;
    if (entry.type !== EntryType.ConfChange) continue;
    const refusal = confChangeRefusal(raft, entry.data);
    if (refusal === null) {
      raft.pendingConfIndex = raft.log.lastIndex() + i + 1;
      continue;
    }
    if (message.from === raft.id) raft.dropProposal(refusal);
    if (entries === message.entries) entries = entries.slice();
    (entries as Entry[])[i] = { term: 0, index: 0, type: EntryType.Normal, data: EMPTY_BYTES };
  }
  return entries;
}

function confChangeRefusal(raft: Raft, data: Uint8Array): string | null {
  const change = decodeConfChange(data);
  const alreadyJoint = raft.tracker.isJoint();
  const wantsLeaveJoint = isLeaveJoint(change);
  if (raft.pendingConfIndex > raft.log.applied) {
    return `a conf change at index ${raft.pendingConfIndex} is not applied yet`;
  }
  if (alreadyJoint && !wantsLeaveJoint) return "the configuration is joint; leave it first";
  if (!alreadyJoint && wantsLeaveJoint) return "the configuration is not joint; nothing to leave";
  return null;
}

function handleReadIndex(raft: Raft, message: Message): void {
  if (raft.tracker.isSingleton()) {
    respondToRead(raft, message.from, message.context, raft.log.committed);
    return;
  }
  // Until this leader commits in its term its commit index may lag the true one (§6.4).
  if (!raft.committedEntryInCurrentTerm()) {
    if (raft.pendingReadIndexMessages.length < MAX_PENDING_READS) {
      raft.pendingReadIndexMessages.push(message);
    }
    return;
  }
  serveReadIndex(raft, message);
}

function serveReadIndex(raft: Raft, message: Message): void {
  const committed = raft.log.committed;
  if (message.index === READ_ACCEPTS_LEASE && raft.config.leaseReads && leaseIsValid(raft)) {
    respondToRead(raft, message.from, message.context, committed);
    return;
  }
  if (!raft.readOnly.add(committed, message.from, message.context)) return;
  raft.readOnly.recordAck(raft.id, message.context);
  broadcastHeartbeat(raft, message.context);
}

export function releasePendingReadIndexMessages(raft: Raft): void {
  if (raft.pendingReadIndexMessages.length === 0 || !raft.committedEntryInCurrentTerm()) return;
  const pending = raft.pendingReadIndexMessages;
  raft.pendingReadIndexMessages = [];
  for (const message of pending) serveReadIndex(raft, message);
}

function respondToRead(raft: Raft, to: NodeId, requestId: Uint8Array, index: number): void {
  if (to === raft.id || to === NONE) {
    raft.readStates.push({ index, requestId });
  } else {
    raft.send({ type: MessageType.ReadIndexResponse, to, index, context: requestId });
  }
}

/**
 * The lease holds while no other leader can exist: a quorum acknowledged a heartbeat we sent at
 * tick T, and each of them refuses to vote for an election timeout after receiving it (CheckQuorum's
 * in-lease rule), so none can elect another leader before T + electionTimeout on their clocks.
 * We stop short of that by the drift bound. A forced election (TimeoutNow) overrides those
 * refusals, so the lease is void once one was sent this term.
 */
export function leaseIsValid(raft: Raft): boolean {
  if (raft.timeoutNowSentThisTerm || raft.leadTransferee !== NONE) return false;
  const quorumAckTick = jointCommittedIndex(raft.tracker.config.voters, (id) =>
    id === raft.id ? raft.tickCount : (raft.leaseAckTick.get(id) ?? Number.NEGATIVE_INFINITY),
  );
  const leaseTicks = raft.config.electionTimeoutTicks - raft.config.maxClockDriftTicks;
  return raft.tickCount < quorumAckTick + leaseTicks;
}

function handleAppendResponse(raft: Raft, message: Message): void {
  const progress = raft.tracker.progress.get(message.from)!;
  progress.recentActive = true;
  if (message.reject) {
    let nextProbeIndex = message.rejectHint;
    if (message.logTerm > 0) {
      nextProbeIndex = raft.log.findConflictByTerm(message.rejectHint, message.logTerm).index;
    }
    if (progress.maybeDecrTo(message.index, nextProbeIndex)) {
      if (progress.state === "replicate") progress.becomeProbe();
      maybeSendAppend(raft, message.from, true);
    }
    return;
  }
  const wasPaused = progress.isPaused();
  const advanced = progress.maybeUpdate(message.index);
  if (!advanced && !(progress.match === message.index && progress.state === "probe")) return;
  if (progress.state === "probe") {
    progress.becomeReplicate();
  } else if (progress.state === "snapshot" && progress.match + 1 >= raft.log.firstIndex()) {
    progress.becomeProbe();
    progress.becomeReplicate();
    raft.snapshotSentTick.delete(message.from);
  } else if (progress.state === "replicate") {
    progress.inflights.freeLE(message.index);
  }
  if (raft.maybeCommit()) {
    releasePendingReadIndexMessages(raft);
    broadcastAppend(raft);
  } else if (message.from !== raft.id && wasPaused) {
    maybeSendAppend(raft, message.from, true);
  }
  if (message.from !== raft.id) {
    // Keep the pipeline full: send while the window has room and there is something to send.
    while (maybeSendAppend(raft, message.from, false)) {}
  }
  if (message.from === raft.leadTransferee && progress.match === raft.log.lastIndex()) {
    sendTimeoutNow(raft, message.from);
  }
}

function handleHeartbeatResponse(raft: Raft, message: Message): void {
  const progress = raft.tracker.progress.get(message.from)!;
  progress.recentActive = true;
  progress.msgAppFlowPaused = false;
  if (message.index <= raft.tickCount) {
    const previous = raft.leaseAckTick.get(message.from) ?? Number.NEGATIVE_INFINITY;
    if (message.index > previous) raft.leaseAckTick.set(message.from, message.index);
  }
  if (progress.match < raft.log.lastIndex() || progress.state === "probe") {
    maybeSendAppend(raft, message.from, true);
  }
  if (message.context.length === 0) return;
  const acks = raft.readOnly.recordAck(message.from, message.context);
  if (acks === undefined) return;
  const votes = new Map<NodeId, boolean>();
  for (const id of acks) votes.set(id, true);
  if (jointVoteResult(raft.tracker.config.voters, votes) !== "won") return;
  for (const read of raft.readOnly.release(message.context)) {
    respondToRead(raft, read.from, read.requestId, read.index);
  }
}

function handleTransferLeader(raft: Raft, transferee: NodeId): void {
  const progress = raft.tracker.progress.get(transferee);
  if (progress === undefined || progress.isLearner) return;
  if (raft.leadTransferee !== NONE) {
    if (raft.leadTransferee === transferee) return;
    raft.leadTransferee = NONE;
  }
  if (transferee === raft.id) return;
  // The transfer must finish within an election timeout or it is abandoned (see tick).
  raft.electionElapsedTicks = 0;
  raft.leadTransferee = transferee;
  if (progress.match === raft.log.lastIndex()) {
    sendTimeoutNow(raft, transferee);
  } else {
    maybeSendAppend(raft, transferee, true);
  }
}
