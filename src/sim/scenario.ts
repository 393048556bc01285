// Everything a seed decides: cluster size, timing, network and disk behaviour, which faults
// happen and how often, the client workload. One generator draws all of it, in a fixed order,
// so the same seed always yields the same scenario.
import type { TestingKnobs } from "../raft/index.ts";
import { SeededRandom } from "../raft/index.ts";
import { intBetween, pick } from "./random_helpers.ts";

export const CLUSTER_SIZES = [3, 5, 7] as const;
export type ClusterSize = (typeof CLUSTER_SIZES)[number];

export type FaultKind =
  | "partition-split"
  | "partition-one-way"
  | "partition-bridge"
  | "isolate-leader"
  | "stale-leader"
  | "crash"
  | "crash-leader"
  | "power-blip"
  | "slow-disk"
  | "pause"
  | "network-storm"
  | "membership"
  | "transfer-leader";

export const FAULT_KINDS: readonly FaultKind[] = [
  "partition-split",
  "partition-one-way",
  "partition-bridge",
  "isolate-leader",
  "stale-leader",
  "crash",
  "crash-leader",
  "power-blip",
  "slow-disk",
  "pause",
  "network-storm",
  "membership",
  "transfer-leader",
];

export interface NetworkProfile {
  /** Every message takes a uniform delay in [min, max]... */
  readonly minDelayUs: number;
  readonly maxDelayUs: number;
  /** ...except a few that take up to `tailDelayUs` longer: this is what reorders messages. */
  readonly tailChance: number;
  readonly tailDelayUs: number;
  readonly lossChance: number;
  readonly duplicateChance: number;
}

export interface DiskProfile {
  readonly fsyncMinUs: number;
  readonly fsyncMaxUs: number;
  /** Latency of an fsync on a member whose disk is in a slow episode. */
  readonly slowFsyncMinUs: number;
  readonly slowFsyncMaxUs: number;
}

export interface FaultPlan {
  /** Weight of each kind when the next episode is drawn (0: never). */
  readonly weights: Readonly<Record<FaultKind, number>>;
  readonly meanGapTicks: number;
  readonly minEpisodeTicks: number;
  readonly maxEpisodeTicks: number;
  /** At most this many members down (crashed) at once. */
  readonly maxCrashedMembers: number;
  /** Total members (voters + learners) the membership operator may grow the cluster to. */
  readonly maxMembers: number;
}

export interface Workload {
  readonly clients: number;
  readonly keys: readonly string[];
  readonly thinkTicksMax: number;
  /** A client gives up on an attempt after this long and retries elsewhere. */
  readonly clientTimeoutTicks: number;
  /** Share of reads a client asks to be served from the leader's lease. */
  readonly leaseReadChance: number;
  readonly clientDelayMinUs: number;
  readonly clientDelayMaxUs: number;
}

/** The RaftConfig fields the simulator sets for every member; tests override them. */
export interface RaftSettings {
  readonly electionTimeoutTicks: number;
  readonly heartbeatIntervalTicks: number;
  readonly maxClockDriftTicks: number;
  readonly checkQuorum: boolean;
  readonly preVote: boolean;
  readonly leaseReads: boolean;
  readonly maxInflightMessages: number;
  readonly maxMessageBytes: number;
  readonly maxCommittedBytesPerReady: number;
  readonly testingKnobs: TestingKnobs;
}

export interface Scenario {
  readonly seed: number;
  readonly clusterSize: ClusterSize;
  readonly raft: RaftSettings;
  /** Tick period of the reference clock; each member's own period is skewed from it. */
  readonly baseTickUs: number;
  /** Largest fractional skew of a member's tick period (kept within maxClockDriftTicks). */
  readonly maxTickSkew: number;
  readonly faultPhaseTicks: number;
  /** After healing, a leader and a completed operation per client are due within this. */
  readonly livenessBoundTicks: number;
  readonly network: NetworkProfile;
  readonly disk: DiskProfile;
  readonly faults: FaultPlan;
  readonly workload: Workload;
  readonly snapshotIntervalEntries: number;
  readonly snapshotKeepEntries: number;
  /**
   * Check the durability rule on every vote and acknowledgement sent. Tests of a deliberate
   * durability bug turn it off to show that its consequences are caught too.
   */
  readonly checkDurabilityOnSend: boolean;
}

/** What a caller (CLI, tests) may fix instead of letting the seed choose. */
export interface ScenarioOverrides {
  readonly clusterSize?: ClusterSize;
  readonly faultPhaseTicks?: number;
  readonly raft?: Partial<RaftSettings>;
  /** Replace the drawn fault weights (e.g. to make one deliberate bug likely to surface). */
  readonly faultWeights?: Partial<Record<FaultKind, number>>;
  /** No faults at all: a healthy run. */
  readonly noFaults?: boolean;
  readonly network?: Partial<NetworkProfile>;
  readonly disk?: Partial<DiskProfile>;
  readonly workload?: Partial<Workload>;
  readonly faultPlan?: Partial<Omit<FaultPlan, "weights">>;
  readonly checkDurabilityOnSend?: boolean;
}

export const DEFAULT_FAULT_PHASE_TICKS = 2000;
const BASE_TICK_US = 10_000;

export function chooseScenario(seed: number, overrides: ScenarioOverrides = {}): Scenario {
  // A separate generator for the scenario, so adding a field here does not shift the run's
  // own random sequence more than it must.
  const random = new SeededRandom(seed ^ 0x5eed5eed);
  const clusterSize = overrides.clusterSize ?? pick(random, CLUSTER_SIZES);
  const raft = { ...chooseRaftSettings(random), ...overrides.raft };
  const electionTimeoutTicks = raft.electionTimeoutTicks;
  const network = { ...chooseNetwork(random), ...overrides.network };
  const disk = { ...chooseDisk(random), ...overrides.disk };
  const faults = chooseFaultPlan(random, clusterSize, electionTimeoutTicks, overrides);
  const workload = { ...chooseWorkload(random, electionTimeoutTicks), ...overrides.workload };
  return {
    seed,
    clusterSize,
    raft,
    baseTickUs: BASE_TICK_US,
    maxTickSkew: safeTickSkew(raft.electionTimeoutTicks, raft.maxClockDriftTicks),
    faultPhaseTicks: overrides.faultPhaseTicks ?? DEFAULT_FAULT_PHASE_TICKS,
    livenessBoundTicks: 20 * electionTimeoutTicks,
    network,
    disk,
    faults,
    workload,
    snapshotIntervalEntries: pick(random, [8, 20, 50, 200]),
    snapshotKeepEntries: pick(random, [0, 2, 10, 50]),
    checkDurabilityOnSend: overrides.checkDurabilityOnSend ?? true,
  };
}

/**
 * How far apart tick periods may be. A lease from a heartbeat sent at leader tick T lasts until
 * tick T + E - D (E the election timeout, D maxClockDriftTicks), at most (E - D) leader periods;
 * a follower refuses votes for E ticks after receiving it, at least (E - 1) of its periods (the
 * first tick may come at once). Safe while slowPeriod * (E - D) <= fastPeriod * (E - 1).
 */
export function safeTickSkew(electionTimeoutTicks: number, maxClockDriftTicks: number): number {
  const lease = electionTimeoutTicks - maxClockDriftTicks;
  if (lease <= 0) return 0;
  return Math.max(0, (electionTimeoutTicks - 1) / lease - 1);
}

function chooseRaftSettings(random: SeededRandom): RaftSettings {
  return {
    electionTimeoutTicks: 10,
    heartbeatIntervalTicks: pick(random, [1, 2, 2, 3]),
    maxClockDriftTicks: pick(random, [1, 2, 3]),
    checkQuorum: true,
    preVote: random.chance(0.8),
    leaseReads: true,
    maxInflightMessages: pick(random, [2, 8, 256]),
    maxMessageBytes: pick(random, [200, 4096, 1024 * 1024]),
    maxCommittedBytesPerReady: pick(random, [300, 16 * 1024 * 1024]),
    testingKnobs: {},
  };
}

function chooseNetwork(random: SeededRandom): NetworkProfile {
  const minDelayUs = intBetween(random, 50, 500);
  return {
    minDelayUs,
    maxDelayUs: minDelayUs + pick(random, [200, 2000, 6000]),
    tailChance: pick(random, [0, 0.01, 0.05]),
    tailDelayUs: pick(random, [20_000, 60_000]),
    lossChance: pick(random, [0, 0, 0.01, 0.05, 0.15]),
    duplicateChance: pick(random, [0, 0.01, 0.05]),
  };
}

function chooseDisk(random: SeededRandom): DiskProfile {
  const fsyncMinUs = intBetween(random, 20, 300);
  return {
    fsyncMinUs,
    fsyncMaxUs: fsyncMinUs + pick(random, [100, 1000, 5000]),
    slowFsyncMinUs: 10_000,
    slowFsyncMaxUs: pick(random, [30_000, 120_000]),
  };
}

function chooseFaultPlan(
  random: SeededRandom,
  clusterSize: ClusterSize,
  electionTimeoutTicks: number,
  overrides: ScenarioOverrides,
): FaultPlan {
  const weights = {} as Record<FaultKind, number>;
  // Each kind is in this seed's mix with some probability, at a drawn intensity.
  for (const kind of FAULT_KINDS) weights[kind] = random.chance(0.6) ? intBetween(random, 1, 3) : 0;
  const calm = random.chance(0.05);
  const plan: FaultPlan = {
    weights: { ...weights, ...overrides.faultWeights },
    meanGapTicks: pick(random, [2, 4, 8]) * electionTimeoutTicks,
    minEpisodeTicks: electionTimeoutTicks,
    maxEpisodeTicks: pick(random, [3, 10, 30]) * electionTimeoutTicks,
    maxCrashedMembers: intBetween(random, 1, Math.ceil(clusterSize / 2)),
    maxMembers: clusterSize + intBetween(random, 0, 2),
    ...overrides.faultPlan,
  };
  if (overrides.noFaults === true || (calm && overrides.faultWeights === undefined)) {
    const none = {} as Record<FaultKind, number>;
    for (const kind of FAULT_KINDS) none[kind] = 0;
    return { ...plan, weights: none };
  }
  return plan;
}

function chooseWorkload(random: SeededRandom, electionTimeoutTicks: number): Workload {
  const keyCount = intBetween(random, 3, 5);
  return {
    clients: intBetween(random, 2, 6),
    keys: Array.from({ length: keyCount }, (_, i) => `k${i}`),
    thinkTicksMax: pick(random, [10, 20, 40]),
    clientTimeoutTicks: pick(random, [3, 5]) * electionTimeoutTicks,
    leaseReadChance: pick(random, [0.2, 0.5, 0.9]),
    clientDelayMinUs: 100,
    clientDelayMaxUs: 1500,
  };
}

/** One line describing a scenario, for the trace and for failure reports. */
export function describeScenario(scenario: Scenario): string {
  const active = FAULT_KINDS.filter((kind) => scenario.faults.weights[kind] > 0);
  const knobs = Object.entries(scenario.raft.testingKnobs)
    .filter(([, on]) => on === true)
    .map(([name]) => name);
  const network = scenario.network;
  return [
    `size=${scenario.clusterSize}`,
    `ticks=${scenario.faultPhaseTicks}`,
    `E=${scenario.raft.electionTimeoutTicks} hb=${scenario.raft.heartbeatIntervalTicks} drift=${scenario.raft.maxClockDriftTicks}`,
    `checkQuorum=${scenario.raft.checkQuorum} preVote=${scenario.raft.preVote}`,
    `net=${network.minDelayUs}-${network.maxDelayUs}us loss=${network.lossChance} dup=${network.duplicateChance} tail=${network.tailChance}`,
    `clients=${scenario.workload.clients} keys=${scenario.workload.keys.length}`,
    `snapshot every ${scenario.snapshotIntervalEntries} keep ${scenario.snapshotKeepEntries}`,
    `faults=[${active.join(",")}]`,
    ...(knobs.length > 0 ? [`knobs=[${knobs.join(",")}]`] : []),
  ].join(" ");
}
