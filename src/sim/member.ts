// One simulated member: a real RawNode, the storage it reads, a disk that makes writes durable
// only at fsync, and the key-value state machine. It carries out each Ready in the documented
// order — write, send `messages`, fsync, send `messagesAfterPersist`, apply, serve reads,
// advance — and takes the next Ready only after advance(). Ticks and messages keep arriving
// while an fsync is in flight.
import type {
  ConfState,
  Entry,
  Message,
  NodeId,
  RaftConfig,
  Ready,
  Role,
  Snapshot,
} from "../raft/index.ts";
import {
  decodeConfChange,
  EntryType,
  type MemoryStorage,
  NONE,
  ProposalDroppedError,
  RawNode,
} from "../raft/index.ts";
import type { ClientReply, ClientRequest } from "./client_protocol.ts";
import {
  decodeCommand,
  encodeCommand,
  encodeReadRequestId,
  type KvCommand,
  type KvResult,
} from "./command.ts";
import { compactTo, Disk } from "./disk.ts";
import { checkDurableBeforeSend } from "./durability_check.ts";
import { KvStore } from "./kv_store.ts";
import { confIncludes, describeConf, describeConfChange } from "./membership_text.ts";
import { PendingRequests } from "./pending_requests.ts";
import type { SafetyChecker } from "./safety_checker.ts";
import type { Scheduler } from "./scheduler.ts";
import type { Trace } from "./trace.ts";
import { InvariantViolation } from "./violation.ts";

/** What a member needs from the cluster around it. */
export interface MemberHost {
  readonly scheduler: Scheduler;
  readonly trace: Trace;
  readonly checker: SafetyChecker;
  sendRaft(message: Message): void;
  replyToClient(reply: ClientReply): void;
  fsyncLatencyUs(member: SimMember): number;
  raftConfig(id: NodeId, storage: MemoryStorage, appliedIndex: number): RaftConfig;
  /** A member applied a membership (a conf change entry or a snapshot) as of `index`. */
  onConfApplied(member: SimMember, index: number, confState: ConfState): void;
  /** A member applied the conf change that removed it. */
  onRemoved(member: SimMember): void;
  /** A member's Ready showed it leading (the first Ready after it won). */
  onLeaderObserved(member: SimMember): void;
  /** A member applied a client command (`result` null: dropped as stale or duplicate). */
  onCommandApplied(command: KvCommand, result: KvResult | null): void;
}

export type MemberState = "running" | "crashed" | "removed";

export interface SnapshotPolicy {
  readonly intervalEntries: number;
  readonly keepEntries: number;
}

/** Readies taken in one go before yielding to other events (non-synced Readies chain). */
const MAX_READIES_PER_PUMP = 64;
/** Messages and requests a paused member holds for when it wakes; more are lost. */
const MAX_PAUSED_INBOX = 10_000;
/** How often (in applied entries) the state is compared across members. */
const STATE_CHECK_INTERVAL_ENTRIES = 16;

export class SimMember {
  state: MemberState = "crashed";
  role: Role = "follower";
  knownLeader: NodeId = NONE;
  term = 0;
  appliedIndex = 0;
  confState!: ConfState;
  /** Restarts so far; events of an earlier life check it and do nothing. */
  incarnation = 0;
  paused = false;
  slowDisk = false;

  private node: RawNode | null = null;
  private storage: MemoryStorage;
  private readonly disk: Disk;
  private kv = new KvStore();
  private persisting = false;
  private wasInConfig = false;
  private removalApplied = false;
  private snapshotIndex = 0;
  private leaderObservedTerm = 0;
  private readonly requests = new PendingRequests();
  private pausedInbox: (() => void)[] = [];
  private missedTicks = 0;

  constructor(
    readonly id: NodeId,
    private readonly host: MemberHost,
    initial: MemoryStorage,
    readonly tickPeriodUs: number,
    private readonly snapshotPolicy: SnapshotPolicy,
    private readonly checkDurability: boolean,
  ) {
    this.storage = initial;
    this.disk = new Disk(host.scheduler, initial);
  }

  get isRunning(): boolean {
    return this.state === "running";
  }

  get raft(): RawNode {
    if (this.node === null) throw new Error(`member ${this.id} is not running`);
    return this.node;
  }

  /** Boots (or reboots) from what the disk holds; the state machine restarts from the snapshot. */
  start(firstTickDelayUs: number): void {
    this.incarnation++;
    this.storage = this.disk.recover();
    const snapshot = this.storage.snapshot();
    this.kv = KvStore.decode(snapshot.data);
    this.appliedIndex = snapshot.metadata.index;
    this.snapshotIndex = snapshot.metadata.index;
    // Membership is judged afresh in each life: the replay may pass through configurations
    // that predate this member (it is removed only by applying a change that removes it).
    this.wasInConfig = false;
    this.removalApplied = false;
    this.leaderObservedTerm = 0;
    this.setConfState(snapshot.metadata.confState);
    this.term = this.storage.initialState().hardState.term;
    this.node = new RawNode(this.host.raftConfig(this.id, this.storage, this.appliedIndex));
    this.state = "running";
    this.role = "follower";
    this.knownLeader = NONE;
    this.persisting = false;
    this.paused = false;
    this.scheduleTick(this.incarnation, firstTickDelayUs);
  }

  /** Power loss: everything not yet durable is gone, and so are the requests in progress. */
  crash(): void {
    this.stop("crashed");
  }

  private stop(state: MemberState): void {
    this.state = state;
    this.incarnation++;
    this.disk.crash();
    this.node = null;
    this.persisting = false;
    this.paused = false;
    this.pausedInbox = [];
    this.missedTicks = 0;
    this.requests.clear();
    this.role = "follower";
    this.knownLeader = NONE;
  }

  pause(): void {
    if (this.isRunning) this.paused = true;
  }

  /** A paused process wakes: its clock caught up first, then what queued up, in order. */
  resume(): void {
    if (!this.paused || !this.isRunning) return;
    this.paused = false;
    const ticks = this.missedTicks;
    this.missedTicks = 0;
    for (let i = 0; i < ticks && this.isRunning; i++) this.raft.tick();
    const inbox = this.pausedInbox;
    this.pausedInbox = [];
    for (const action of inbox) {
      if (!this.isRunning) break;
      action();
    }
    this.pump();
  }

  receive(message: Message): void {
    if (!this.isRunning) return;
    if (this.paused) {
      this.defer(() => this.receive(message));
      return;
    }
    this.raft.step(message);
    this.pump();
  }

  /** Runs `action` on the live node, then carries out whatever Ready it produced. */
  withNode(action: (node: RawNode) => void): void {
    if (!this.isRunning || this.paused) return;
    action(this.raft);
    this.pump();
  }

  reportSnapshot(to: NodeId, finished: boolean): void {
    this.withNode((node) => node.reportSnapshot(to, finished ? 0 : 1));
  }

  reportUnreachable(to: NodeId): void {
    this.withNode((node) => node.reportUnreachable(to));
  }

  handleClientRequest(request: ClientRequest): void {
    if (!this.isRunning) return; // lost with the process: the client times out
    if (this.paused) {
      this.defer(() => this.handleClientRequest(request));
      return;
    }
    if (request.op === "get") this.startRead(request);
    else this.startWrite(request);
    this.pump();
  }

  private startWrite(request: ClientRequest): void {
    const data = encodeCommand({
      clientId: request.clientId,
      sequence: request.sequence,
      op: request.op === "get" ? "put" : request.op,
      key: request.key,
      value: request.value,
      expect: request.expect,
    });
    try {
      this.raft.propose(data);
    } catch (error) {
      if (!(error instanceof ProposalDroppedError)) throw error;
      this.replyDropped(request, error.reason);
      return;
    }
    this.requests.addWrite(request);
  }

  private startRead(request: ClientRequest): void {
    if (this.knownLeader === NONE) {
      this.replyDropped(request, "no leader known");
      return;
    }
    this.requests.addRead(request);
    const lease = request.lease && this.role === "leader";
    const requestId = encodeReadRequestId(request.clientId, request.sequence);
    try {
      this.raft.readIndex(requestId, lease ? { lease: true } : {});
    } catch (error) {
      if (!(error instanceof ProposalDroppedError)) throw error;
      this.requests.dropRead(request);
      this.replyDropped(request, error.reason);
    }
  }

  private replyDropped(request: ClientRequest, reason: string): void {
    this.host.replyToClient({
      kind: "dropped",
      clientId: request.clientId,
      sequence: request.sequence,
      member: this.id,
      leaderHint: this.knownLeader,
      reason,
    });
  }

  private defer(action: () => void): void {
    if (this.pausedInbox.length < MAX_PAUSED_INBOX) this.pausedInbox.push(action);
  }

  private scheduleTick(incarnation: number, delayUs: number): void {
    this.host.scheduler.after(delayUs, () => {
      if (incarnation !== this.incarnation || !this.isRunning) return;
      if (this.paused) {
        this.missedTicks++;
      } else {
        this.raft.tick();
        this.pump();
      }
      this.scheduleTick(incarnation, this.tickPeriodUs);
    });
  }

  /** Takes Readies while there are some and no fsync is in flight. */
  pump(): void {
    for (let taken = 0; taken < MAX_READIES_PER_PUMP; taken++) {
      if (!this.isRunning || this.paused || this.persisting) return;
      const node = this.raft;
      if (!node.hasReady()) return;
      this.handleReady(node.ready());
    }
    // Still more: continue after other events had their turn (no unbounded loop here).
    const incarnation = this.incarnation;
    this.host.scheduler.after(0, () => {
      if (incarnation === this.incarnation) this.pump();
    });
  }

  private handleReady(ready: Ready): void {
    if (ready.hardState !== null) this.noteHardState(ready.hardState.term, ready.hardState.vote);
    this.writeToStorage(ready);
    if (ready.softState !== null) this.noteSoftState(ready.softState.role, ready.softState.leader);
    this.observeLeadership();
    for (const message of ready.messages) this.send(message);
    const batch = { snapshot: ready.snapshot, entries: ready.entries, hardState: ready.hardState };
    if (!ready.mustSync) {
      this.disk.writeUnsynced(batch);
      this.finishReady(ready);
      return;
    }
    this.persisting = true;
    const incarnation = this.incarnation;
    this.disk.write(batch, this.host.fsyncLatencyUs(this), () => {
      if (incarnation !== this.incarnation) return;
      if (this.paused) this.defer(() => this.afterFsync(ready));
      else this.afterFsync(ready);
    });
  }

  private afterFsync(ready: Ready): void {
    this.finishReady(ready);
    this.pump();
  }

  /** The storage the core reads back: written at once, durable or not (that is the disk's job). */
  private writeToStorage(ready: Ready): void {
    if (ready.snapshot !== null) this.storage.applySnapshot(ready.snapshot);
    this.storage.append(ready.entries);
    if (ready.hardState !== null) this.storage.setHardState(ready.hardState);
    this.host.checker.onEntriesAppended(this.id, ready.entries, this.storage);
  }

  private finishReady(ready: Ready): void {
    for (const message of ready.messagesAfterPersist) this.send(message);
    if (ready.snapshot !== null) this.installSnapshot(ready.snapshot);
    this.applyEntries(ready.committedEntries);
    this.requests.acceptReadStates(ready.readStates);
    this.serveReads();
    this.raft.advance();
    this.persisting = false;
    this.maybeSnapshot();
    if (this.removalApplied) this.leaveCluster();
  }

  private send(message: Message): void {
    if (this.checkDurability) checkDurableBeforeSend(this.id, message, this.disk, this.storage);
    this.host.sendRaft(message);
  }

  private noteHardState(term: number, vote: NodeId): void {
    const trace = this.host.trace;
    if (trace.enabled && term !== this.term)
      trace.line(this.host.scheduler.nowUs, this.name, `term ${term} vote ${vote}`);
    this.term = term;
  }

  private noteSoftState(role: Role, leader: NodeId): void {
    const trace = this.host.trace;
    if (trace.enabled && (role !== this.role || leader !== this.knownLeader)) {
      trace.line(
        this.host.scheduler.nowUs,
        this.name,
        `role ${role} term ${this.term} leader ${leader || "-"}`,
      );
    }
    this.role = role;
    this.knownLeader = leader;
  }

  /**
   * Checked on every Ready, not only when the soft state changed: a member may lose and win
   * again between two Readies, and then only its term tells.
   */
  private observeLeadership(): void {
    if (this.role !== "leader" || this.term === this.leaderObservedTerm) return;
    this.leaderObservedTerm = this.term;
    // Observed when the Ready is taken: the storage now holds the whole log.
    this.host.checker.onLeader(this.id, this.term, this.storage);
    this.host.onLeaderObserved(this);
  }

  private installSnapshot(snapshot: Snapshot): void {
    const { index, confState } = snapshot.metadata;
    if (index <= this.appliedIndex) {
      throw new InvariantViolation(
        "apply-order",
        `member ${this.id} got snapshot ${index} at applied ${this.appliedIndex}`,
      );
    }
    this.kv = KvStore.decode(snapshot.data);
    this.appliedIndex = index;
    this.snapshotIndex = index;
    this.setConfState(confState);
    this.host.checker.onStateAt(this.id, index, this.kv.canonicalText());
    this.host.onConfApplied(this, index, confState);
    const trace = this.host.trace;
    if (trace.enabled)
      trace.line(
        this.host.scheduler.nowUs,
        this.name,
        `installed snapshot ${index} term ${snapshot.metadata.term}`,
      );
  }

  private applyEntries(entries: readonly Entry[]): void {
    for (const entry of entries) {
      if (entry.index !== this.appliedIndex + 1) {
        throw new InvariantViolation(
          "apply-order",
          `member ${this.id} was handed entry ${entry.index} to apply after ${this.appliedIndex}`,
        );
      }
      this.host.checker.onApplied(this.id, entry, this.term);
      if (entry.type === EntryType.ConfChange) this.applyConfChange(entry);
      else this.applyCommand(entry);
      this.appliedIndex = entry.index;
      if (entry.index % STATE_CHECK_INTERVAL_ENTRIES === 0) {
        this.host.checker.onStateAt(this.id, entry.index, this.kv.canonicalText());
      }
    }
  }

  private applyConfChange(entry: Entry): void {
    const change = decodeConfChange(entry.data);
    const confState = this.raft.applyConfChange(change);
    this.setConfState(confState);
    this.host.onConfApplied(this, entry.index, confState);
    const trace = this.host.trace;
    if (trace.enabled) {
      const changes = describeConfChange(change);
      trace.line(
        this.host.scheduler.nowUs,
        this.name,
        `applied conf change ${entry.index} [${changes}] -> ${describeConf(confState)}`,
      );
    }
  }

  private applyCommand(entry: Entry): void {
    const command = decodeCommand(entry.data);
    if (command === null) return;
    const { result } = this.kv.apply(command);
    this.host.onCommandApplied(command, result);
    // A duplicate (result null) was answered when its first copy was applied.
    const request = result === null ? null : this.requests.takeWrite(command);
    if (request === null || result === null) return;
    this.host.replyToClient({
      kind: "written",
      clientId: request.clientId,
      sequence: request.sequence,
      member: this.id,
      ok: result.ok,
      index: entry.index,
    });
  }

  /** A read is answered once the state machine has caught up with its read index. */
  private serveReads(): void {
    for (const request of this.requests.takeServableReads(this.appliedIndex)) {
      this.host.replyToClient({
        kind: "read",
        clientId: request.clientId,
        sequence: request.sequence,
        member: this.id,
        value: this.kv.get(request.key),
      });
    }
  }

  /** Snapshots the state machine every so many entries and compacts the log behind it. */
  private maybeSnapshot(): void {
    const { intervalEntries, keepEntries } = this.snapshotPolicy;
    if (this.appliedIndex - this.snapshotIndex < intervalEntries) return;
    if (this.appliedIndex <= this.storage.snapshot().metadata.index) return;
    const index = this.appliedIndex;
    const data = this.kv.encode();
    this.storage.createSnapshot(index, this.confState, data);
    compactTo(this.storage, index - keepEntries);
    this.disk.saveSnapshot(index, this.confState, data, index - keepEntries);
    this.snapshotIndex = index;
    const trace = this.host.trace;
    if (trace.enabled)
      trace.line(
        this.host.scheduler.nowUs,
        this.name,
        `snapshot at ${index}, log from ${this.storage.firstIndex()}`,
      );
  }

  private setConfState(confState: ConfState): void {
    this.confState = confState;
    const inConfig = confIncludes(confState, this.id);
    if (inConfig) this.wasInConfig = true;
    else if (this.wasInConfig) this.removalApplied = true;
  }

  /** Removed from the configuration and applied it: stop (the core would keep it quiet anyway). */
  private leaveCluster(): void {
    const trace = this.host.trace;
    if (trace.enabled)
      trace.line(this.host.scheduler.nowUs, this.name, "removed from the cluster: stopping");
    this.stop("removed");
    this.host.onRemoved(this);
  }

  get name(): string {
    return `n${this.id}`;
  }

  /** The state machine's canonical text, to compare members at the end of a run. */
  get stateText(): string {
    return this.kv.canonicalText();
  }
}
