import { hup, poll } from "./election.ts";
import { restoreSnapshot } from "./membership.ts";
import type { Raft } from "./raft.ts";
import { type Message, MessageType, NONE } from "./types.ts";

export function stepFollower(raft: Raft, message: Message): void {
  switch (message.type) {
    case MessageType.Propose:
      if (raft.leader === NONE) raft.dropProposal("no leader is known");
      if (raft.config.disableProposalForwarding)
        raft.dropProposal("proposal forwarding is disabled");
      raft.send({ type: MessageType.Propose, to: raft.leader, entries: message.entries });
      return;
    case MessageType.Append:
    case MessageType.Heartbeat:
    case MessageType.InstallSnapshot:
      raft.electionElapsedTicks = 0;
      raft.leader = message.from;
      handleLeaderMessage(raft, message);
      return;
    case MessageType.TransferLeader:
      if (raft.leader === NONE) return;
      raft.send({ type: MessageType.TransferLeader, to: raft.leader, from: message.from });
      return;
    case MessageType.TimeoutNow:
      // The leader chose us: campaign at once, overriding other members' leases.
      hup(raft, "transfer");
      return;
    case MessageType.ReadIndex:
      if (raft.leader === NONE) return; // the caller's read times out and is retried
      raft.send({
        type: MessageType.ReadIndex,
        to: raft.leader,
        index: message.index,
        context: message.context,
      });
      return;
    case MessageType.ReadIndexResponse:
      raft.readStates.push({ index: message.index, requestId: message.context });
      return;
  }
}

/** Pre-candidate and candidate. */
export function stepCandidate(raft: Raft, message: Message): void {
  const ownResponseType =
    raft.role === "pre-candidate"
      ? MessageType.RequestPreVoteResponse
      : MessageType.RequestVoteResponse;
  switch (message.type) {
    case MessageType.Propose:
      raft.dropProposal("an election is in progress");
      return;
    case MessageType.Append:
    case MessageType.Heartbeat:
    case MessageType.InstallSnapshot:
      // A leader of our term (or later) exists: follow it.
      raft.becomeFollower(message.term, message.from);
      handleLeaderMessage(raft, message);
      return;
    case ownResponseType:
      poll(raft, message);
      return;
  }
}

function handleLeaderMessage(raft: Raft, message: Message): void {
  if (message.type === MessageType.Append) handleAppend(raft, message);
  else if (message.type === MessageType.Heartbeat) handleHeartbeat(raft, message);
  else handleSnapshot(raft, message);
}

function handleAppend(raft: Raft, message: Message): void {
  const log = raft.log;
  if (message.index < log.committed) {
    raft.send({ type: MessageType.AppendResponse, to: message.from, index: log.committed });
    return;
  }
  const lastNewIndex = log.maybeAppend(
    message.index,
    message.logTerm,
    message.commit,
    message.entries,
  );
  if (lastNewIndex !== undefined) {
    raft.send({ type: MessageType.AppendResponse, to: message.from, index: lastNewIndex });
    return;
  }
  // Reject with a hint: our last index at or below theirs whose term is at most theirs, so the
  // leader can skip every entry of a term we cannot match (fast backtracking).
  const hintIndex = Math.min(message.index, log.lastIndex());
  const hint = log.findConflictByTerm(hintIndex, message.logTerm);
  raft.send({
    type: MessageType.AppendResponse,
    to: message.from,
    index: message.index,
    reject: true,
    rejectHint: hint.index,
    logTerm: hint.term,
  });
}

function handleHeartbeat(raft: Raft, message: Message): void {
  raft.log.commitTo(message.commit);
  raft.send({
    type: MessageType.HeartbeatResponse,
    to: message.from,
    index: message.index,
    context: message.context,
  });
}

function handleSnapshot(raft: Raft, message: Message): void {
  const snapshot = message.snapshot;
  if (snapshot === null) return;
  if (restoreSnapshot(raft, snapshot)) {
    raft.send({ type: MessageType.AppendResponse, to: message.from, index: raft.log.lastIndex() });
  } else {
    raft.send({ type: MessageType.AppendResponse, to: message.from, index: raft.log.committed });
  }
}
