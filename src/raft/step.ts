import { handleVoteRequest, hup } from "./election.ts";
import { stepCandidate, stepFollower } from "./follower.ts";
import { stepLeader } from "./leader.ts";
import type { Raft } from "./raft.ts";
import { CAMPAIGN_TRANSFER, message } from "./raft.ts";
import { type Message, MessageType, NONE } from "./types.ts";
import { bytesEqual } from "./util.ts";

/** The single entry point for every input to the core: network and local messages alike. */
export function step(raft: Raft, message: Message): void {
  if (message.term > raft.term) {
    if (!stepHigherTerm(raft, message)) return;
  } else if (message.term < raft.term && message.term !== 0) {
    stepLowerTerm(raft, message);
    return;
  }
  switch (message.type) {
    case MessageType.Hup:
      hup(raft, raft.config.preVote ? "pre-election" : "election");
      return;
    case MessageType.RequestVote:
    case MessageType.RequestPreVote:
      handleVoteRequest(raft, message);
      return;
  }
  if (raft.role === "leader") stepLeader(raft, message);
  else if (raft.role === "follower") stepFollower(raft, message);
  else stepCandidate(raft, message);
}

/** Returns false when the message is to be ignored. */
function stepHigherTerm(raft: Raft, message: Message): boolean {
  const isVoteRequest =
    message.type === MessageType.RequestVote || message.type === MessageType.RequestPreVote;
  if (isVoteRequest) {
    const forced = bytesEqual(message.context, CAMPAIGN_TRANSFER);
    // Keep the promise that backs the current leader's lease (and CheckQuorum's stability).
    if (!forced && raft.inLease()) return false;
  }
  if (message.type === MessageType.RequestPreVote) return true;
  if (message.type === MessageType.RequestPreVoteResponse && !message.reject) {
    // The term is the one we would campaign in; adopt it only if we win the election proper.
    return true;
  }
  const fromLeader =
    message.type === MessageType.Append ||
    message.type === MessageType.Heartbeat ||
    message.type === MessageType.InstallSnapshot;
  raft.becomeFollower(message.term, fromLeader ? message.from : NONE);
  return true;
}

function stepLowerTerm(raft: Raft, message: Message): void {
  const fromStaleLeader =
    message.type === MessageType.Append || message.type === MessageType.Heartbeat;
  if ((raft.config.checkQuorum || raft.config.preVote) && fromStaleLeader) {
    // Tell a partitioned old leader our term, so it steps down instead of waiting forever
    // (with CheckQuorum/PreVote our term does not otherwise reach it).
    raft.send({ type: MessageType.AppendResponse, to: message.from });
  } else if (message.type === MessageType.RequestPreVote) {
    raft.send({ type: MessageType.RequestPreVoteResponse, to: message.from, reject: true });
  }
}

export function tick(raft: Raft): void {
  raft.tickCount++;
  if (raft.role === "leader") tickLeader(raft);
  else tickElection(raft);
}

function tickElection(raft: Raft): void {
  raft.electionElapsedTicks++;
  if (raft.promotable() && raft.electionElapsedTicks >= raft.randomizedElectionTimeoutTicks) {
    raft.electionElapsedTicks = 0;
    step(raft, localMessage(raft, MessageType.Hup));
  }
}

function tickLeader(raft: Raft): void {
  raft.heartbeatElapsedTicks++;
  raft.electionElapsedTicks++;
  if (raft.electionElapsedTicks >= raft.config.electionTimeoutTicks) {
    raft.electionElapsedTicks = 0;
    if (raft.config.checkQuorum) checkQuorum(raft);
    if (raft.role === "leader" && raft.leadTransferee !== NONE) raft.leadTransferee = NONE;
  }
  if (raft.role !== "leader") return;
  retryLostSnapshots(raft);
  if (raft.heartbeatElapsedTicks >= raft.config.heartbeatIntervalTicks) {
    raft.heartbeatElapsedTicks = 0;
    step(raft, localMessage(raft, MessageType.Beat));
  }
}

/** A leader that has not heard from a quorum within an election timeout steps down. */
function checkQuorum(raft: Raft): void {
  if (!raft.tracker.quorumActive()) {
    raft.config.logger?.warn(`${raft.id} lost its quorum and steps down`);
    raft.becomeFollower(raft.term, NONE);
    return;
  }
  raft.tracker.visit((id, progress) => {
    if (id !== raft.id) progress.recentActive = false;
  });
}

/** A snapshot that got no answer within two election timeouts was probably lost: probe again. */
function retryLostSnapshots(raft: Raft): void {
  if (raft.snapshotSentTick.size === 0) return;
  const limitTicks = 2 * raft.config.electionTimeoutTicks;
  for (const [id, sentTick] of raft.snapshotSentTick) {
    const progress = raft.tracker.progress.get(id);
    if (progress === undefined || progress.state !== "snapshot") {
      raft.snapshotSentTick.delete(id);
    } else if (raft.tickCount - sentTick >= limitTicks) {
      progress.becomeProbe();
      raft.snapshotSentTick.delete(id);
    }
  }
}

export function localMessage(raft: Raft, type: Message["type"]): Message {
  return message({ type, to: raft.id, from: raft.id });
}
