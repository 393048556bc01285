// Deliberate bugs (RaftConfig.testingKnobs) and the scenario bias that makes each one likely to
// surface, with the invariants that are expected to catch it. Used by bugs.test.ts and by
// `npm run sim -- --bug NAME`, to show that the simulator finds real protocol bugs.
import type { TestingKnobs } from "../raft/index.ts";
import type { FaultKind, ScenarioOverrides } from "./scenario.ts";
import { FAULT_KINDS } from "./scenario.ts";
import type { InvariantName } from "./violation.ts";

export type DeliberateBug = keyof TestingKnobs & string;

export interface BugProfile {
  readonly overrides: ScenarioOverrides;
  /** Invariants that a run with this bug may legitimately break. */
  readonly caughtBy: readonly InvariantName[];
  readonly description: string;
}

/** Fault weights with only the given kinds switched on. */
function only(weights: Partial<Record<FaultKind, number>>): Record<FaultKind, number> {
  const all = {} as Record<FaultKind, number>;
  for (const kind of FAULT_KINDS) all[kind] = weights[kind] ?? 0;
  return all;
}

const SAFETY: readonly InvariantName[] = [
  "election-safety",
  "log-matching",
  "leader-completeness",
  "state-machine-safety",
  "acknowledged-write-lost",
  "linearizability",
];

export const BUG_PROFILES: Readonly<Record<DeliberateBug, BugProfile>> = {
  commitEntriesOfEarlierTerms: {
    description:
      "the Figure 8 bug: a new leader commits an older term's entry by counting replicas",
    // Many short-lived leaders that lose their quorum, one entry per Append and one Append in
    // flight (so an old entry can reach a majority before the new leader's own entry does).
    overrides: {
      clusterSize: 5,
      raft: {
        testingKnobs: { commitEntriesOfEarlierTerms: true },
        maxInflightMessages: 1,
        maxMessageBytes: 1,
        preVote: false,
      },
      faultWeights: only({
        "isolate-leader": 8,
        "partition-split": 4,
        "crash-leader": 1,
        "partition-one-way": 1,
      }),
      faultPlan: { meanGapTicks: 6, minEpisodeTicks: 3, maxEpisodeTicks: 15 },
      network: { lossChance: 0.1 },
      workload: { clients: 6, thinkTicksMax: 3 },
    },
    caughtBy: SAFETY,
  },
  voteWithoutLogCheck: {
    description: "votes are granted without checking that the candidate's log is up to date",
    overrides: {
      raft: { testingKnobs: { voteWithoutLogCheck: true } },
      faultWeights: only({
        "isolate-leader": 3,
        "partition-split": 3,
        "crash-leader": 2,
        crash: 1,
      }),
    },
    caughtBy: SAFETY,
  },
  leaseReadsWithoutCheckQuorum: {
    description: "lease reads with CheckQuorum off: a deposed leader serves stale reads",
    // A follower cut from the leader wins an election (nobody refuses its votes without
    // CheckQuorum) and the old leader, hearing no one, keeps serving reads from its lease.
    overrides: {
      raft: {
        testingKnobs: { leaseReadsWithoutCheckQuorum: true },
        checkQuorum: false,
        leaseReads: true,
      },
      faultWeights: only({ "stale-leader": 1 }),
      faultPlan: { meanGapTicks: 40, minEpisodeTicks: 30, maxEpisodeTicks: 40 },
      workload: { clients: 6, thinkTicksMax: 2, leaseReadChance: 1 },
    },
    caughtBy: ["linearizability"],
  },
  respondBeforePersist: {
    description:
      "votes and append acknowledgements are sent before the state they vouch for is durable",
    // Crashes land inside long fsyncs, so what was promised is lost.
    overrides: {
      raft: { testingKnobs: { respondBeforePersist: true } },
      faultWeights: only({
        "power-blip": 5,
        "slow-disk": 5,
        "crash-leader": 3,
        crash: 3,
        "isolate-leader": 1,
      }),
      faultPlan: { meanGapTicks: 10, maxCrashedMembers: 2 },
    },
    caughtBy: ["durability"],
  },
};

export const DELIBERATE_BUGS = Object.keys(BUG_PROFILES) as DeliberateBug[];
