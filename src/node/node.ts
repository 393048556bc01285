// One qmesh member: opens its data directory, starts the transport, drives the Raft core with a
// clock, and offers what the client API needs (proposals, reads, watches, leases, membership).
// Everything else lives in its own module; this one only wires them together.
import { randomInt } from "node:crypto";
import { rm } from "node:fs/promises";
import type { Logger as PinoLogger } from "pino";
import {
  type ApplyResult,
  CORRUPT,
  type Command,
  consumesSpace,
  encodeCommand,
  KvError,
  type MvccStore,
  NOSPACE,
  type RangeRequest,
  type RangeResponse,
} from "../kv/index.ts";
import {
  encodePublicLedgerKeys,
  type LedgerKeys,
  MlDsaVerdicts,
  publicLedgerKeys,
} from "../ledger/index.ts";
import {
  type ConfChange,
  ConfChangeTransition,
  ConfChangeType,
  type ConfState,
  type Message,
  type NodeId,
  type RaftConfig,
  RawNode,
  SeededRandom,
} from "../raft/index.ts";
import { MEMBER_NAME, type PeerAddress, parsePeerUrl, Transport } from "../transport/index.ts";
import { AutoCompactor } from "./auto_compaction.ts";
import { type OpenedState, openState } from "./boot.ts";
import { clusterIdOf, type NodeConfig } from "./config.ts";
import { answerHashQuery, checkMemberAgainstPeers } from "./corruption_check.ts";
import { claimDataDir, dataDirLayout } from "./data_dir.ts";
import { DiskAlarm } from "./disk_alarm.ts";
import { DiskFull } from "./disk_full.ts";
import { encodeLedgerCommand } from "./ledger_command.ts";
import { LedgerCheckpointer, loadOrCreateLedgerKeys } from "./ledger_signing.ts";
import { ledgerOrigin, MemberLedger, trustedLedgerKeys } from "./member_ledger.ts";
import { encodeMemberInfo, type MemberInfo, MemberRegistry, memberIdFor } from "./members.ts";
import { NodeMetrics } from "./metrics.ts";
import { MlDsaWorker } from "./mldsa_worker.ts";
import { NoteChecks } from "./note_checks.ts";
import { decodePeerQuery } from "./peer_queries.ts";
import { loadPeerTls } from "./peer_tls.ts";
import { PendingProposals, ReadBatcher } from "./pending.ts";
import { encodeProposal, ProposalKind } from "./proposal.ts";
import { ClientUrlPublisher, type PublishState } from "./publish.ts";
import { MEMBERS_META_KEY, RaftMember } from "./raft_member.ts";

export const REQUEST_TIMEOUT_MS = 7_000;
const LEASE_CHECK_MS = 500;
const PROGRESS_NOTIFY_MS = 10_000;
const PEER_STATS_MS = 1_000;
const MAX_EXPIRED_PER_CHECK = 1_000;
const SPACE_CHECK_MS = 5;
const DISK_ALARM_MS = 500;
/** The default: a checkpoint every second, or every 10,000 leaves if sooner. */
const CHECKPOINT_INTERVAL_MS = 1_000;
const CHECKPOINT_MAX_LEAVES = 10_000;
const CHECKPOINT_CHECK_MS = 100;
const DISK_ALARM_RESEND_MS = 5_000;
const DISK_ALARM_GRACE_MS = 30_000;

export class RequestTooLargeError extends Error {
  override name = "RequestTooLargeError";
}
export class NotLeaderError extends Error {
  override name = "NotLeaderError";
}
export class MembershipError extends Error {
  override name = "MembershipError";
}
/** etcd's ErrPeerURLexists: the URL is already a member's. */
export class PeerUrlExistsError extends MembershipError {
  override name = "PeerUrlExistsError";
}
export class StoppedError extends Error {
  override name = "StoppedError";
}

export class CorruptError extends Error {
  override name = "CorruptError";
}

export interface NodeStatus {
  readonly id: NodeId;
  readonly name: string;
  readonly clusterId: string;
  readonly leader: NodeId;
  readonly term: number;
  readonly commitIndex: number;
  readonly appliedIndex: number;
  readonly revision: number;
  readonly isLearner: boolean;
}

export class QmeshNode {
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly proposals = new PendingProposals<ApplyResult | null>(REQUEST_TIMEOUT_MS);
  /** The ledger leaf of each of this member's applied proposals: the client's receipt. */
  private readonly ledgerIndexes = new WeakMap<ApplyResult, number>();
  private readonly reads: ReadBatcher;
  private readonly membershipWaiters = new Set<(stopping?: Error) => void>();
  private readonly publisher: ClientUrlPublisher;
  private readonly revoking = new Set<number>();
  private readonly snapshotSends = new Set<Promise<unknown>>();
  private closed = false;
  /** A NOSPACE alarm this member proposed is on its way through the log. */
  private raisingNoSpace = false;
  private quotaAlarmRaised = false;
  /** LMDB's bytes in use, re-measured at most every SPACE_CHECK_MS (a measure costs ~65 µs). */
  private inUse = { bytes: 0, at: Number.NEGATIVE_INFINITY };
  private fatal: Error | null = null;
  /** Set when a quorum certified a ledger root this member does not have: it stops serving. */
  private corruption: CorruptError | null = null;
  private readonly checkpointer: LedgerCheckpointer | null;
  /** Signs checkpoints with ML-DSA-65 off the event loop. */
  private readonly mldsa: MlDsaWorker | null;
  /** Checks cosigners' notes ahead of their apply. */
  readonly notes: NoteChecks;
  private readonly publicLedgerKeys: string | undefined;

  private constructor(
    readonly metrics: NodeMetrics,
    readonly config: NodeConfig,
    readonly id: NodeId,
    readonly clusterId: string,
    private readonly state: OpenedState,
    readonly members: MemberRegistry,
    private readonly transport: Transport,
    private readonly member: RaftMember,
    private readonly logger: PinoLogger,
    private readonly onFatal: (error: Error) => void,
    private readonly disk: DiskFull,
    /** Leaves, proofs and checkpoints of what this member applied. */
    readonly ledger: MemberLedger,
    /** This member's checkpoint signing keys (null with the ledger off). */
    ledgerKeys: LedgerKeys | null,
  ) {
    this.publicLedgerKeys =
      ledgerKeys === null ? undefined : encodePublicLedgerKeys(publicLedgerKeys(ledgerKeys));
    this.mldsa = ledgerKeys?.mldsa === undefined ? null : new MlDsaWorker();
    this.notes = new NoteChecks({
      mldsa: this.mldsa,
      verdicts: ledger.verdicts,
      voterKeys: () =>
        this.voterLedgerKeys()
          .map((published) => trustedLedgerKeys(published))
          .filter((keys) => keys !== undefined),
      peers: () => members.list().flatMap((m) => (m.id === id ? [] : [m.id])),
      query: (peer, request, timeoutMs) => transport.query(peer, request, timeoutMs),
    });
    const mldsa = this.mldsa;
    this.checkpointer =
      ledgerKeys === null
        ? null
        : new LedgerCheckpointer({
            ledger,
            keys: ledgerKeys,
            signMlDsa: (message, secretKey) =>
              mldsa === null
                ? Promise.reject(new Error("no ML-DSA-65 key"))
                : mldsa.sign(message, secretKey),
            origin: ledgerOrigin(clusterId),
            intervalMs: CHECKPOINT_INTERVAL_MS,
            maxLeaves: CHECKPOINT_MAX_LEAVES,
            isLeader: () => member.isLeader,
            isVoter: () => member.confState.voters.includes(id),
            propose: (command) =>
              this.proposeRaw(ProposalKind.Ledger, encodeLedgerCommand(command), "ledger"),
            announce: (note) => this.notes.announce(note),
            now: () => performance.now(),
            wallSeconds: () => Math.floor(Date.now() / 1000),
            diverged: (message) => this.markCorrupt(message),
            warn: (message) => logger.warn(message),
          });
    const lease = config.unsafeTestingKnobs.includes("leaseReadsWithoutCheckQuorum");
    this.reads = new ReadBatcher(REQUEST_TIMEOUT_MS, id, (requestId) =>
      member.raft.readIndex(requestId, { lease }),
    );
    this.publisher = new ClientUrlPublisher({
      retryMs: config.tickMs * config.electionTicks,
      maxRetryMs: REQUEST_TIMEOUT_MS,
      state: () => this.publishState(),
      propose: () => this.publishClientUrl(),
      now: () => performance.now(),
      warn: (message) => logger.warn(message),
    });
  }

  static async start(
    config: NodeConfig,
    logger: PinoLogger,
    onFatal: (error: Error) => void,
  ): Promise<QmeshNode> {
    const token = config.initialClusterToken;
    const clusterId = clusterIdOf(token);
    const layout = dataDirLayout(config.dataDir);
    const secure = config.advertisePeerUrl.startsWith("https:");
    const tls = secure ? loadPeerTls(config) : null;
    const { isNew, memberId: id } = claimDataDir(layout, {
      clusterToken: token,
      name: config.name,
      memberId: memberIdFor(config.advertisePeerUrl, token),
    });
    const initialMembers: MemberInfo[] = config.initialCluster.map((m) => ({
      id: memberIdFor(m.peerUrl, token),
      name: m.name,
      peerUrl: m.peerUrl,
      // Client URLs become known through the log (publishClientUrl), never from flags alone.
      clientUrl: "",
    }));
    const bootstrap = config.initialClusterState === "new" ? initialMembers.map((m) => m.id) : null;
    const state = await openState(layout, isNew, bootstrap, logger);
    const stored = state.kv.getMeta(MEMBERS_META_KEY);
    const members =
      stored === undefined ? new MemberRegistry(initialMembers) : MemberRegistry.decode(stored);
    let ledger: MemberLedger;
    let ledgerKeys: LedgerKeys | null = null;
    const verdicts = new MlDsaVerdicts();
    try {
      ledger = new MemberLedger(state.kv, {
        enabled: config.ledger,
        origin: ledgerOrigin(clusterId),
        onEvents: (events) => node?.checkpointer?.applied(events),
        verdicts,
      });
      if (config.ledger) {
        ledgerKeys = await loadOrCreateLedgerKeys(
          config.dataDir,
          `${config.name}.${clusterId}`,
          {},
        );
      }
    } catch (error) {
      await state.wal.close();
      await state.kv.close();
      throw error;
    }

    const raft = new RawNode({
      id,
      storage: state.storage,
      random: new SeededRandom(randomInt(2 ** 31)),
      electionTimeoutTicks: config.electionTicks,
      heartbeatIntervalTicks: 1,
      appliedIndex: state.appliedIndex,
      ...raftSafety(config),
      preVote: true,
      logger: {
        debug: (m) => logger.debug(m),
        info: (m) => logger.info(m),
        warn: (m) => logger.warn(m),
      },
    });
    let node: QmeshNode | null = null;
    const transport = new Transport({
      self: { id, name: config.name, url: config.advertisePeerUrl },
      listenUrl: config.listenPeerUrl,
      clusterId: token,
      tls,
      logger,
      onMessages: (messages) => node?.member.step(messages),
      onSnapshot: (message, file) => node?.member.receiveSnapshot(message, file),
      receiveSnapshot: (bytes, checksum) => state.snapshots.receive(bytes, checksum),
      onPeerUnreachable: (peer) => node?.member.raft.reportUnreachable(peer),
      answerQuery: async (_from, request) => {
        const query = decodePeerQuery(request);
        if (query.query === "hash-history") return answerHashQuery(state.kv, query.revision);
        await node?.notes.check(query.note);
        return new Uint8Array(0);
      },
    });
    const metrics = new NodeMetrics();
    const disk = new DiskFull(config.dataDir, logger);
    const member = new RaftMember(
      raft,
      { ...state, metrics, logger, disk: disk.retry, paths: layout, ledger },
      members,
      {
        send: (messages) => transport.send(messages),
        flush: () => transport.flush(),
        sendSnapshot: (message) => node!.sendSnapshot(message),
        onProposalApplied: (sequence, result, leafIndex) => {
          if (result !== null && leafIndex !== null) node?.ledgerIndexes.set(result, leafIndex);
          node?.proposals.resolve(sequence, result);
        },
        onReadState: (requestId, index) => node?.reads.accept(requestId, index),
        onApplied: (applied) => node?.afterApply(applied),
        onLeaderChange: (leader, isLeader) => node?.leaderChanged(leader, isLeader),
        onMembersChanged: (confState) => node?.membersChanged(confState),
        onFatal: (error) => node?.fail(error),
      },
      { everyEntries: config.snapshotCount, catchUpEntries: config.snapshotCatchUpEntries },
    );
    node = new QmeshNode(
      metrics,
      config,
      id,
      clusterId,
      state,
      members,
      transport,
      member,
      logger,
      onFatal,
      disk,
      ledger,
      ledgerKeys,
    );
    try {
      await transport.listen();
    } catch (error) {
      await state.wal.close();
      await state.kv.close();
      throw error;
    }
    node.membersChanged(member.confState);
    node.watchDisk();
    node.startTimers();
    logger.info(
      `member ${config.name} (id ${id.toString(16)}) started; peers on ${config.listenPeerUrl}` +
        (config.advertisePeerUrl === config.listenPeerUrl
          ? ""
          : ` (advertised as ${config.advertisePeerUrl})`),
    );
    // The first drive re-applies the committed log since the snapshot, conf changes included:
    // only then does the member know its voters.
    member.drive();
    // Before the client port opens (the caller opens it once this returns).
    const check = config.initialCorruptCheck
      ? await checkMemberAgainstPeers({
          id,
          registered: members.list(),
          voters: member.confState.voters,
          kv: state.kv,
          transport,
          logger,
        })
      : null;
    if (check !== null) node.markCorrupt(check);
    return node;
  }

  get kv(): MvccStore {
    return this.state.kv;
  }

  /** The current Raft term (etcd's response header raft_term). */
  get term(): number {
    return this.member.term;
  }

  get leaderId(): NodeId {
    return this.member.leader;
  }

  get isLeader(): boolean {
    return this.member.isLeader;
  }

  get peerPort(): number {
    return this.transport.port;
  }

  /** Replicates a kv command and resolves with its result once this member applied it. */
  async propose(command: Command): Promise<ApplyResult | null> {
    const payload = encodeCommand(command);
    if (payload.length > this.config.maxRequestBytes) {
      throw new RequestTooLargeError(
        `request is ${payload.length} bytes, over the limit of ${this.config.maxRequestBytes} ` +
          "(--max-request-bytes): split it or store large values elsewhere",
      );
    }
    if (consumesSpace(command)) this.checkSpace(payload.length);
    await this.awaitLeader();
    return this.proposeRaw(ProposalKind.Kv, payload, command.op);
  }

  /**
   * etcd's quota check before proposing: refuse while a NOSPACE alarm is active, and raise one
   * (through the log, so every member caps writes) when this write would pass the quota. The
   * bytes in use, not the file size, since LMDB reuses the pages compaction frees.
   */
  /**
   * Whether a NOSPACE alarm for this member came from --quota-backend-bytes (then only an
   * operator clears it, as in etcd): both kinds look the same in the store, so the quota one
   * is remembered from the moment it is proposed until it is gone from the applied alarms.
   */
  private quotaAlarmIsOurs(): boolean {
    const present = this.state.kv.alarms.some((a) => a.memberId === this.id && a.alarm === NOSPACE);
    if (!present && !this.raisingNoSpace) this.quotaAlarmRaised = false;
    return this.quotaAlarmRaised || this.state.kv.dbSize().inUse > this.config.quotaBackendBytes;
  }

  private checkSpace(requestBytes: number): void {
    if (this.state.kv.noSpace || this.disk.full) throw new KvError("NoSpace");
    const now = performance.now();
    if (now - this.inUse.at >= SPACE_CHECK_MS)
      this.inUse = { bytes: this.state.kv.dbSize().inUse, at: now };
    if (this.inUse.bytes + requestBytes <= this.config.quotaBackendBytes) return;
    if (!this.raisingNoSpace) {
      this.raisingNoSpace = true;
      this.quotaAlarmRaised = true;
      const raise: Command = { op: "alarm", action: "activate", memberId: this.id, alarm: NOSPACE };
      this.propose(raise)
        .catch((error: Error) => this.logger.warn({ err: error }, "raising NOSPACE alarm failed"))
        .finally(() => {
          this.raisingNoSpace = false;
        });
    }
    throw new KvError("NoSpace");
  }

  /**
   * During an election there is briefly no leader; a client is better served by waiting a few
   * election timeouts than by an error it must retry (etcd's clients retry the same way).
   */
  private async awaitLeader(): Promise<void> {
    const deadline = performance.now() + 3 * this.config.tickMs * this.config.electionTicks;
    while (this.member.leader === 0 && performance.now() < deadline && !this.closed) {
      await new Promise((resolve) => setTimeout(resolve, this.config.tickMs));
    }
  }

  private proposeRaw(kind: ProposalKind, payload: Uint8Array, what: string, evenIfCorrupt = false) {
    if (!evenIfCorrupt || this.corruption === null) this.checkUsable();
    // Its own log cannot take the entry: fail now rather than at the request timeout.
    if (this.disk.full) throw new KvError("NoSpace");
    const { sequence, result } = this.proposals.register(what);
    this.metrics.proposals.inc();
    try {
      this.member.raft.propose(encodeProposal(kind, this.id, sequence, payload));
    } catch (error) {
      this.metrics.proposalsFailed.inc();
      this.proposals.reject(sequence, noLeader(error as Error));
    }
    this.member.drive();
    result.catch(() => this.metrics.proposalsFailed.inc());
    return result;
  }

  /** A range read: linearizable (a ReadIndex round) unless `serializable`. */
  async range(request: RangeRequest, serializable: boolean): Promise<RangeResponse> {
    this.checkUsable();
    if (!serializable) {
      await this.awaitLeader();
      const waiting = this.reads.wait();
      this.reads.flush();
      this.member.drive();
      await waiting;
    }
    return this.state.kv.range(request);
  }

  /** The ledger leaf that records a write this member proposed (its receipt). */
  ledgerIndexOf(result: ApplyResult): number | undefined {
    return this.ledgerIndexes.get(result);
  }

  leaseKeepAlive(id: number): number {
    if (!this.member.isLeader)
      throw new NotLeaderError("lease keep-alive must be sent to the leader");
    return this.state.kv.leases.keepAlive(id, performance.now());
  }

  newLeaseId(): number {
    // A random safe integer, never zero (crypto.randomInt's range is limited to 2^48).
    return randomInt(1, 2 ** 48);
  }

  leaderMember(): MemberInfo | undefined {
    return this.members.get(this.member.leader);
  }

  status(): NodeStatus {
    return {
      id: this.id,
      name: this.config.name,
      clusterId: this.clusterId,
      leader: this.member.leader,
      term: this.member.term,
      commitIndex: this.member.commitIndex,
      appliedIndex: this.state.kv.appliedIndex,
      revision: this.state.kv.revision,
      isLearner: this.member.confState.learners.includes(this.id),
    };
  }

  /** A write is waiting for space on the data directory's disk (see disk_full.ts). */
  get diskFull(): boolean {
    return this.disk.full;
  }

  /** Serving: a leader is known, the disk has room, the member has neither failed nor stopped. */
  healthy(): boolean {
    return (
      this.member.leader !== 0 &&
      this.fatal === null &&
      !this.closed &&
      !this.disk.full &&
      this.corruption === null
    );
  }

  confState(): ConfState {
    return this.member.confState;
  }

  /**
   * Adds a member (as a learner when asked: it catches up before it can vote). `name` may be
   * empty (etcd's MemberAdd has none): the member then names itself when it publishes.
   */
  async addMember(name: string, peerUrl: string, learner: boolean): Promise<MemberInfo> {
    if (name !== "" && !MEMBER_NAME.test(name)) {
      throw new MembershipError(`"${name}" is not a valid member name`);
    }
    const problem = peerUrlProblem(peerUrl, new URL(this.config.advertisePeerUrl).protocol);
    if (problem !== null) throw new MembershipError(`peer URL ${peerUrl}: ${problem}`);
    if (this.members.byPeerUrl(peerUrl) !== undefined) {
      throw new PeerUrlExistsError(`peer URL ${peerUrl} is already a member's`);
    }
    const id = memberIdFor(peerUrl, this.config.initialClusterToken);
    if (this.members.wasRemoved(id)) {
      throw new MembershipError(
        `peer URL ${peerUrl} belonged to removed member ${id.toString(16)}; qmesh derives ` +
          "member ids from peer URLs and never reuses a removed id: use another host or port",
      );
    }
    if (this.members.get(id) !== undefined || (name !== "" && this.members.byName(name))) {
      throw new MembershipError(`member "${name || peerUrl}" is already in the cluster`);
    }
    const info: MemberInfo = { id, name, peerUrl, clientUrl: "" };
    const type = learner ? ConfChangeType.AddLearnerNode : ConfChangeType.AddNode;
    await this.changeMembership(
      {
        transition: ConfChangeTransition.Auto,
        changes: [{ type, nodeId: id }],
        context: encodeMemberInfo(info),
      },
      () => (learner ? this.member.confState.learners : this.member.confState.voters).includes(id),
    );
    return info;
  }

  /**
   * Changes a member's peer URL through the log (etcd's MemberUpdate); every member re-dials it.
   * Its id stays the one derived from its first URL.
   */
  async updateMember(id: NodeId, peerUrl: string): Promise<MemberInfo> {
    const known = this.members.get(id);
    if (known === undefined) {
      throw new MembershipError(`member ${id.toString(16)} is not in the cluster`);
    }
    const problem = peerUrlProblem(peerUrl, new URL(this.config.advertisePeerUrl).protocol);
    if (problem !== null) throw new MembershipError(`peer URL ${peerUrl}: ${problem}`);
    const owner = this.members.byPeerUrl(peerUrl);
    if (owner !== undefined && owner.id !== id) {
      throw new PeerUrlExistsError(`peer URL ${peerUrl} is already a member's`);
    }
    // Without the ledger keys: only the member itself publishes those (members.ts).
    const { ledgerKeys: _keys, ledgerKeysIndex: _index, ...info } = { ...known, peerUrl };
    await this.awaitLeader();
    await this.proposeRaw(ProposalKind.MemberAttributes, encodeMemberInfo(info), "member update");
    return info;
  }

  /**
   * etcd's isLearnerReady: on the leader, the learner's matched index is at least 90% of the
   * leader's own. Unknown (false) off the leader.
   */
  learnerCaughtUp(id: NodeId): boolean {
    const progress = this.member.raft.status().progress;
    const learner = progress?.get(id)?.match;
    const leader = progress?.get(this.id)?.match;
    if (learner === undefined || leader === undefined) return false;
    return learner >= leader * 0.9;
  }

  async promoteMember(id: NodeId): Promise<void> {
    const info = this.members.get(id);
    if (info === undefined || !this.member.confState.learners.includes(id)) {
      throw new MembershipError(`member ${id.toString(16)} is not a learner of this cluster`);
    }
    await this.changeMembership(
      {
        transition: ConfChangeTransition.Auto,
        changes: [{ type: ConfChangeType.AddNode, nodeId: id }],
        context: encodeMemberInfo(info),
      },
      () => this.member.confState.voters.includes(id),
    );
  }

  async removeMember(id: NodeId): Promise<void> {
    if (this.members.get(id) === undefined) {
      throw new MembershipError(`member ${id.toString(16)} is not in the cluster`);
    }
    await this.changeMembership(
      {
        transition: ConfChangeTransition.Auto,
        changes: [{ type: ConfChangeType.RemoveNode, nodeId: id }],
        context: new Uint8Array(0),
      },
      () => {
        const c = this.member.confState;
        return ![...c.voters, ...c.learners, ...c.votersOutgoing].includes(id);
      },
    );
  }

  /**
   * Sets (or clears, with null) the transport's fault hook, peers named by member name. Only
   * with --enable-fault-injection: a test harness's tool, never a production control.
   */
  setFault(
    fault: { delayMs: number; lossRate: number; blockedTo: string[]; blockedFrom: string[] } | null,
  ): void {
    if (!this.config.enableFaultInjection) {
      throw new MembershipError(
        "fault injection is off: start the member with --enable-fault-injection true",
      );
    }
    if (fault === null) {
      this.transport.fault = null;
      this.logger.warn("fault injection cleared");
      return;
    }
    const ids = (names: string[]) =>
      new Set(
        names.map((name) => {
          const member = this.members.byName(name);
          if (member === undefined) throw new MembershipError(`no member named "${name}"`);
          return member.id;
        }),
      );
    this.transport.fault = {
      delayMs: fault.delayMs,
      lossRate: fault.lossRate,
      blockedTo: ids(fault.blockedTo),
      blockedFrom: ids(fault.blockedFrom),
    };
    this.logger.warn(`fault injection set: ${JSON.stringify(fault)}`);
  }

  transferLeadership(to: NodeId): void {
    if (!this.member.isLeader) throw new NotLeaderError("only the leader can transfer leadership");
    this.member.raft.transferLeadership(to);
    this.member.drive();
  }

  private async changeMembership(change: ConfChange, done: () => boolean): Promise<void> {
    this.checkUsable();
    if (!this.member.isLeader) {
      throw new NotLeaderError("membership changes must be sent to the leader");
    }
    try {
      this.member.raft.proposeConfChange(change);
    } catch (error) {
      throw new MembershipError(`membership change refused: ${(error as Error).message}`);
    }
    this.member.drive();
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.membershipWaiters.delete(check);
        reject(
          new MembershipError(`membership change not applied within ${REQUEST_TIMEOUT_MS} ms`),
        );
      }, REQUEST_TIMEOUT_MS);
      const check = (stopping?: Error) => {
        if (stopping !== undefined) {
          clearTimeout(timer);
          reject(stopping);
          return;
        }
        if (!done()) return;
        clearTimeout(timer);
        this.membershipWaiters.delete(check);
        resolve();
      };
      this.membershipWaiters.add(check);
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const timer of this.timers) clearInterval(timer);
    this.member.stop();
    const stopping = new Error("member is shutting down");
    this.proposals.rejectAll(stopping);
    this.reads.rejectAll(stopping);
    for (const check of this.membershipWaiters) check(stopping);
    await this.transport.close();
    await Promise.allSettled([...this.snapshotSends]);
    await this.member.idle();
    try {
      await this.state.wal.close();
    } catch (error) {
      // A full disk: what it could not write was never acknowledged.
      this.logger.warn(`closing the WAL: ${(error as Error).message}`);
    }
    await this.state.kv.close();
    await this.mldsa?.close();
    this.logger.info(`member ${this.config.name} stopped`);
  }

  private checkUsable(): void {
    if (this.fatal !== null) throw this.fatal;
    if (this.closed) throw new StoppedError("member is shutting down");
    if (this.corruption !== null) throw this.corruption;
  }

  /** As etcd's corruption check: raise CORRUPT for this member through the log, stop serving. */
  private markCorrupt(message: string): void {
    if (this.corruption !== null) return;
    this.logger.error(message);
    this.corruption = new CorruptError(message);
    const raise: Command = { op: "alarm", action: "activate", memberId: this.id, alarm: CORRUPT };
    const retry = (error: Error): void => {
      this.logger.warn(`raising the CORRUPT alarm failed (retrying): ${error.message}`);
      setTimeout(attempt, 1_000).unref();
    };
    const attempt = (): void => {
      if (this.closed || this.fatal !== null) return;
      try {
        // Proposed past checkUsable: this member refuses clients, not its own alarm.
        this.proposeRaw(ProposalKind.Kv, encodeCommand(raise), "alarm", true).catch(retry);
      } catch (error) {
        retry(error as Error); // e.g. its disk is full: the alarm waits for room
      }
    };
    attempt();
  }

  /** The published public ledger keys of the voters, as stored in the member registry. */
  voterLedgerKeys(): string[] {
    return this.voterKeyPublications().map((published) => published.keys);
  }

  /** Each voter's published ledger keys and the raft entry that published them, if known. */
  voterKeyPublications(): { keys: string; raftIndex: number | undefined }[] {
    const published: { keys: string; raftIndex: number | undefined }[] = [];
    for (const id of this.member.confState.voters) {
      const member = this.members.get(id);
      if (member?.ledgerKeys !== undefined) {
        published.push({ keys: member.ledgerKeys, raftIndex: member.ledgerKeysIndex });
      }
    }
    return published;
  }

  /** Why this member stopped serving because its ledger diverged, if it did. */
  get corrupt(): string | null {
    return this.corruption?.message ?? null;
  }

  private fail(error: Error): void {
    this.fatal = error;
    this.logger.error({ stack: error.stack }, `fatal: ${error.message}`);
    this.proposals.rejectAll(error);
    this.reads.rejectAll(error);
    this.onFatal(error);
  }

  private afterApply(appliedIndex: number): void {
    this.reads.served(appliedIndex);
    this.metrics.applyLag.set(Math.max(0, this.member.commitIndex - appliedIndex));
  }

  private leaderChanged(leader: NodeId, isLeader: boolean): void {
    const leases = this.state.kv.leases;
    if (isLeader) leases.promote(performance.now(), this.config.tickMs * this.config.electionTicks);
    else leases.demote();
    this.reads.retryInFlight();
    this.publisher.leaderChanged(leader);
  }

  /** Never throws: it runs while entries are applied, and a bad address must not stop apply. */
  private membersChanged(_confState: ConfState): void {
    const peers: PeerAddress[] = [];
    const ownScheme = new URL(this.config.advertisePeerUrl).protocol;
    for (const member of this.members.list()) {
      if (member.id === this.id || member.peerUrl === "") continue;
      const problem = peerUrlProblem(member.peerUrl, ownScheme);
      if (problem !== null || (member.name !== "" && peers.some((p) => p.name === member.name))) {
        this.logger.warn(
          `member ${member.name}: unusable peer URL ${member.peerUrl} (${problem ?? "duplicate name"}); not connecting`,
        );
        continue;
      }
      peers.push({ id: member.id, name: member.name, url: member.peerUrl });
    }
    try {
      this.transport.setPeers(peers);
    } catch (error) {
      this.logger.error(`updating peers failed: ${(error as Error).message}`);
    }
    for (const check of [...this.membershipWaiters]) check();
  }

  /** Whether our registry entry shows this member's client URL and name (see publish.ts). */
  private publishState(): PublishState {
    const known = this.members.get(this.id);
    if (known === undefined) return "absent";
    const current =
      known.clientUrl === this.config.advertiseClientUrls[0] &&
      known.name === this.config.name &&
      known.ledgerKeys === this.publicLedgerKeys;
    return current ? "current" : "stale";
  }

  /** Tells the cluster our client URL through the log, as etcd's publish does. */
  private publishClientUrl(): Promise<unknown> {
    const known = this.members.get(this.id)!;
    // The name too: a member added by etcd's MemberAdd is known by its peer URL only.
    const info: MemberInfo = {
      ...known,
      name: this.config.name,
      clientUrl: this.config.advertiseClientUrls[0]!,
      ...(this.publicLedgerKeys !== undefined && { ledgerKeys: this.publicLedgerKeys }),
    };
    return this.proposeRaw(ProposalKind.MemberAttributes, encodeMemberInfo(info), "publish");
  }

  private sendSnapshot(message: Message): Promise<boolean> {
    const sending = this.streamSnapshot(message);
    this.snapshotSends.add(sending);
    const forget = () => this.snapshotSends.delete(sending);
    sending.then(forget, forget);
    return sending;
  }

  private async streamSnapshot(message: Message): Promise<boolean> {
    const temp = this.state.snapshots.tempPath();
    try {
      await this.state.kv.backup(temp);
      const checksum = await this.state.snapshots.checksum(temp);
      await this.transport.sendSnapshot(message, temp, checksum);
      return true;
    } finally {
      await rm(temp, { force: true });
    }
  }

  /** See disk_alarm.ts: etcd's NOSPACE alarm while this member's disk is full. */
  private watchDisk(): void {
    const alarm = new DiskAlarm(
      {
        id: this.id,
        full: () => this.disk.full,
        raftStatus: () => this.member.raft.status(),
        send: (message) => {
          this.transport.send([message]);
          this.transport.flush();
        },
        timeoutNow: (to) => this.member.raft.timeoutNowMessage(to),
        entry: (command) => {
          // Nobody waits for it: this member applies it only once its disk has room again.
          const { sequence, result } = this.proposals.register("NOSPACE alarm");
          result.catch(() => {});
          return encodeProposal(ProposalKind.Kv, this.id, sequence, encodeCommand(command));
        },
        alarms: () => this.state.kv.alarms,
        overQuota: () => this.quotaAlarmIsOurs(),
        deactivate: (command) => this.propose(command),
        now: () => performance.now(),
        info: (message) => this.logger.info(message),
        warn: (message) => this.logger.warn(message),
      },
      {
        resendMs: DISK_ALARM_RESEND_MS,
        handOffMs: this.config.tickMs * this.config.electionTicks,
        graceMs: DISK_ALARM_GRACE_MS,
      },
    );
    this.disk.watch(alarm);
  }

  private startTimers(): void {
    const every = (ms: number, work: () => void) => {
      const timer = setInterval(() => {
        if (this.closed || this.fatal !== null) return;
        try {
          work();
        } catch (error) {
          this.logger.warn(`timer: ${(error as Error).message}`);
        }
      }, ms);
      timer.unref();
      this.timers.push(timer);
    };
    every(this.config.tickMs, () => {
      this.member.raft.tick();
      this.member.drive();
      this.reads.retryIfStale(this.config.tickMs * this.config.electionTicks);
      this.publisher.tick(this.member.leader);
    });
    every(LEASE_CHECK_MS, () => this.expireLeases());
    if (this.checkpointer !== null) every(CHECKPOINT_CHECK_MS, () => this.checkpointer!.tick());
    every(PROGRESS_NOTIFY_MS, () => this.state.kv.watches.progress());
    every(PEER_STATS_MS, () => this.recordPeerStats());
    every(DISK_ALARM_MS, () => this.disk.tick());
    if (this.config.autoCompaction !== null) {
      const compactor = new AutoCompactor(this.config.autoCompaction, {
        revision: () => this.state.kv.revision,
        compactRevision: () => this.state.kv.compactRevision,
        isLeader: () => this.member.isLeader,
        compact: (revision) => this.propose({ op: "compact", revision }),
        warn: (message) => this.logger.warn(message),
        info: (message) => this.logger.info(message),
      });
      every(compactor.stepMs, () => compactor.tick());
    }
  }

  /** The leader alone decides expiry, and revokes through the log so every member agrees. */
  private expireLeases(): void {
    if (!this.member.isLeader) return;
    for (const id of this.state.kv.leases.expired(performance.now(), MAX_EXPIRED_PER_CHECK)) {
      if (this.revoking.has(id)) continue;
      this.revoking.add(id);
      this.propose({ op: "leaseRevoke", id })
        .catch((error: Error) =>
          this.logger.warn(`revoking expired lease ${id} failed: ${error.message}`),
        )
        .finally(() => this.revoking.delete(id));
    }
  }

  private recordPeerStats(): void {
    const raftStatus = this.member.raft.status();
    for (const [peer, stats] of this.transport.peerStats()) {
      const name = this.members.get(peer)?.name ?? String(peer);
      this.metrics.peerConnected.set({ peer: name }, stats.connected ? 1 : 0);
      if (stats.rttMs !== null)
        this.metrics.peerRoundTripSeconds.set({ peer: name }, stats.rttMs / 1000);
      const progress = raftStatus.progress?.get(peer);
      if (progress !== undefined) {
        this.metrics.peerLagEntries.set(
          { peer: name },
          Math.max(0, this.state.storage.lastIndex() - progress.match),
        );
      }
    }
  }
}

/** Why a peer URL cannot be used in this cluster, or null when it can. */
function peerUrlProblem(url: string, clusterScheme: string): string | null {
  try {
    const { secure } = parsePeerUrl(url);
    if ((secure ? "https:" : "http:") !== clusterScheme) {
      return `the cluster's peers use ${clusterScheme}//, and all members must`;
    }
    return null;
  } catch (error) {
    return (error as Error).message;
  }
}

function noLeader(error: Error): Error {
  return new NotLeaderError(`no leader to accept the proposal (${error.message}); retry shortly`);
}

/** CheckQuorum on, unless a deliberate bug for the fault suite's self-check turns it off. */
function raftSafety(
  config: NodeConfig,
): Partial<Pick<RaftConfig, "checkQuorum" | "leaseReads" | "testingKnobs">> {
  if (!config.unsafeTestingKnobs.includes("leaseReadsWithoutCheckQuorum"))
    return { checkQuorum: true };
  return {
    checkQuorum: false,
    leaseReads: true,
    testingKnobs: { leaseReadsWithoutCheckQuorum: true },
  };
}
