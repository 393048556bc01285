import { encodeConfChange } from "./confchange/index.ts";
import type { RaftConfig } from "./config.ts";
import { invariant, ProposalDroppedError } from "./errors.ts";
import { READ_ACCEPTS_LEASE } from "./leader.ts";
import { applyConfChange } from "./membership.ts";
import { Raft } from "./raft.ts";
import { localMessage, step, tick } from "./step.ts";
import type { ProgressState } from "./tracker/index.ts";
import {
  type ConfChange,
  type ConfState,
  type Entry,
  EntryType,
  type HardState,
  type Message,
  MessageType,
  type NodeId,
  type Ready,
  type SnapshotStatus,
  type SoftState,
} from "./types.ts";
import { EMPTY_BYTES } from "./util.ts";

export interface ProgressStatus {
  readonly match: number;
  readonly next: number;
  readonly state: ProgressState;
  readonly isLearner: boolean;
}

export interface RaftStatus {
  readonly id: NodeId;
  readonly hardState: HardState;
  readonly softState: SoftState;
  readonly appliedIndex: number;
  readonly commitIndex: number;
  readonly lastIndex: number;
  readonly confState: ConfState;
  readonly leadTransferee: NodeId;
  /** Leader only: what it knows of each member's log. */
  readonly progress: ReadonlyMap<NodeId, ProgressStatus>;
}

/** Inputs that only the caller's own calls produce; never accepted from the network. */
const LOCAL_MESSAGE_TYPES: ReadonlySet<number> = new Set([
  MessageType.Hup,
  MessageType.Beat,
  MessageType.Unreachable,
  MessageType.SnapshotStatus,
  MessageType.CheckQuorum,
]);

/** What a Ready handed out, so that advance() acknowledges exactly that and nothing newer. */
interface ReadyReceipt {
  readonly lastEntry: { index: number; term: number } | null;
  readonly snapshotIndex: number;
  readonly lastCommittedIndex: number;
  readonly committedEntries: readonly Entry[];
  readonly hardState: HardState;
  readonly ownMessages: readonly Message[];
}

/**
 * The caller's handle on one member's Raft core (etcd's RawNode): feed it ticks, messages and
 * proposals; take a Ready, carry it out in the documented order, then advance(). Steps and
 * ticks may come between ready() and advance(); a second ready() may not.
 */
export class RawNode {
  private readonly raft: Raft;
  private previousSoftState: SoftState;
  private previousHardState: HardState;
  private receipt: ReadyReceipt | null = null;

  constructor(config: RaftConfig) {
    this.raft = new Raft(config);
    this.previousSoftState = this.raft.softState();
    this.previousHardState = this.raft.hardState();
  }

  get id(): NodeId {
    return this.raft.id;
  }

  tick(): void {
    tick(this.raft);
  }

  /** A message from another member. Local message types are refused. */
  step(message: Message): void {
    invariant(
      !LOCAL_MESSAGE_TYPES.has(message.type),
      () => `local message type ${message.type} given to step()`,
    );
    if (message.to !== this.raft.id) return;
    try {
      step(this.raft, message);
    } catch (error) {
      // A forwarded proposal that the leader refuses is dropped; its proposer times out.
      if (!(error instanceof ProposalDroppedError)) throw error;
    }
  }

  /** Proposes one entry. Throws ProposalDroppedError when it certainly will not be committed. */
  propose(data: Uint8Array): void {
    this.proposeEntries([{ term: 0, index: 0, type: EntryType.Normal, data }]);
  }

  /** Proposes several entries in one message: the cheap way to write a batch. */
  proposeBatch(data: readonly Uint8Array[]): void {
    const entries: Entry[] = new Array(data.length);
    for (let i = 0; i < data.length; i++) {
      entries[i] = { term: 0, index: 0, type: EntryType.Normal, data: data[i]! };
    }
    this.proposeEntries(entries);
  }

  proposeConfChange(change: ConfChange): void {
    const data = encodeConfChange(change);
    this.proposeEntries([{ term: 0, index: 0, type: EntryType.ConfChange, data }]);
  }

  private proposeEntries(entries: readonly Entry[]): void {
    if (entries.length === 0) return;
    step(this.raft, { ...localMessage(this.raft, MessageType.Propose), entries });
  }

  /** Call when applying a committed ConfChange entry; returns the new membership. */
  applyConfChange(change: ConfChange): ConfState {
    return applyConfChange(this.raft, change);
  }

  /**
   * Asks for a linearizable read. Its ReadState (with `requestId`) comes in a later Ready; it
   * may never come (no leader, lost messages): the caller times out and retries. With
   * `lease`, a leader whose lease is valid answers without a heartbeat round.
   */
  readIndex(requestId: Uint8Array, options: { lease?: boolean } = {}): void {
    const request = localMessage(this.raft, MessageType.ReadIndex);
    step(this.raft, {
      ...request,
      context: requestId,
      index: options.lease === true ? READ_ACCEPTS_LEASE : 0,
    });
  }

  transferLeadership(to: NodeId): void {
    step(this.raft, { ...localMessage(this.raft, MessageType.TransferLeader), from: to });
  }

  /**
   * A TimeoutNow for `to`, for a leader that cannot go through ready() (its disk is full) and
   * sends it itself. The lease is void from here on, as for any TimeoutNow the leader sends.
   */
  timeoutNowMessage(to: NodeId): Message {
    this.raft.timeoutNowSentThisTerm = true;
    return {
      ...localMessage(this.raft, MessageType.TimeoutNow),
      from: this.raft.id,
      to,
      term: this.raft.term,
    };
  }

  campaign(): void {
    step(this.raft, localMessage(this.raft, MessageType.Hup));
  }

  reportUnreachable(id: NodeId): void {
    step(this.raft, { ...localMessage(this.raft, MessageType.Unreachable), from: id });
  }

  reportSnapshot(id: NodeId, status: SnapshotStatus): void {
    step(this.raft, {
      ...localMessage(this.raft, MessageType.SnapshotStatus),
      from: id,
      reject: status !== 0,
    });
  }

  hasReady(): boolean {
    const raft = this.raft;
    if (raft.messages.length > 0 || raft.messagesAfterPersist.length > 0) return true;
    if (raft.readStates.length > 0) return true;
    if (raft.log.unstable.entries.length > 0 || raft.log.unstable.snapshot !== null) return true;
    if (raft.log.hasNextCommittedEntries()) return true;
    if (!softStateEqual(raft.softState(), this.previousSoftState)) return true;
    return !hardStateEqual(raft.hardState(), this.previousHardState);
  }

  ready(): Ready {
    invariant(this.receipt === null, () => "ready() called again before advance()");
    const raft = this.raft;
    const softState = raft.softState();
    const hardState = raft.hardState();
    const entries = raft.log.unstableEntries();
    const snapshot = raft.log.unstable.snapshot;
    const committedEntries = raft.log.nextCommittedEntries(raft.config.maxCommittedBytesPerReady);
    const hardStateChanged = !hardStateEqual(hardState, this.previousHardState);
    const ownMessages: Message[] = [];
    const messagesAfterPersist: Message[] = [];
    for (const message of raft.messagesAfterPersist) {
      (message.to === raft.id ? ownMessages : messagesAfterPersist).push(message);
    }
    const ready: Ready = {
      softState: softStateEqual(softState, this.previousSoftState) ? null : softState,
      hardState: hardStateChanged ? hardState : null,
      readStates: raft.readStates,
      entries,
      snapshot,
      committedEntries,
      messages: raft.messages,
      messagesAfterPersist,
      mustSync:
        entries.length > 0 ||
        snapshot !== null ||
        hardState.term !== this.previousHardState.term ||
        hardState.vote !== this.previousHardState.vote,
    };
    raft.messages = [];
    raft.messagesAfterPersist = [];
    raft.readStates = [];
    this.previousSoftState = softState;
    raft.log.applying = committedEntries[committedEntries.length - 1]?.index ?? raft.log.applied;
    const lastEntry = entries[entries.length - 1];
    this.receipt = {
      lastEntry: lastEntry === undefined ? null : { index: lastEntry.index, term: lastEntry.term },
      snapshotIndex: snapshot?.metadata.index ?? 0,
      lastCommittedIndex: committedEntries[committedEntries.length - 1]?.index ?? 0,
      committedEntries,
      hardState,
      ownMessages,
    };
    return ready;
  }

  /** The last Ready was carried out: its state is durable and its entries applied. */
  advance(): void {
    const receipt = this.receipt;
    invariant(receipt !== null, () => "advance() without a ready()");
    this.receipt = null;
    const raft = this.raft;
    this.previousHardState = receipt.hardState;
    if (receipt.snapshotIndex > 0) {
      raft.log.unstable.stableSnapshotTo(receipt.snapshotIndex);
      if (raft.log.applied < receipt.snapshotIndex) raft.log.applied = receipt.snapshotIndex;
    }
    if (receipt.lastEntry !== null)
      raft.log.unstable.stableTo(receipt.lastEntry.index, receipt.lastEntry.term);
    if (receipt.lastCommittedIndex > 0) {
      raft.log.appliedTo(receipt.lastCommittedIndex);
      raft.reduceUncommittedBytes(receipt.committedEntries);
      maybeAutoLeaveJoint(raft);
    }
    for (const message of receipt.ownMessages) step(raft, message);
  }

  status(): RaftStatus {
    const raft = this.raft;
    const progress = new Map<NodeId, ProgressStatus>();
    if (raft.role === "leader") {
      raft.tracker.visit((id, pr) => {
        progress.set(id, {
          match: pr.match,
          next: pr.next,
          state: pr.state,
          isLearner: pr.isLearner,
        });
      });
    }
    return {
      id: raft.id,
      hardState: raft.hardState(),
      softState: raft.softState(),
      appliedIndex: raft.log.applied,
      commitIndex: raft.log.committed,
      lastIndex: raft.log.lastIndex(),
      confState: raft.tracker.confState(),
      leadTransferee: raft.leadTransferee,
      progress,
    };
  }
}

/** Leader: once a joint config with autoLeave is applied, propose leaving it. */
function maybeAutoLeaveJoint(raft: Raft): void {
  const config = raft.tracker.config;
  if (raft.role !== "leader" || !config.autoLeave || !raft.tracker.isJoint()) return;
  if (raft.log.applied < raft.pendingConfIndex) return;
  const data = encodeConfChange({ transition: 0, changes: [], context: EMPTY_BYTES });
  try {
    step(raft, {
      ...localMessage(raft, MessageType.Propose),
      entries: [{ term: 0, index: 0, type: EntryType.ConfChange, data }],
    });
  } catch (error) {
    // Refused now (e.g. a transfer in progress): retried after the next apply.
    if (!(error instanceof ProposalDroppedError)) throw error;
  }
}

function softStateEqual(a: SoftState, b: SoftState): boolean {
  return a.leader === b.leader && a.role === b.role;
}

function hardStateEqual(a: HardState, b: HardState): boolean {
  return a.term === b.term && a.vote === b.vote && a.commit === b.commit;
}
