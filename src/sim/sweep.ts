// Runs many seeds in a row and sums up what happened. Pure: the caller measures time and prints.
import type { ClusterSize, ScenarioOverrides } from "./scenario.ts";
import { runSimulation, type SimResult } from "./simulation.ts";

export interface SweepOptions {
  readonly fromSeed: number;
  readonly seedCount: number;
  readonly overrides?: ScenarioOverrides;
  /** Stop at the first failing seed (tests looking for a deliberate bug). */
  readonly stopOnFirstFailure?: boolean;
  /** Stop at the first failure this accepts (when some kinds of failure are to be skipped). */
  readonly stopAt?: (result: SimResult) => boolean;
  /** Called after every seed, for progress and failure reports. */
  readonly onResult?: (result: SimResult) => void;
}

export interface SweepSummary {
  readonly seedsRun: number;
  readonly failures: SimResult[];
  readonly seedsBySize: Record<ClusterSize, number>;
  readonly opsCompleted: number;
  readonly opsUnknown: number;
  readonly events: number;
  readonly crashes: number;
  readonly membershipChanges: number;
  /** Seeds whose history needed unknown outcomes settled to be decided. */
  readonly historiesSettled: number;
}

export function sweep(options: SweepOptions): SweepSummary {
  const seedsBySize: Record<ClusterSize, number> = { 3: 0, 5: 0, 7: 0 };
  const failures: SimResult[] = [];
  let seedsRun = 0;
  let opsCompleted = 0;
  let opsUnknown = 0;
  let events = 0;
  let crashes = 0;
  let membershipChanges = 0;
  let historiesSettled = 0;
  for (let seed = options.fromSeed; seed < options.fromSeed + options.seedCount; seed++) {
    const result = runSimulation({
      seed,
      ...(options.overrides === undefined ? {} : { overrides: options.overrides }),
    });
    seedsRun++;
    seedsBySize[result.scenario.clusterSize]++;
    opsCompleted += result.stats.opsCompleted;
    opsUnknown += result.stats.opsUnknown;
    events += result.stats.events;
    crashes += result.stats.crashes;
    membershipChanges += result.stats.membershipChanges;
    if (result.stats.historyVerdict.includes("settled")) historiesSettled++;
    options.onResult?.(result);
    if (result.violation !== null) {
      failures.push(result);
      if (options.stopOnFirstFailure === true || options.stopAt?.(result) === true) break;
    }
  }
  return {
    seedsRun,
    failures,
    seedsBySize,
    opsCompleted,
    opsUnknown,
    events,
    crashes,
    membershipChanges,
    historiesSettled,
  };
}
