// One simulation run: a seed's scenario, a fault phase, a heal, a liveness phase, final checks.
// The first broken invariant ends the run and is returned (never thrown).
import { RaftInvariantError, SeededRandom } from "../raft/index.ts";
import { SimCluster } from "./cluster.ts";
import { FaultInjector } from "./faults.ts";
import {
  checkAcknowledgedWrites,
  checkLinearizable,
  checkReplicasAgree,
  livenessGaps,
} from "./final_checks.ts";
import { Operator } from "./operator.ts";
import {
  chooseScenario,
  describeScenario,
  type Scenario,
  type ScenarioOverrides,
} from "./scenario.ts";
import { Trace, type TraceSink } from "./trace.ts";
import { InvariantViolation } from "./violation.ts";

export interface SimOptions {
  readonly seed: number;
  readonly overrides?: ScenarioOverrides;
  /** Receives every trace line (turns tracing on). */
  readonly traceSink?: TraceSink;
  /** Trace without keeping lines: only the digest (for determinism tests). */
  readonly traceDigest?: boolean;
}

export interface SimStats {
  readonly virtualMs: number;
  readonly events: number;
  readonly messagesSent: number;
  readonly messagesDropped: number;
  readonly opsCompleted: number;
  readonly opsUnknown: number;
  readonly opsRefused: number;
  readonly historyOps: number;
  readonly committedIndex: number;
  readonly highestTerm: number;
  readonly crashes: number;
  readonly membershipChanges: number;
  readonly transfers: number;
  readonly membersAtEnd: number;
  /** How the history was found linearizable ("" when the run failed before the check). */
  readonly historyVerdict: string;
}

export interface SimResult {
  readonly seed: number;
  readonly scenario: Scenario;
  readonly violation: InvariantViolation | null;
  readonly stats: SimStats;
  /** Hash of the trace, when tracing was on. */
  readonly traceDigest: string | null;
}

/** Stack frames kept in the report of an error thrown by the core. */
const STACK_FRAMES_REPORTED = 8;

/** Quiet ticks at the start before the first fault: the first leader gets elected. */
const WARMUP_ELECTION_TIMEOUTS = 3;

export function runSimulation(options: SimOptions): SimResult {
  const scenario = chooseScenario(options.seed, options.overrides);
  const tracing = options.traceSink !== undefined || options.traceDigest === true;
  const trace = new Trace(tracing, options.traceSink ?? null);
  const cluster = new SimCluster(scenario, trace);
  const faultRandom = new SeededRandom((options.seed * 2654435761) ^ 0xfa017);
  const operator = new Operator(cluster, faultRandom.fork(), scenario.faults.maxMembers);
  const faults = new FaultInjector(cluster, operator, faultRandom.fork(), scenario);
  let violation: InvariantViolation | null = null;
  let historyVerdict = "";
  try {
    cluster.traceLine("sim", `seed ${options.seed}: ${describeScenario(scenario)}`);
    historyVerdict = runPhases(cluster, faults, scenario);
  } catch (error) {
    violation = asViolation(error);
    cluster.traceLine("sim", `VIOLATION ${violation.message}`);
  }
  return {
    seed: options.seed,
    scenario,
    violation,
    stats: { ...collectStats(cluster, faults, operator), historyVerdict },
    traceDigest: tracing ? trace.digest() : null,
  };
}

/** Runs the phases; returns how the history was found linearizable. */
function runPhases(cluster: SimCluster, faults: FaultInjector, scenario: Scenario): string {
  const tickUs = scenario.baseTickUs;
  cluster.start();
  const faultEndUs = scenario.faultPhaseTicks * tickUs;
  faults.scheduleEpisodes(
    WARMUP_ELECTION_TIMEOUTS * scenario.raft.electionTimeoutTicks * tickUs,
    faultEndUs,
  );
  cluster.scheduler.runUntil(faultEndUs);
  faults.healAll();
  runLivenessPhase(cluster, scenario);
  for (const client of cluster.clients) client.stop();
  checkAcknowledgedWrites(cluster);
  checkReplicasAgree(cluster);
  const verdict = checkLinearizable(cluster);
  cluster.traceLine("sim", `all checks passed; history ${verdict}`);
  return verdict;
}

/** Runs until the cluster is live again, or fails once the bound has passed. */
function runLivenessPhase(cluster: SimCluster, scenario: Scenario): void {
  const healUs = cluster.scheduler.nowUs;
  const tickUs = scenario.baseTickUs;
  let live = false;
  const check = (): void => {
    live = livenessGaps(cluster, healUs).length === 0;
    if (!live) cluster.scheduler.after(tickUs, check);
  };
  cluster.scheduler.after(tickUs, check);
  cluster.scheduler.runUntil(healUs + scenario.livenessBoundTicks * tickUs, () => live);
  if (live) {
    cluster.traceLine(
      "sim",
      `live again ${Math.round((cluster.scheduler.nowUs - healUs) / tickUs)} ticks after the heal`,
    );
    return;
  }
  const gaps = livenessGaps(cluster, healUs);
  throw new InvariantViolation(
    "liveness",
    `${scenario.livenessBoundTicks} ticks after the heal: ${gaps.join("; ")}`,
  );
}

function asViolation(error: unknown): InvariantViolation {
  if (error instanceof InvariantViolation) return error;
  if (!(error instanceof Error)) return new InvariantViolation("core-error", String(error));
  // The top of the stack says where in the core (or the simulator) it broke.
  const frames = (error.stack ?? "")
    .split("\n")
    .slice(1, 1 + STACK_FRAMES_REPORTED)
    .map((line) => line.trim());
  const kind = error instanceof RaftInvariantError ? "" : `${error.name}: `;
  return new InvariantViolation("core-error", [`${kind}${error.message}`, ...frames].join("\n"));
}

function collectStats(
  cluster: SimCluster,
  faults: FaultInjector,
  operator: Operator,
): Omit<SimStats, "historyVerdict"> {
  let opsCompleted = 0;
  let opsUnknown = 0;
  let opsRefused = 0;
  for (const client of cluster.clients) {
    opsCompleted += client.stats.completed;
    opsUnknown += client.stats.unknown;
    opsRefused += client.stats.refused;
  }
  let highestTerm = 0;
  for (const member of cluster.members.values()) highestTerm = Math.max(highestTerm, member.term);
  return {
    virtualMs: Math.round(cluster.scheduler.nowUs / 1000),
    events: cluster.scheduler.eventsRun,
    messagesSent: cluster.network.stats.sent,
    messagesDropped: cluster.network.stats.dropped,
    opsCompleted,
    opsUnknown,
    opsRefused,
    historyOps: cluster.history.size,
    committedIndex: cluster.checker.maxCommittedIndex,
    highestTerm,
    crashes: faults.stats.crashes,
    membershipChanges: operator.membershipChanges,
    transfers: operator.transfers,
    membersAtEnd: cluster.configMembers().length,
  };
}
