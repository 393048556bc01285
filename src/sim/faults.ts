// The fault schedule: during the fault phase, episodes of the seed's chosen kinds start at
// random times and end after random durations. Targets (which member, which leader) are
// chosen when an episode starts, from the cluster as it is then.
import type { NodeId, SeededRandom } from "../raft/index.ts";
import type { SimCluster } from "./cluster.ts";
import type { SimMember } from "./member.ts";
import type { Operator } from "./operator.ts";
import { intBetween, pick, pickWeighted, shuffled } from "./random_helpers.ts";
import type { FaultKind, Scenario } from "./scenario.ts";

type Link = readonly [NodeId, NodeId];

export interface FaultStats {
  episodes: Record<FaultKind, number>;
  crashes: number;
}

export class FaultInjector {
  readonly stats: FaultStats;
  /** Bumped by every partition (and storm): an episode's end only undoes its own. */
  private partitionEpoch = 0;
  private stormEpoch = 0;
  private healed = false;

  constructor(
    private readonly cluster: SimCluster,
    private readonly operator: Operator,
    private readonly random: SeededRandom,
    private readonly scenario: Scenario,
  ) {
    const episodes = {} as Record<FaultKind, number>;
    for (const kind of Object.keys(scenario.faults.weights) as FaultKind[]) episodes[kind] = 0;
    this.stats = { episodes, crashes: 0 };
  }

  /** Schedules every episode start in [startUs, endUs); a bounded loop (gaps are >= 1 tick). */
  scheduleEpisodes(startUs: number, endUs: number): void {
    const plan = this.scenario.faults;
    if (Object.values(plan.weights).every((weight) => weight === 0)) return;
    const tickUs = this.scenario.baseTickUs;
    let timeUs = startUs;
    while (timeUs < endUs) {
      const kind = pickWeighted(this.random, plan.weights);
      const durationUs =
        intBetween(this.random, plan.minEpisodeTicks, plan.maxEpisodeTicks) * tickUs;
      this.cluster.scheduler.at(timeUs, () => this.begin(kind, durationUs));
      timeUs +=
        Math.max(
          1,
          intBetween(
            this.random,
            Math.ceil(plan.meanGapTicks / 2),
            Math.ceil((plan.meanGapTicks * 3) / 2),
          ),
        ) * tickUs;
    }
  }

  /** The end of the fault phase: no new episodes; partitions, pauses, slow disks, storms end. */
  healAll(): void {
    this.healed = true;
    this.partitionEpoch++;
    this.stormEpoch++;
    this.cluster.network.heal();
    // The network keeps its delays (and so its reordering) but stops losing messages: the
    // liveness bound is about the protocol recovering, not about a lossy link's bad luck.
    this.cluster.network.profile = {
      ...this.cluster.network.baseProfile,
      lossChance: 0,
      duplicateChance: 0,
    };
    for (const member of this.cluster.members.values()) {
      member.slowDisk = false;
      member.resume();
    }
    for (const member of this.cluster.configMembers()) this.cluster.restart(member);
    this.cluster.traceLine(
      "sim",
      "HEAL: partitions healed, members restarted, disks normal, no more loss",
    );
  }

  private begin(kind: FaultKind, durationUs: number): void {
    if (this.healed) return;
    this.stats.episodes[kind]++;
    switch (kind) {
      case "partition-split":
        this.partition(kind, this.splitLinks(), durationUs);
        return;
      case "partition-one-way":
        this.partition(kind, this.oneWayLinks(), durationUs);
        return;
      case "partition-bridge":
        this.partition(kind, this.bridgeLinks(), durationUs);
        return;
      case "isolate-leader":
        this.isolateLeader(durationUs);
        return;
      case "stale-leader":
        this.staleLeader(durationUs);
        return;
      case "crash":
        this.crashFor(this.pickRunning(), durationUs);
        return;
      case "crash-leader":
        this.crashFor(this.cluster.leader(), durationUs);
        return;
      case "power-blip":
        this.crashFor(this.pickRunning(), intBetween(this.random, 1, 3) * this.scenario.baseTickUs);
        return;
      case "slow-disk":
        this.slowDisk(durationUs);
        return;
      case "pause":
        this.pause(durationUs);
        return;
      case "network-storm":
        this.storm(durationUs);
        return;
      case "membership":
        this.operator.changeMembership();
        return;
      case "transfer-leader":
        this.operator.transferLeadership();
        return;
    }
  }

  private memberIds(): NodeId[] {
    return [...this.cluster.members.values()]
      .filter((member) => member.state !== "removed")
      .map((member) => member.id);
  }

  private partition(kind: string, links: Link[], durationUs: number): void {
    const epoch = ++this.partitionEpoch;
    this.cluster.network.setBlockedLinks(links);
    this.cluster.traceLine(
      "net",
      `PARTITION ${kind}: cut ${links.map(([from, to]) => `${from}->${to}`).join(" ")}`,
    );
    this.cluster.scheduler.after(durationUs, () => this.endPartition(epoch));
  }

  private endPartition(epoch: number): void {
    if (epoch !== this.partitionEpoch || this.healed) return;
    this.cluster.network.heal();
    this.cluster.traceLine("net", "partition healed");
  }

  /** Two groups that cannot talk (sizes random: majority/minority or an even split). */
  private splitLinks(): Link[] {
    const ids = shuffled(this.random, this.memberIds());
    const cut = intBetween(this.random, 1, Math.max(1, ids.length - 1));
    return betweenGroups(ids.slice(0, cut), ids.slice(cut));
  }

  /** Random one-way cuts: a member may hear another without being heard back. */
  private oneWayLinks(): Link[] {
    const ids = this.memberIds();
    const links: Link[] = [];
    for (const from of ids)
      for (const to of ids) if (from !== to && this.random.chance(0.3)) links.push([from, to]);
    if (links.length === 0 && ids.length > 1) links.push([ids[0]!, ids[1]!]);
    return links;
  }

  /** Two groups that cannot talk, and one member that talks to both (a bridge). */
  private bridgeLinks(): Link[] {
    const ids = shuffled(this.random, this.memberIds());
    const rest = ids.slice(1);
    const cut = intBetween(this.random, 1, Math.max(1, rest.length - 1));
    return betweenGroups(rest.slice(0, cut), rest.slice(cut));
  }

  private isolateLeader(durationUs: number): void {
    const leader = this.cluster.leader();
    if (leader === null) return;
    const others = this.memberIds().filter((id) => id !== leader.id);
    this.partition("isolate-leader", betweenGroups([leader.id], others), durationUs);
  }

  /**
   * The setting for a stale read: one follower loses the leader and campaigns; as soon as some
   * other member wins, the old leader stops hearing anyone (while clients can still reach it),
   * so nothing tells it that it was deposed. Without the CheckQuorum vote refusals behind its
   * lease, that is where it would serve stale lease reads.
   */
  private staleLeader(durationUs: number): void {
    const leader = this.cluster.leader();
    if (leader === null) return;
    const others = this.memberIds().filter((id) => id !== leader.id);
    if (others.length === 0) return;
    const follower = pick(this.random, others);
    const firstCut: Link[] = [
      [leader.id, follower],
      [follower, leader.id],
    ];
    this.partition("stale-leader (follower cut from leader)", firstCut, durationUs);
    const epoch = this.partitionEpoch;
    const deafen = (): void => {
      if (epoch !== this.partitionEpoch || this.healed) return;
      this.partitionEpoch++;
      const deafLeader: Link[] = [...firstCut, ...others.map((id): Link => [id, leader.id])];
      this.cluster.network.setBlockedLinks(deafLeader);
      this.cluster.traceLine("net", `PARTITION stale-leader: n${leader.id} now hears no one`);
      const deafEpoch = this.partitionEpoch;
      this.cluster.scheduler.after(durationUs, () => this.endPartition(deafEpoch));
    };
    const listener = (winner: SimMember): void => {
      if (winner !== leader && winner.term > leader.term) deafen();
    };
    this.cluster.leaderListeners.push(listener);
    const fallbackUs = 3 * this.scenario.raft.electionTimeoutTicks * this.scenario.baseTickUs;
    this.cluster.scheduler.after(Math.min(fallbackUs, durationUs - 1), deafen);
    this.cluster.scheduler.after(durationUs, () => {
      const position = this.cluster.leaderListeners.indexOf(listener);
      if (position >= 0) this.cluster.leaderListeners.splice(position, 1);
    });
  }

  private pickRunning(): SimMember | null {
    const running = [...this.cluster.members.values()].filter((member) => member.isRunning);
    return running.length === 0 ? null : pick(this.random, running);
  }

  private crashFor(member: SimMember | null, durationUs: number): void {
    if (member === null || !member.isRunning) return;
    const crashed = [...this.cluster.members.values()].filter((m) => m.state === "crashed").length;
    if (crashed >= this.scenario.faults.maxCrashedMembers) return;
    this.stats.crashes++;
    this.cluster.crash(member);
    this.cluster.scheduler.after(durationUs, () => {
      if (this.healed) return;
      if (this.cluster.configMembers().includes(member)) this.cluster.restart(member);
    });
  }

  private slowDisk(durationUs: number): void {
    const member = this.pickRunning();
    if (member === null) return;
    member.slowDisk = true;
    this.cluster.traceLine(member.name, "SLOW DISK");
    this.cluster.scheduler.after(durationUs, () => {
      member.slowDisk = false;
      this.cluster.traceLine(member.name, "disk normal");
    });
  }

  /** A process freeze (GC, VM steal): it hears nothing and does nothing, then catches up. */
  private pause(durationUs: number): void {
    const member = this.random.chance(0.5) ? this.cluster.leader() : this.pickRunning();
    if (member === null || member.paused) return;
    member.pause();
    const incarnation = member.incarnation;
    this.cluster.traceLine(member.name, "PAUSE");
    this.cluster.scheduler.after(durationUs, () => {
      if (member.incarnation !== incarnation) return;
      member.resume();
      this.cluster.traceLine(member.name, "resume");
    });
  }

  private storm(durationUs: number): void {
    const epoch = ++this.stormEpoch;
    const base = this.cluster.network.baseProfile;
    this.cluster.network.profile = {
      ...base,
      lossChance: Math.max(base.lossChance, pick(this.random, [0.2, 0.4])),
      duplicateChance: Math.max(base.duplicateChance, 0.1),
      tailChance: Math.max(base.tailChance, 0.2),
    };
    this.cluster.traceLine("net", "STORM: heavy loss, duplication and reordering");
    this.cluster.scheduler.after(durationUs, () => {
      if (epoch !== this.stormEpoch) return;
      this.cluster.network.profile = base;
      this.cluster.traceLine("net", "storm over");
    });
  }
}

function betweenGroups(left: readonly NodeId[], right: readonly NodeId[]): Link[] {
  const links: Link[] = [];
  for (const a of left) {
    for (const b of right) {
      links.push([a, b], [b, a]);
    }
  }
  return links;
}
