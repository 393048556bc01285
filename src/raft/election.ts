import { CAMPAIGN_TRANSFER, type Raft } from "./raft.ts";
import { broadcastAppend } from "./replication.ts";
import { EntryType, type Message, MessageType } from "./types.ts";

export type CampaignKind = "pre-election" | "election" | "transfer";

/** Start an election (Hup), unless this member cannot or should not. */
export function hup(raft: Raft, kind: CampaignKind): void {
  if (raft.role === "leader") return;
  if (!raft.promotable()) {
    raft.config.logger?.warn(`${raft.id} is not promotable and will not campaign`);
    return;
  }
  if (hasUnappliedConfChange(raft)) {
    // Its outcome could make us ineligible; campaign once it is applied.
    raft.config.logger?.warn(`${raft.id} has an unapplied conf change and will not campaign yet`);
    return;
  }
  campaign(raft, kind);
}

function hasUnappliedConfChange(raft: Raft): boolean {
  const { applied, committed } = raft.log;
  if (applied >= committed) return false;
  const low = Math.max(applied + 1, raft.log.firstIndex());
  for (const entry of raft.log.slice(low, committed + 1, Number.POSITIVE_INFINITY)) {
    if (entry.type === EntryType.ConfChange) return true;
  }
  return false;
}

export function campaign(raft: Raft, kind: CampaignKind): void {
  let term: number;
  let voteType: Message["type"];
  if (kind === "pre-election") {
    raft.becomePreCandidate();
    voteType = MessageType.RequestPreVote;
    // Ask with the term we would have; our own term stays until the pre-vote is won.
    term = raft.term + 1;
  } else {
    raft.becomeCandidate();
    voteType = MessageType.RequestVote;
    term = raft.term;
  }
  const responseType =
    voteType === MessageType.RequestPreVote
      ? MessageType.RequestPreVoteResponse
      : MessageType.RequestVoteResponse;
  const lastIndex = raft.log.lastIndex();
  const lastTerm = raft.log.lastTerm();
  for (const id of raft.tracker.voterIds()) {
    if (id === raft.id) {
      // Our own vote counts once our new term and vote are durable (held until persisted).
      raft.send({ type: responseType, to: id, term });
      continue;
    }
    raft.send({
      type: voteType,
      to: id,
      term,
      index: lastIndex,
      logTerm: lastTerm,
      ...(kind === "transfer" ? { context: CAMPAIGN_TRANSFER } : {}),
    });
  }
}

/** Candidate or pre-candidate: count a vote response and act on the outcome. */
export function poll(raft: Raft, response: Message): void {
  raft.tracker.recordVote(response.from, !response.reject);
  const { result } = raft.tracker.tallyVotes();
  if (result === "won") {
    if (raft.role === "pre-candidate") {
      campaign(raft, "election");
    } else {
      raft.becomeLeader();
      broadcastAppend(raft);
    }
  } else if (result === "lost") {
    raft.becomeFollower(raft.term, 0);
  }
}

/** Any role: answer a RequestVote or RequestPreVote whose term is not older than ours. */
export function handleVoteRequest(raft: Raft, request: Message): void {
  const isPreVote = request.type === MessageType.RequestPreVote;
  const responseType = isPreVote
    ? MessageType.RequestPreVoteResponse
    : MessageType.RequestVoteResponse;
  const canVote =
    raft.vote === request.from ||
    (raft.vote === 0 && raft.leader === 0) ||
    (isPreVote && request.term > raft.term);
  const logOk =
    raft.config.testingKnobs.voteWithoutLogCheck === true ||
    raft.log.isUpToDate(request.index, request.logTerm);
  if (canVote && logOk) {
    // Answer with the request's term: a pre-vote is granted without adopting its term.
    raft.send({ type: responseType, to: request.from, term: request.term });
    if (!isPreVote) {
      raft.electionElapsedTicks = 0;
      raft.vote = request.from;
    }
  } else {
    raft.send({ type: responseType, to: request.from, term: raft.term, reject: true });
  }
}
