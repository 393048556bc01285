import type { LogStorage } from "./storage.ts";
import type { Logger, NodeId, Random } from "./types.ts";

/**
 * Deliberate bugs, for tests that prove the simulator catches them. Never set in production;
 * every flag defaults to false.
 */
export interface TestingKnobs {
  /** Commit entries of earlier terms by counting replicas (the Figure 8 bug). */
  readonly commitEntriesOfEarlierTerms?: boolean;
  /** Grant votes without checking that the candidate's log is up to date. */
  readonly voteWithoutLogCheck?: boolean;
  /** Allow lease reads with CheckQuorum off (a deposed leader then serves stale reads). */
  readonly leaseReadsWithoutCheckQuorum?: boolean;
  /** Send vote and append responses before the state they depend on is durable. */
  readonly respondBeforePersist?: boolean;
}

export interface RaftConfig {
  readonly id: NodeId;
  readonly storage: LogStorage;
  /** The seeded source of randomized election timeouts. */
  readonly random: Random;
  /** Ticks without hearing from a leader before a follower campaigns (randomized in [n, 2n)). */
  readonly electionTimeoutTicks?: number;
  /** Ticks between the leader's heartbeats. Must be less than the election timeout. */
  readonly heartbeatIntervalTicks?: number;
  /** The last index the state machine applied (on restart); committed entries resume after it. */
  readonly appliedIndex?: number;
  /** Bytes of entries in one Append message (at least one entry is always sent). */
  readonly maxMessageBytes?: number;
  /** Append messages in flight to one follower before the leader waits for responses. */
  readonly maxInflightMessages?: number;
  /** Bytes in flight to one follower before the leader waits (0: no byte limit). */
  readonly maxInflightBytes?: number;
  /** Bytes of proposed but uncommitted entries the leader accepts (0: no limit). */
  readonly maxUncommittedEntriesBytes?: number;
  /** Bytes of committed entries handed out in one Ready. */
  readonly maxCommittedBytesPerReady?: number;
  /** Step down as leader when a quorum has not been heard from for an election timeout. */
  readonly checkQuorum?: boolean;
  /** Run a pre-election so a partitioned member rejoining does not disrupt the leader. */
  readonly preVote?: boolean;
  /**
   * Serve readIndex({ lease: true }) from the leader's lease without a heartbeat round.
   * Requires checkQuorum. The lease is the election timeout minus maxClockDriftTicks.
   */
  readonly leaseReads?: boolean;
  /** How far members' tick rates may drift apart over one election timeout. */
  readonly maxClockDriftTicks?: number;
  /** Refuse proposals on followers instead of forwarding them to the leader. */
  readonly disableProposalForwarding?: boolean;
  readonly logger?: Logger;
  readonly testingKnobs?: TestingKnobs;
}

/** The configuration with every default filled in and every bound checked. */
export type ResolvedRaftConfig = Required<Omit<RaftConfig, "logger" | "testingKnobs">> & {
  readonly logger: Logger | null;
  readonly testingKnobs: TestingKnobs;
};

/**
 * Defaults. The flow-control ones are justified by `npm run bench:raft` (docs/benchmarks.md):
 * a follower needs more than 2 x (one-way delay / batch interval) Appends in flight to keep up,
 * and an fsync stall can make that delay 50 batch intervals; 256 covers it. 32 MiB in flight
 * bounds the memory one slow follower can pin.
 */
export const RAFT_DEFAULTS = {
  electionTimeoutTicks: 10,
  heartbeatIntervalTicks: 1,
  appliedIndex: 0,
  maxMessageBytes: 1024 * 1024,
  maxInflightMessages: 256,
  maxInflightBytes: 32 * 1024 * 1024,
  maxUncommittedEntriesBytes: 64 * 1024 * 1024,
  maxCommittedBytesPerReady: 16 * 1024 * 1024,
  checkQuorum: true,
  preVote: true,
  leaseReads: false,
  maxClockDriftTicks: 1,
  disableProposalForwarding: false,
} as const;

export class RaftConfigError extends Error {
  override readonly name = "RaftConfigError";
}

export function resolveConfig(config: RaftConfig): ResolvedRaftConfig {
  const resolved: ResolvedRaftConfig = {
    ...RAFT_DEFAULTS,
    ...stripUndefined(config),
    id: config.id,
    storage: config.storage,
    random: config.random,
    logger: config.logger ?? null,
    testingKnobs: config.testingKnobs ?? {},
  };
  const fail = (what: string) => {
    throw new RaftConfigError(`invalid raft config for member ${config.id}: ${what}`);
  };
  if (!Number.isInteger(resolved.id) || resolved.id <= 0) fail("id must be a positive integer");
  if (resolved.heartbeatIntervalTicks < 1) fail("heartbeatIntervalTicks must be at least 1");
  if (resolved.electionTimeoutTicks <= resolved.heartbeatIntervalTicks) {
    fail("electionTimeoutTicks must be greater than heartbeatIntervalTicks");
  }
  if (resolved.maxInflightMessages < 1) fail("maxInflightMessages must be at least 1");
  if (resolved.maxMessageBytes < 1) fail("maxMessageBytes must be at least 1");
  if (
    resolved.leaseReads &&
    !resolved.checkQuorum &&
    !resolved.testingKnobs.leaseReadsWithoutCheckQuorum
  ) {
    fail("leaseReads requires checkQuorum (otherwise a deposed leader serves stale reads)");
  }
  if (
    resolved.maxClockDriftTicks < 0 ||
    resolved.maxClockDriftTicks >= resolved.electionTimeoutTicks
  ) {
    fail("maxClockDriftTicks must be in [0, electionTimeoutTicks)");
  }
  return resolved;
}

function stripUndefined<T extends object>(value: T): Partial<T> {
  const out: Partial<T> = {};
  for (const [key, field] of Object.entries(value)) {
    if (field !== undefined) (out as Record<string, unknown>)[key] = field;
  }
  return out;
}
