import { restoreConfState } from "./confchange/index.ts";
import { type RaftConfig, type ResolvedRaftConfig, resolveConfig } from "./config.ts";
import { invariant, ProposalDroppedError } from "./errors.ts";
import { RaftLog } from "./log.ts";
import { ReadOnlyQueue } from "./read_only.ts";
import { ProgressTracker } from "./tracker/index.ts";
import {
  BOOTSTRAP_TERM,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  NONE,
  type NodeId,
  type ReadState,
  type Role,
  type SoftState,
} from "./types.ts";
import { EMPTY_BYTES } from "./util.ts";

/** Context of vote requests sent because of a leadership transfer: they override leases. */
export const CAMPAIGN_TRANSFER = new Uint8Array([0x74, 0x72, 0x61, 0x6e, 0x73, 0x66, 0x65, 0x72]);

/** Builds a message with every field not given left at its zero value. */
export function message(fields: Partial<Message> & Pick<Message, "type" | "to">): Message {
  return {
    from: NONE,
    term: 0,
    logTerm: 0,
    index: 0,
    entries: [],
    commit: 0,
    snapshot: null,
    reject: false,
    rejectHint: 0,
    context: EMPTY_BYTES,
    ...fields,
  };
}

/**
 * The state of one member's Raft instance. Behaviour lives in the modules beside it
 * (step.ts dispatches; election.ts, replication.ts, leader.ts, follower.ts, membership.ts).
 * No I/O, no clock, no randomness but `config.random`.
 */
export class Raft {
  readonly id: NodeId;
  readonly config: ResolvedRaftConfig;
  readonly log: RaftLog;
  readonly tracker: ProgressTracker;

  term = 0;
  vote: NodeId = NONE;
  leader: NodeId = NONE;
  role: Role = "follower";
  isLearner = false;

  /** Ticks since start: the member's logical clock, used to date leases. */
  tickCount = 0;
  /** Follower/candidate: ticks since the leader was last heard from. Leader: since last quorum check. */
  electionElapsedTicks = 0;
  heartbeatElapsedTicks = 0;
  randomizedElectionTimeoutTicks = 0;
  /** With CheckQuorum, a restarted member may have promised a lease before crashing. */
  voteGuardUntilTick = 0;

  leadTransferee: NodeId = NONE;
  /** A TimeoutNow went out this term: a forced election may depose us at any time. */
  timeoutNowSentThisTerm = false;
  /** Index of the latest conf change in the log; another is refused until it is applied. */
  pendingConfIndex = 0;
  uncommittedBytes = 0;

  readOnly = new ReadOnlyQueue();
  /** ReadIndex requests received before this leader committed an entry of its term. */
  pendingReadIndexMessages: Message[] = [];
  /** Leader: the newest heartbeat send-tick each member acknowledged, this term. */
  readonly leaseAckTick = new Map<NodeId, number>();
  /** Leader: tick at which a snapshot was sent to each member, to retry one that was lost. */
  readonly snapshotSentTick = new Map<NodeId, number>();

  messages: Message[] = [];
  /** Messages that may only leave once the state they depend on is durable. */
  messagesAfterPersist: Message[] = [];
  readStates: ReadState[] = [];

  constructor(options: RaftConfig) {
    this.config = resolveConfig(options);
    this.id = this.config.id;
    const { hardState, confState } = this.config.storage.initialState();
    this.log = new RaftLog(this.config.storage, hardState.commit, this.config.appliedIndex);
    this.tracker = new ProgressTracker(
      this.config.maxInflightMessages,
      this.config.maxInflightBytes,
    );
    const restored = restoreConfState(
      confState,
      this.log.lastIndex(),
      this.config.maxInflightMessages,
      this.config.maxInflightBytes,
    );
    this.tracker.config = restored.config;
    this.tracker.progress = restored.progress;
    this.isLearner = this.tracker.progress.get(this.id)?.isLearner ?? false;
    if (hardState.term > 0) this.loadHardState(hardState);
    // Heartbeat acks wait for their term to be durable, so a member restarting above the
    // bootstrap term may have promised a leader not to vote: keep that promise.
    if (this.config.checkQuorum && hardState.term > BOOTSTRAP_TERM) {
      this.voteGuardUntilTick = this.config.electionTimeoutTicks;
    }
    this.becomeFollower(this.term, NONE);
  }

  private loadHardState(hardState: HardState): void {
    const lastIndex = this.log.lastIndex();
    invariant(
      hardState.commit <= lastIndex,
      () =>
        `hard state commit ${hardState.commit} is past the last index ${lastIndex}: the log lost committed entries`,
    );
    this.term = hardState.term;
    this.vote = hardState.vote;
    this.log.commitTo(hardState.commit);
  }

  hardState(): HardState {
    return { term: this.term, vote: this.vote, commit: this.log.committed };
  }

  softState(): SoftState {
    return { leader: this.leader, role: this.role };
  }

  send(fields: Partial<Message> & Pick<Message, "type" | "to">): void {
    // Forwarded proposals and reads carry no term (as in etcd): the leader takes them as local
    // requests whatever term the forwarder was in.
    const forwarded = fields.type === MessageType.Propose || fields.type === MessageType.ReadIndex;
    const outgoing = message({ from: this.id, term: forwarded ? 0 : this.term, ...fields });
    const type = outgoing.type;
    // Votes and acks speak for durable state; a heartbeat ack is a lease promise made in a term
    // that must survive a crash (see voteGuardUntilTick).
    const dependsOnPersist =
      type === MessageType.AppendResponse ||
      type === MessageType.HeartbeatResponse ||
      type === MessageType.RequestVoteResponse ||
      type === MessageType.RequestPreVoteResponse;
    // A pre-vote response or a vote request names a term we may not have stored; the term in
    // the message is the one the message is about, set explicitly by the sender.
    if (dependsOnPersist && !this.config.testingKnobs.respondBeforePersist) {
      this.messagesAfterPersist.push(outgoing);
    } else if (dependsOnPersist && outgoing.to === this.id) {
      this.messagesAfterPersist.push(outgoing);
    } else {
      this.messages.push(outgoing);
    }
  }

  /** Can this member become leader: a voter, not removed, no snapshot being installed. */
  promotable(): boolean {
    const progress = this.tracker.progress.get(this.id);
    return progress !== undefined && !progress.isLearner && this.log.unstable.snapshot === null;
  }

  /**
   * With CheckQuorum, a member that heard from a leader within the election timeout refuses to
   * vote for anyone else: that is the promise that makes the leader's lease sound.
   */
  inLease(): boolean {
    if (!this.config.checkQuorum) return false;
    if (this.tickCount < this.voteGuardUntilTick) return true;
    return this.leader !== NONE && this.electionElapsedTicks < this.config.electionTimeoutTicks;
  }

  resetRandomizedElectionTimeout(): void {
    const base = this.config.electionTimeoutTicks;
    this.randomizedElectionTimeoutTicks = base + this.config.random.nextInt(base);
  }

  reset(term: number): void {
    if (this.term !== term) {
      invariant(term > this.term, () => `term going backwards from ${this.term} to ${term}`);
      this.term = term;
      this.vote = NONE;
    }
    this.leader = NONE;
    this.electionElapsedTicks = 0;
    this.heartbeatElapsedTicks = 0;
    this.resetRandomizedElectionTimeout();
    this.leadTransferee = NONE;
    this.timeoutNowSentThisTerm = false;
    this.tracker.resetVotes();
    const nextIndex = this.log.lastIndex() + 1;
    this.tracker.visit((id, progress) => {
      progress.becomeProbe();
      progress.match = 0;
      progress.next = nextIndex;
      progress.recentActive = id === this.id;
    });
    this.pendingConfIndex = 0;
    this.uncommittedBytes = 0;
    this.readOnly = new ReadOnlyQueue();
    this.pendingReadIndexMessages = [];
    this.leaseAckTick.clear();
    this.snapshotSentTick.clear();
  }

  becomeFollower(term: number, leader: NodeId): void {
    this.reset(term);
    this.leader = leader;
    this.role = "follower";
    this.config.logger?.debug(`${this.id} became follower at term ${term}, leader ${leader}`);
  }

  becomePreCandidate(): void {
    invariant(this.role !== "leader", () => "leader cannot become pre-candidate");
    // A pre-candidate changes neither term nor vote: its campaign may never happen.
    this.tracker.resetVotes();
    this.leader = NONE;
    this.role = "pre-candidate";
  }

  becomeCandidate(): void {
    invariant(this.role !== "leader", () => "leader cannot become candidate");
    this.reset(this.term + 1);
    this.vote = this.id;
    this.role = "candidate";
  }

  becomeLeader(): void {
    invariant(this.role === "candidate", () => `${this.role} cannot become leader`);
    this.reset(this.term);
    this.leader = this.id;
    this.role = "leader";
    this.tracker.progress.get(this.id)?.becomeReplicate();
    // Conservative: any conf change still unapplied in our log counts as pending.
    this.pendingConfIndex = this.log.lastIndex();
    // The no-op lets this leader commit (and so learn) everything before its term.
    const appended = this.appendEntries([
      { term: 0, index: 0, type: EntryType.Normal, data: EMPTY_BYTES },
    ]);
    invariant(appended, () => "a new leader must be able to append its no-op entry");
    this.config.logger?.info(`${this.id} became leader at term ${this.term}`);
  }

  /**
   * Leader: assigns term and index to proposed entries and appends them. Returns false if the
   * uncommitted-bytes limit refuses them. Our own acknowledgement is counted only once they
   * are durable: the self AppendResponse is held until the Ready is persisted.
   */
  appendEntries(proposed: readonly Entry[]): boolean {
    let bytes = 0;
    for (const entry of proposed) bytes += entry.data.length;
    if (!this.increaseUncommittedBytes(bytes)) return false;
    let index = this.log.lastIndex();
    const entries: Entry[] = new Array(proposed.length);
    for (let i = 0; i < proposed.length; i++) {
      const entry = proposed[i]!;
      entries[i] = { term: this.term, index: ++index, type: entry.type, data: entry.data };
    }
    const lastIndex = this.log.append(entries);
    this.send({ type: MessageType.AppendResponse, to: this.id, index: lastIndex });
    return true;
  }

  private increaseUncommittedBytes(bytes: number): boolean {
    const limit = this.config.maxUncommittedEntriesBytes;
    if (
      limit > 0 &&
      this.uncommittedBytes > 0 &&
      bytes > 0 &&
      this.uncommittedBytes + bytes > limit
    ) {
      return false;
    }
    this.uncommittedBytes += bytes;
    return true;
  }

  reduceUncommittedBytes(entries: readonly Entry[]): void {
    if (this.role !== "leader") return;
    let bytes = 0;
    for (const entry of entries) bytes += entry.data.length;
    this.uncommittedBytes = Math.max(0, this.uncommittedBytes - bytes);
  }

  /** Leader: advance commit to what a (joint) quorum has durable, if of the current term. */
  maybeCommit(): boolean {
    const quorumIndex = this.tracker.committed();
    if (this.config.testingKnobs.commitEntriesOfEarlierTerms) {
      const lastIndex = this.log.lastIndex();
      const target = Math.min(quorumIndex, lastIndex);
      if (target > this.log.committed) {
        this.log.commitTo(target);
        return true;
      }
      return false;
    }
    return this.log.maybeCommit(quorumIndex, this.term);
  }

  committedEntryInCurrentTerm(): boolean {
    return this.log.termOrZero(this.log.committed) === this.term;
  }

  dropProposal(reason: string): never {
    throw new ProposalDroppedError(reason);
  }
}
