// Checks at the end of a run, once the faults are healed: liveness (a leader, every client
// served again, every member caught up), no acknowledged write lost, replicas identical, and
// a linearizable history.
import { type CheckResult, checkKvHistory } from "../check/index.ts";
import type { SimCluster } from "./cluster.ts";
import { decodeCommand } from "./command.ts";
import { InvariantViolation } from "./violation.ts";

/** What is still missing for the cluster to count as live again (empty: nothing). */
export function livenessGaps(cluster: SimCluster, healUs: number): string[] {
  const gaps: string[] = [];
  const members = cluster.configMembers();
  const leader = cluster.leader();
  if (leader === null || !members.includes(leader))
    gaps.push("no leader among the configured members");
  const waiting = cluster.clients
    .filter((client) => client.lastCompletedCallUs < healUs)
    .map((client) => `c${client.id}`);
  if (waiting.length > 0)
    gaps.push(`clients without a completed operation since the heal: ${waiting.join(" ")}`);
  const target = maxAcknowledgedIndex(cluster);
  const behind = members.filter((member) => !member.isRunning || member.appliedIndex < target);
  if (behind.length > 0) {
    const detail = behind.map(
      (member) => `${member.name} ${member.isRunning ? `at ${member.appliedIndex}` : member.state}`,
    );
    gaps.push(`members behind the last acknowledged write (${target}): ${detail.join(", ")}`);
  }
  return gaps;
}

function maxAcknowledgedIndex(cluster: SimCluster): number {
  let max = 0;
  for (const write of cluster.acknowledgedWrites) if (write.index > max) max = write.index;
  return max;
}

/** Every acknowledged write is the entry every member applied at its index. */
export function checkAcknowledgedWrites(cluster: SimCluster): void {
  for (const write of cluster.acknowledgedWrites) {
    const entry = cluster.checker.committedEntry(write.index);
    const command = entry === undefined ? null : decodeCommand(entry.data);
    if (
      command === null ||
      command.clientId !== write.clientId ||
      command.sequence !== write.sequence
    ) {
      throw new InvariantViolation(
        "acknowledged-write-lost",
        `member ${write.member} acknowledged write ${write.clientId}.${write.sequence} at index ${write.index}, ` +
          `but the entry applied there is ${command === null ? "not that write" : `${command.clientId}.${command.sequence}`}`,
      );
    }
    for (const member of cluster.configMembers()) {
      if (member.appliedIndex < write.index) {
        throw new InvariantViolation(
          "acknowledged-write-lost",
          `${member.name} applied only up to ${member.appliedIndex}, missing acknowledged write at ${write.index}`,
        );
      }
    }
  }
}

/** Members that applied the same prefix hold byte-identical state. */
export function checkReplicasAgree(cluster: SimCluster): void {
  for (const member of cluster.configMembers()) {
    if (member.isRunning)
      cluster.checker.onStateAt(member.id, member.appliedIndex, member.stateText);
  }
}

/** Search steps for the clients' own view before settling unknown outcomes (about half a second). */
const OBSERVED_HISTORY_MAX_STEPS = 1_000_000;

/**
 * The clients' history as they saw it must be linearizable. When writes of unknown outcome make
 * the search too large, it is checked again with those outcomes settled from what the
 * simulator saw (History.resolvedOperations): a sound and stricter check, far cheaper.
 * Returns how it was decided, for the trace.
 */
export function checkLinearizable(cluster: SimCluster): string {
  const observed = checkKvHistory(cluster.history.operations(), {
    maxSteps: OBSERVED_HISTORY_MAX_STEPS,
  });
  if (observed.verdict === "linearizable") return "linearizable";
  if (observed.verdict === "not-linearizable") throw linearizabilityViolation(observed, "");
  const resolved = checkKvHistory(
    cluster.history.resolvedOperations((client, sequence) => cluster.outcomeOf(client, sequence)),
  );
  if (resolved.verdict === "linearizable")
    return "linearizable (unknown outcomes settled from the simulation)";
  throw linearizabilityViolation(resolved, " with unknown outcomes settled from the simulation");
}

function linearizabilityViolation(result: CheckResult, how: string): InvariantViolation {
  const where = result.failingKey === undefined ? "" : ` on key ${result.failingKey}`;
  const explanation = result.explanation === undefined ? "" : `: ${result.explanation}`;
  return new InvariantViolation(
    "linearizability",
    `history is ${result.verdict}${how}${where}${explanation}`,
  );
}
