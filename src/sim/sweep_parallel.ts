// A sweep split over child processes: child k of n runs seeds from+k, from+k+n, ... and
// reports each result over the IPC channel. Each seed is deterministic on its own, so the
// split changes only the order in which results arrive, never the results.
import { fork } from "node:child_process";
import type { ClusterSize } from "./scenario.ts";
import { describeScenario } from "./scenario.ts";
import type { SimResult } from "./simulation.ts";
import type { InvariantName } from "./violation.ts";

/** What a child sends per seed: enough to report and sum up, nothing bulky. */
export interface SeedReport {
  readonly seed: number;
  readonly clusterSize: ClusterSize;
  readonly scenario: string;
  readonly violation: { readonly invariant: InvariantName; readonly detail: string } | null;
  readonly opsCompleted: number;
  readonly opsUnknown: number;
  readonly crashes: number;
  readonly membershipChanges: number;
  readonly historySettled: boolean;
}

export function toSeedReport(result: SimResult): SeedReport {
  return {
    seed: result.seed,
    clusterSize: result.scenario.clusterSize,
    scenario: describeScenario(result.scenario),
    violation:
      result.violation === null
        ? null
        : { invariant: result.violation.invariant, detail: result.violation.detail },
    opsCompleted: result.stats.opsCompleted,
    opsUnknown: result.stats.opsUnknown,
    crashes: result.stats.crashes,
    membershipChanges: result.stats.membershipChanges,
    historySettled: result.stats.historyVerdict.includes("settled"),
  };
}

/**
 * Runs `jobs` children of `entryFile` with `childArgs(k)`, passing every report to `onReport`.
 * Resolves when all have exited; rejects if one dies without finishing.
 */
export function runChildren(
  entryFile: string,
  jobs: number,
  childArgs: (job: number) => string[],
  onReport: (report: SeedReport) => void,
): Promise<void> {
  const children = Array.from({ length: jobs }, (_, job) => {
    return new Promise<void>((resolve, reject) => {
      const child = fork(entryFile, childArgs(job), {
        execArgv: process.execArgv,
        stdio: ["ignore", "inherit", "inherit", "ipc"],
      });
      child.on("message", (message) => onReport(message as SeedReport));
      child.on("error", reject);
      child.on("exit", (code) =>
        code === 0 ? resolve() : reject(new Error(`sweep worker ${job} exited with code ${code}`)),
      );
    });
  });
  return Promise.all(children).then(() => undefined);
}
