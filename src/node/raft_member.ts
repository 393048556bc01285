// Drives one Raft core against real disks and a real network, in the order the Ready contract
// demands: send `messages` (they do not depend on this batch), write the batch to the WAL with
// one fdatasync, then send `messagesAfterPersist`, apply the committed entries in one LMDB
// transaction, serve reads, and advance. While an fsync is in flight, ticks, messages and
// proposals keep arriving; they pile up in the core and leave together in the next Ready
// (group commit).
//
// A write that fails on a full disk is retried where it failed (DiskRetry): the Ready waits,
// whole, and nothing after the failed step happens until it succeeds.

import { rm } from "node:fs/promises";
import type { ApplyItem, ApplyResult, MvccStore } from "../kv/index.ts";
import { LeafKind } from "../ledger/index.ts";
import {
  type ConfState,
  decodeConfChange,
  type Entry,
  EntryType,
  type Logger,
  type MemoryStorage,
  type Message,
  MessageType,
  type NodeId,
  type RawNode,
  type Ready,
  type Snapshot,
  SnapshotStatus,
} from "../raft/index.ts";
import type { SnapshotFiles, Wal } from "../storage/index.ts";
import type { DiskRetry } from "./disk_retry.ts";
import {
  type LeafSource,
  type LedgerMembership,
  type MemberLedger,
  trustedLedgerKeys,
} from "./member_ledger.ts";
import { decodeMemberInfo, type MemberRegistry } from "./members.ts";
import type { NodeMetrics } from "./metrics.ts";
import { decodeProposal, ProposalKind } from "./proposal.ts";

export const MEMBERS_META_KEY = "members";

const LEAF_KINDS: Record<ProposalKind, LeafKind> = {
  [ProposalKind.Kv]: LeafKind.Kv,
  [ProposalKind.MemberAttributes]: LeafKind.MemberAttributes,
  [ProposalKind.Ledger]: LeafKind.Ledger,
};
const EMPTY = new Uint8Array(0);

export interface RaftMemberIo {
  readonly wal: Wal;
  readonly kv: MvccStore;
  readonly snapshots: SnapshotFiles;
  readonly storage: MemoryStorage;
  readonly metrics: NodeMetrics;
  readonly logger: Logger & { error(message: string): void };
  /** Where each store lives, to name it when its disk is full. */
  readonly paths: { readonly wal: string; readonly kv: string };
  readonly disk: DiskRetry;
  readonly ledger: MemberLedger;
}

export interface RaftMemberHooks {
  send(messages: readonly Message[]): void;
  /** Puts what was sent on the wire now (before the Ready blocks on its fsync). */
  flush(): void;
  /** Streams the state machine to a lagging follower; resolves true when it was installed. */
  sendSnapshot(message: Message): Promise<boolean>;
  /**
   * A proposal of this member was applied (result null: it was a no-op for the store) as ledger
   * leaf `leafIndex` (the client's receipt).
   */
  onProposalApplied(sequence: number, result: ApplyResult | null, leafIndex: number | null): void;
  onReadState(requestId: Uint8Array, index: number): void;
  onApplied(appliedIndex: number): void;
  onLeaderChange(leader: NodeId, isLeader: boolean, term: number): void;
  onMembersChanged(confState: ConfState): void;
  /** The disk failed under us: nothing more may be acknowledged. */
  onFatal(error: Error): void;
}

export interface SnapshotPolicy {
  readonly everyEntries: number;
  readonly catchUpEntries: number;
}

export class RaftMember {
  confState: ConfState;
  leader: NodeId = 0;
  term = 0;
  commitIndex = 0;
  private handling = false;
  private driveScheduled = false;
  private stopped = false;
  private snapshotIndex: number;
  /**
   * The last index the core handed out to apply (or installed by snapshot). The kv store may be
   * ahead of it (it installed a leader's copy newer than the snapshot's index) but snapshots
   * and compaction follow the core's view: only there do log, config and index agree.
   */
  private raftApplied: number;
  private readonly snapshotsInFlight = new Set<NodeId>();
  /** Files of snapshots received from the leader, by "term:index", until installed. */
  private readonly receivedSnapshots = new Map<string, string>();

  constructor(
    readonly raft: RawNode,
    private readonly io: RaftMemberIo,
    private readonly members: MemberRegistry,
    private readonly hooks: RaftMemberHooks,
    private readonly policy: SnapshotPolicy,
  ) {
    const snapshot = io.storage.snapshot().metadata;
    this.confState = snapshot.confState;
    this.snapshotIndex = snapshot.index;
    this.raftApplied = snapshot.index;
  }

  get id(): NodeId {
    return this.raft.id;
  }

  get isLeader(): boolean {
    return this.leader === this.id;
  }

  /** A snapshot file arrived with its InstallSnapshot message: keep it, then step the message. */
  receiveSnapshot(message: Message, file: string): void {
    const metadata = message.snapshot?.metadata;
    if (metadata === undefined) return;
    this.receivedSnapshots.set(`${metadata.term}:${metadata.index}`, file);
    this.step([message]);
  }

  step(messages: readonly Message[]): void {
    if (this.stopped) return;
    for (const message of messages) {
      try {
        this.raft.step(message);
      } catch (error) {
        this.io.logger.warn(`dropped message from ${message.from}: ${(error as Error).message}`);
      }
    }
    this.drive();
  }

  /**
   * Takes Readies until there are none; never two at once. Deferred to the end of the event
   * loop's I/O phase, so that every request and message that arrived together (during the last
   * fsync, say) goes out in one Ready, one WAL write and one fsync.
   */
  drive(): void {
    if (this.driveScheduled || this.handling || this.stopped) return;
    this.driveScheduled = true;
    setImmediate(() => {
      this.driveScheduled = false;
      this.driveNow();
    });
  }

  private driveNow(): void {
    if (this.handling || this.stopped || !this.raft.hasReady()) return;
    this.handling = true;
    this.handleReadies().then(
      () => {
        this.handling = false;
        // Work that arrived during the last await.
        if (!this.stopped && this.raft.hasReady()) this.drive();
      },
      (error: Error) => {
        this.handling = false;
        // Stopped while waiting for space: a shutdown, not a failure.
        if (this.stopped) return;
        this.stopped = true;
        this.hooks.onFatal(error);
      },
    );
  }

  stop(): void {
    this.stopped = true;
    this.io.disk.stop();
  }

  /** Resolves once no Ready is being handled (after stop(), before closing the disks). */
  async idle(): Promise<void> {
    while (this.handling) await new Promise((resolve) => setTimeout(resolve, 5));
  }

  private async handleReadies(): Promise<void> {
    while (!this.stopped && this.raft.hasReady()) {
      const ready = this.raft.ready();
      if (ready.softState !== null || ready.hardState !== null) this.noteState(ready);
      this.sendAll(ready.messages);
      if (ready.snapshot !== null) await this.installSnapshot(ready.snapshot);
      this.io.storage.append(ready.entries);
      if (ready.hardState !== null) this.io.storage.setHardState(ready.hardState);
      this.io.wal.append(ready.entries, ready.hardState, ready.snapshot?.metadata ?? null);
      if (ready.mustSync) {
        await this.io.disk.run(this.io.paths.wal, () => this.io.wal.sync());
        this.recordSyncs(ready.entries.length);
      }
      if (this.stopped) return;
      this.sendAll(ready.messagesAfterPersist);
      if (ready.committedEntries.length > 0) await this.apply(ready.committedEntries);
      for (const state of ready.readStates) this.hooks.onReadState(state.requestId, state.index);
      this.raft.advance();
      this.hooks.onApplied(this.io.kv.appliedIndex);
      if (this.raftApplied - this.snapshotIndex >= this.policy.everyEntries) {
        await this.takeSnapshot();
      }
    }
  }

  private noteState(ready: Ready): void {
    if (ready.hardState !== null && ready.hardState.term !== this.term) {
      this.term = ready.hardState.term;
      this.io.metrics.term.set(this.term);
    }
    if (ready.hardState !== null) {
      this.commitIndex = ready.hardState.commit;
      this.io.metrics.commitIndex.set(this.commitIndex);
    }
    if (ready.softState === null || ready.softState.leader === this.leader) return;
    this.leader = ready.softState.leader;
    this.io.metrics.leaderChanges.inc();
    this.io.metrics.isLeader.set(this.isLeader ? 1 : 0);
    this.io.metrics.hasLeader.set(this.leader === 0 ? 0 : 1);
    this.io.logger.info(
      this.leader === 0
        ? `term ${this.term}: no leader`
        : `term ${this.term}: leader is ${this.members.get(this.leader)?.name ?? this.leader}`,
    );
    this.hooks.onLeaderChange(this.leader, this.isLeader, this.term);
  }

  private sendAll(messages: readonly Message[]): void {
    if (messages.length === 0) return;
    let plain = messages;
    if (messages.some((message) => message.type === MessageType.InstallSnapshot)) {
      plain = messages.filter((message) => message.type !== MessageType.InstallSnapshot);
      for (const message of messages) {
        if (message.type === MessageType.InstallSnapshot) this.streamSnapshot(message);
      }
    }
    this.hooks.send(plain);
    this.hooks.flush();
  }

  private streamSnapshot(message: Message): void {
    const to = message.to;
    if (this.snapshotsInFlight.has(to)) return;
    this.snapshotsInFlight.add(to);
    this.hooks.sendSnapshot(message).then(
      (installed) => this.snapshotDone(to, installed),
      (error: Error) => {
        this.io.logger.warn(`snapshot to ${to} failed: ${error.message}`);
        this.snapshotDone(to, false);
      },
    );
  }

  private snapshotDone(to: NodeId, installed: boolean): void {
    this.snapshotsInFlight.delete(to);
    this.io.metrics.snapshotsSent.inc({ result: installed ? "installed" : "failed" });
    if (this.stopped) return;
    this.raft.reportSnapshot(to, installed ? SnapshotStatus.Finished : SnapshotStatus.Failure);
    this.drive();
  }

  /** The leader's snapshot replaces our state; the kv store may be ahead of its index. */
  private async installSnapshot(snapshot: Snapshot): Promise<void> {
    const { index, term } = snapshot.metadata;
    const key = `${term}:${index}`;
    const file = this.receivedSnapshots.get(key);
    if (file === undefined) {
      throw new Error(`snapshot ${key} accepted by the core but its state file never arrived`);
    }
    for (const [other, path] of this.receivedSnapshots) {
      if (other !== key) await rm(path, { force: true });
    }
    this.receivedSnapshots.clear();
    await this.io.disk.run(this.io.paths.kv, () => this.io.kv.restore(file));
    await rm(file, { force: true });
    // Never retried: after a failed fsync the kernel may have dropped the dirty pages and a
    // second fsync "succeeds" without them (the WAL rewrites its bytes; LMDB cannot).
    await this.io.kv.sync();
    this.io.storage.applySnapshot(snapshot);
    this.snapshotIndex = index;
    this.raftApplied = index;
    this.confState = snapshot.metadata.confState;
    const members = this.io.kv.getMeta(MEMBERS_META_KEY);
    if (members !== undefined) this.members.replaceWith(members);
    this.hooks.onMembersChanged(this.confState);
    this.io.metrics.snapshotsInstalled.inc();
    this.io.logger.info(
      `installed snapshot at index ${index} (state applied to ${this.io.kv.appliedIndex})`,
    );
  }

  private async apply(entries: readonly Entry[]): Promise<void> {
    const items: ApplyItem[] = new Array(entries.length);
    const ours: (number | null)[] = new Array(entries.length);
    const leaves: (LeafSource | null)[] = new Array(entries.length);
    const leafIndexes: (number | null)[] = new Array(entries.length).fill(null);
    let membersChanged = false;
    for (let i = 0; i < entries.length; i++) {
      const entry = entries[i]!;
      ours[i] = null;
      leaves[i] = null;
      if (entry.type === EntryType.ConfChange) {
        this.applyConfChange(entry);
        membersChanged = true;
        items[i] = { index: entry.index, command: null, meta: this.membersMeta() };
        leaves[i] = leafOf(entry, LeafKind.Membership, 0, entry.data);
      } else if (entry.data.length === 0) {
        items[i] = { index: entry.index, command: null };
      } else {
        const proposal = decodeProposal(entry.data);
        if (proposal.proposer === this.id) ours[i] = proposal.sequence;
        leaves[i] = leafOf(entry, LEAF_KINDS[proposal.kind], proposal.proposer, proposal.payload);
        if (proposal.kind === ProposalKind.Kv) {
          items[i] = { index: entry.index, command: proposal.payload };
        } else if (proposal.kind === ProposalKind.Ledger) {
          // The ledger applies it (member_ledger.ts), with the membership as of this entry.
          items[i] = { index: entry.index, command: null };
          leaves[i] = { ...leaves[i]!, membership: this.ledgerMembership() };
        } else {
          const info = decodeMemberInfo(proposal.payload);
          if (info !== null) this.members.publish(info, proposal.proposer, entry.index);
          membersChanged = true;
          items[i] = { index: entry.index, command: null, meta: this.membersMeta() };
        }
      }
    }
    // Conf changes and members above are taken once; only the LMDB commit is retried.
    const ledger = this.io.ledger.batch(leaves, leafIndexes);
    const results = await this.io.disk.run(this.io.paths.kv, () =>
      this.io.kv.apply(items, performance.now(), ledger),
    );
    this.raftApplied = entries[entries.length - 1]!.index;
    this.io.metrics.committedEntries.inc(entries.length);
    this.io.metrics.appliedIndex.set(this.io.kv.appliedIndex);
    for (let i = 0; i < entries.length; i++) {
      const sequence = ours[i];
      if (sequence !== null && sequence !== undefined) {
        this.hooks.onProposalApplied(sequence, results[i] ?? null, leafIndexes[i] ?? null);
      }
    }
    if (membersChanged) this.hooks.onMembersChanged(this.confState);
  }

  private applyConfChange(entry: Entry): void {
    const change = decodeConfChange(entry.data);
    this.confState = this.raft.applyConfChange(change);
    this.members.applyConfChange(change);
  }

  /** The voters and their published keys now, in log order (see LeafSource.membership). */
  private ledgerMembership(): LedgerMembership {
    const published = new Map(this.members.list().map((m) => [m.id, m.ledgerKeys]));
    return {
      voters: [...this.confState.voters],
      keysOf: (id) => trustedLedgerKeys(published.get(id)),
    };
  }

  private membersMeta(): { key: string; value: Uint8Array } {
    return { key: MEMBERS_META_KEY, value: this.members.encode() };
  }

  private recordSyncs(entries: number): void {
    for (const us of this.io.wal.takeSyncLatenciesUs()) {
      this.io.metrics.walFsyncSeconds.observe(us / 1e6);
    }
    this.io.metrics.walBatchEntries.observe(entries);
  }

  /**
   * Compacts the log behind the state machine. The store is synced first: the WAL may only
   * forget entries whose effect is durable elsewhere.
   */
  private async takeSnapshot(): Promise<void> {
    const index = this.raftApplied;
    if (index <= this.snapshotIndex) return;
    // Not retried on a full disk, as above: the WAL is released on the strength of this sync.
    await this.io.kv.sync();
    const snapshot = this.io.storage.createSnapshot(index, this.confState, EMPTY);
    const compactTo = index - this.policy.catchUpEntries;
    if (compactTo > this.io.storage.firstIndex()) this.io.storage.compact(compactTo);
    this.io.wal.append([], null, snapshot.metadata);
    await this.io.disk.run(this.io.paths.wal, () => this.io.wal.sync());
    await this.io.wal.releaseTo(index);
    this.snapshotIndex = index;
    this.io.metrics.snapshotsCreated.inc();
    this.io.logger.info(`snapshot at index ${index}; log compacted to ${compactTo}`);
  }
}

function leafOf(entry: Entry, kind: LeafKind, proposer: number, request: Uint8Array): LeafSource {
  return { kind, index: entry.index, term: entry.term, proposer, request };
}
