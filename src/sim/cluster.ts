// The simulated world: members, the network between them, their clients, one virtual clock.
// It routes messages and replies (always through the scheduler, never re-entering a member
// in the middle of its Ready) and keeps what the checks and the faults need to know.
import type { ConfState, Message, NodeId, RaftConfig } from "../raft/index.ts";
import { EMPTY_CONF_STATE, MemoryStorage, MessageType, SeededRandom } from "../raft/index.ts";
import { SimClient } from "./client.ts";
import type { ClientReply, ClientRequest } from "./client_protocol.ts";
import { type KvCommand, type KvResult, requestKey } from "./command.ts";
import { type AppliedOutcome, History } from "./history.ts";
import { type MemberHost, SimMember } from "./member.ts";
import { confIncludes, describeConf } from "./membership_text.ts";
import { type DropReason, Network, type NetworkHost } from "./network.ts";
import { SafetyChecker } from "./safety_checker.ts";
import type { Scenario } from "./scenario.ts";
import { Scheduler } from "./scheduler.ts";
import type { Trace } from "./trace.ts";

/** A write some member acknowledged: it was applied at `index` and must never be lost. */
export interface AcknowledgedWrite {
  readonly clientId: number;
  readonly sequence: number;
  readonly index: number;
  readonly member: NodeId;
}

/** How long a transport takes to notice that a snapshot it sent was lost. */
const SNAPSHOT_FAILURE_NOTICE_TICKS = 2;

export class SimCluster implements MemberHost, NetworkHost {
  readonly scheduler = new Scheduler();
  readonly checker = new SafetyChecker();
  readonly history = new History();
  readonly members = new Map<NodeId, SimMember>();
  readonly clients: SimClient[] = [];
  readonly network: Network;
  readonly acknowledgedWrites: AcknowledgedWrite[] = [];
  /** Every command some member applied, by request key: to settle unknown outcomes. */
  private readonly appliedCommands = new Map<string, AppliedOutcome>();
  readonly baseTickUs: number;
  /** The newest membership any member applied (committed configurations only move forward). */
  latestConf: { index: number; confState: ConfState } = { index: 0, confState: EMPTY_CONF_STATE };
  /** Called when a member is seen to win an election (faults that react to one). */
  readonly leaderListeners: ((leader: SimMember) => void)[] = [];
  private targets: NodeId[] = [];
  private readonly random: SeededRandom;
  private nextMemberId: NodeId;

  constructor(
    readonly scenario: Scenario,
    readonly trace: Trace,
  ) {
    this.random = new SeededRandom(scenario.seed);
    this.baseTickUs = scenario.baseTickUs;
    this.network = new Network(this.scheduler, this.random.fork(), trace, scenario.network, this);
    const voters = Array.from({ length: scenario.clusterSize }, (_, i) => i + 1);
    this.nextMemberId = voters.length + 1;
    for (const id of voters) this.createMember(id, bootstrapStorage(voters));
    // The bootstrap entries (one per voter) are committed: that is the membership to start with.
    this.onConfApplied(null, voters.length, { ...EMPTY_CONF_STATE, voters });
  }

  start(): void {
    for (const member of this.members.values()) member.start(this.firstTickDelayUs());
    const clientRandom = this.random.fork();
    for (let id = 1; id <= this.scenario.workload.clients; id++) {
      const client = new SimClient(id, this, clientRandom.fork(), this.scenario.workload);
      this.clients.push(client);
      client.start();
    }
  }

  // --- membership and lifecycle (used by faults and the operator) ---

  /** The id the next joining member will get (ids are never reused). */
  peekNextMemberId(): NodeId {
    return this.nextMemberId;
  }

  /** A member that joins later: empty storage, no configuration; it learns all from the leader. */
  addMember(): SimMember {
    const id = this.nextMemberId++;
    const member = this.createMember(id, new MemoryStorage());
    member.start(this.firstTickDelayUs());
    this.traceLine(`n${id}`, "started empty (joining)");
    return member;
  }

  private createMember(id: NodeId, storage: MemoryStorage): SimMember {
    const skew = this.random.nextFloat() * this.scenario.maxTickSkew;
    const tickPeriodUs = Math.round(this.baseTickUs * (1 + skew));
    const policy = {
      intervalEntries: this.scenario.snapshotIntervalEntries,
      keepEntries: this.scenario.snapshotKeepEntries,
    };
    const member = new SimMember(
      id,
      this,
      storage,
      tickPeriodUs,
      policy,
      this.scenario.checkDurabilityOnSend,
    );
    this.members.set(id, member);
    return member;
  }

  crash(member: SimMember): void {
    if (!member.isRunning) return;
    member.crash();
    this.traceLine(member.name, "CRASH (unsynced writes lost)");
  }

  restart(member: SimMember): void {
    if (member.state !== "crashed") return;
    member.start(this.firstTickDelayUs());
    this.traceLine(
      member.name,
      `RESTART from disk: applied ${member.appliedIndex}, term ${member.term}`,
    );
  }

  /** The running member that believes it leads at the highest term, if any. */
  leader(): SimMember | null {
    let best: SimMember | null = null;
    for (const member of this.members.values()) {
      if (!member.isRunning || member.role !== "leader") continue;
      if (best === null || member.term > best.term) best = member;
    }
    return best;
  }

  /** Members in the latest configuration (crashed or not), in id order. */
  configMembers(): SimMember[] {
    return [...this.members.values()].filter(
      (member) => member.state !== "removed" && confIncludes(this.latestConf.confState, member.id),
    );
  }

  private firstTickDelayUs(): number {
    return 1 + this.random.nextInt(this.baseTickUs);
  }

  // --- MemberHost ---

  raftConfig(id: NodeId, storage: MemoryStorage, appliedIndex: number): RaftConfig {
    const raft = this.scenario.raft;
    return {
      id,
      storage,
      random: new SeededRandom(this.random.nextUint32()),
      appliedIndex,
      electionTimeoutTicks: raft.electionTimeoutTicks,
      heartbeatIntervalTicks: raft.heartbeatIntervalTicks,
      maxClockDriftTicks: raft.maxClockDriftTicks,
      checkQuorum: raft.checkQuorum,
      preVote: raft.preVote,
      leaseReads: raft.leaseReads,
      maxInflightMessages: raft.maxInflightMessages,
      maxMessageBytes: raft.maxMessageBytes,
      maxCommittedBytesPerReady: raft.maxCommittedBytesPerReady,
      testingKnobs: raft.testingKnobs,
    };
  }

  sendRaft(message: Message): void {
    this.network.send(message);
  }

  fsyncLatencyUs(member: SimMember): number {
    const disk = this.scenario.disk;
    const [low, high] = member.slowDisk
      ? [disk.slowFsyncMinUs, disk.slowFsyncMaxUs]
      : [disk.fsyncMinUs, disk.fsyncMaxUs];
    return low + this.random.nextInt(high - low + 1);
  }

  onConfApplied(member: SimMember | null, index: number, confState: ConfState): void {
    if (index <= this.latestConf.index) return;
    this.latestConf = { index, confState };
    this.targets = [
      ...confState.voters,
      ...confState.votersOutgoing,
      ...confState.learners,
      ...confState.learnersNext,
    ]
      .filter((id, position, all) => all.indexOf(id) === position)
      .sort((a, b) => a - b);
    if (member !== null)
      this.traceLine(member.name, `cluster config as of ${index}: ${describeConf(confState)}`);
  }

  onRemoved(_member: SimMember): void {
    // Nothing to do: a removed member stays stopped; clients stop choosing it.
  }

  onCommandApplied(command: KvCommand, result: KvResult | null): void {
    const key = requestKey(command.clientId, command.sequence);
    if (this.appliedCommands.has(key)) return;
    this.appliedCommands.set(key, { firstAppliedUs: this.scheduler.nowUs, ok: result?.ok ?? null });
  }

  /** What became of a client's attempt, as far as any member applied it. */
  outcomeOf(clientId: number, sequence: number): AppliedOutcome | undefined {
    return this.appliedCommands.get(requestKey(clientId, sequence));
  }

  onLeaderObserved(member: SimMember): void {
    for (const listener of this.leaderListeners) listener(member);
  }

  replyToClient(reply: ClientReply): void {
    if (reply.kind === "written") {
      this.acknowledgedWrites.push({
        clientId: reply.clientId,
        sequence: reply.sequence,
        index: reply.index,
        member: reply.member,
      });
    }
    const client = this.clients[reply.clientId - 1];
    if (client === undefined) return;
    this.scheduler.after(this.clientDelayUs(), () => client.onReply(reply));
  }

  // --- NetworkHost ---

  deliver(message: Message): void {
    this.members.get(message.to)?.receive(message);
  }

  onDelivered(message: Message): void {
    if (message.type !== MessageType.InstallSnapshot) return;
    const sender = this.members.get(message.from);
    this.scheduler.after(0, () => sender?.reportSnapshot(message.to, true));
  }

  onDropped(message: Message, reason: DropReason): void {
    const sender = this.members.get(message.from);
    if (sender === undefined) return;
    if (message.type === MessageType.InstallSnapshot) {
      this.scheduler.after(SNAPSHOT_FAILURE_NOTICE_TICKS * this.baseTickUs, () =>
        sender.reportSnapshot(message.to, false),
      );
    } else if (reason === "partitioned" && message.type === MessageType.Append) {
      // A real transport finds the connection down and says so.
      this.scheduler.after(0, () => sender.reportUnreachable(message.to));
    }
  }

  // --- ClientHost ---

  clientTargets(): readonly NodeId[] {
    return this.targets;
  }

  sendClientRequest(memberId: NodeId, request: ClientRequest): void {
    const member = this.members.get(memberId);
    this.scheduler.after(this.clientDelayUs(), () => member?.handleClientRequest(request));
  }

  private clientDelayUs(): number {
    const { clientDelayMinUs, clientDelayMaxUs } = this.scenario.workload;
    return clientDelayMinUs + this.random.nextInt(clientDelayMaxUs - clientDelayMinUs + 1);
  }

  traceLine(who: string, what: string): void {
    if (this.trace.enabled) this.trace.line(this.scheduler.nowUs, who, what);
  }
}

/**
 * A new cluster's members start as etcd bootstraps them: the initial voters are the first
 * entries of the log (conf changes at term 1, committed), and each member applies them like
 * any other. A member that joins later learns them from the log or from a snapshot.
 */
function bootstrapStorage(voters: readonly NodeId[]): MemoryStorage {
  return new MemoryStorage({ voters });
}
