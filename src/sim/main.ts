// `npm run sim`: replay one seed (optionally with its trace) or sweep many.
// Exit codes: 0 all passed, 1 an invariant was violated, 2 bad usage.
import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { BUG_PROFILES, DELIBERATE_BUGS, type DeliberateBug } from "./bug_profiles.ts";
import {
  CLUSTER_SIZES,
  type ClusterSize,
  DEFAULT_FAULT_PHASE_TICKS,
  describeScenario,
  type ScenarioOverrides,
} from "./scenario.ts";
import { runSimulation } from "./simulation.ts";
import { sweep } from "./sweep.ts";
import { runChildren, type SeedReport, toSeedReport } from "./sweep_parallel.ts";

const USAGE = `usage:
  npm run sim -- --seed N [--trace] [--ticks T] [--size 3|5|7] [--bug NAME]
  npm run sim -- --seeds COUNT [--from S] [--jobs J] [--ticks T] [--size 3|5|7] [--bug NAME] [--first-failure]

  --seed N         run seed N (replays it exactly)
  --trace          print one line per event of that run (with --seed)
  --seeds COUNT    sweep COUNT seeds, starting at --from (default 1)
  --from S         first seed of a sweep
  --jobs J         run a sweep in J processes (default 1; at most ${availableParallelism()} cores here)
  --first-failure  stop a sweep at the first failing seed
  --ticks T        length of the fault phase in ticks (default ${DEFAULT_FAULT_PHASE_TICKS})
  --size N         cluster size 3, 5 or 7 (default: the seed chooses)
  --bug NAME       enable a deliberate core bug and the faults that expose it, to watch it caught:
                   ${DELIBERATE_BUGS.join(", ")}
  --help           this text`;

/** Failures printed in full during a sweep; beyond that only counted. */
const MAX_FAILURES_PRINTED = 20;

class UsageError extends Error {}

interface Command {
  readonly mode: "one" | "sweep" | "worker" | "help";
  readonly seed: number;
  readonly seedCount: number;
  readonly trace: boolean;
  readonly jobs: number;
  readonly firstFailure: boolean;
  readonly overrides: ScenarioOverrides;
  /** The flags to repeat in a replay command so that it reproduces the same run. */
  readonly replayFlags: string[];
  /** Worker processes only: which share of the seeds to run. */
  readonly workerJob: number;
}

const OPTIONS = {
  seed: { type: "string" },
  seeds: { type: "string" },
  from: { type: "string" },
  trace: { type: "boolean", default: false },
  jobs: { type: "string" },
  "first-failure": { type: "boolean", default: false },
  ticks: { type: "string" },
  size: { type: "string" },
  bug: { type: "string" },
  help: { type: "boolean", default: false },
  "worker-job": { type: "string" },
} as const;

function parseCommand(argv: string[]): Command {
  const { values } = parseArgs({
    args: argv,
    strict: true,
    allowPositionals: false,
    options: OPTIONS,
  });
  const base = {
    seed: 0,
    seedCount: 0,
    trace: false,
    jobs: 1,
    firstFailure: false,
    overrides: {},
    replayFlags: [],
    workerJob: -1,
  };
  if (values.help) return { ...base, mode: "help" };
  if (values.seed !== undefined && values.seeds !== undefined)
    throw new UsageError("give --seed or --seeds, not both");
  if (values.seed === undefined && values.seeds === undefined)
    throw new UsageError("give --seed N or --seeds COUNT");
  if (values.trace && values.seed === undefined) throw new UsageError("--trace goes with --seed");
  for (const sweepOnly of ["from", "jobs", "first-failure"] as const) {
    if (
      values[sweepOnly] !== undefined &&
      values[sweepOnly] !== false &&
      values.seeds === undefined
    ) {
      throw new UsageError(`--${sweepOnly} goes with --seeds`);
    }
  }
  const { overrides, replayFlags } = parseScenarioFlags(values);
  if (values.seed !== undefined) {
    const seed = integerFlag("--seed", values.seed, 0);
    return {
      ...base,
      mode: "one",
      seed,
      seedCount: 1,
      trace: values.trace,
      overrides,
      replayFlags,
    };
  }
  const workerJob =
    values["worker-job"] === undefined ? -1 : integerFlag("--worker-job", values["worker-job"], 0);
  return {
    ...base,
    mode: workerJob >= 0 ? "worker" : "sweep",
    seed: values.from === undefined ? 1 : integerFlag("--from", values.from, 0),
    seedCount: integerFlag("--seeds", values.seeds!, 1),
    jobs: values.jobs === undefined ? 1 : integerFlag("--jobs", values.jobs, 1),
    firstFailure: values["first-failure"],
    overrides,
    replayFlags,
    workerJob,
  };
}

/** The flags that shape the scenario: they must be repeated to replay a seed. */
function parseScenarioFlags(values: { ticks?: string; size?: string; bug?: string }): {
  overrides: ScenarioOverrides;
  replayFlags: string[];
} {
  const replayFlags: string[] = [];
  let overrides: ScenarioOverrides = {};
  if (values.bug !== undefined) {
    if (!(DELIBERATE_BUGS as string[]).includes(values.bug)) {
      throw new UsageError(
        `--bug must be one of ${DELIBERATE_BUGS.join(", ")}, got "${values.bug}"`,
      );
    }
    overrides = { ...BUG_PROFILES[values.bug as DeliberateBug].overrides };
    replayFlags.push("--bug", values.bug);
  }
  if (values.ticks !== undefined) {
    overrides = { ...overrides, faultPhaseTicks: integerFlag("--ticks", values.ticks, 10) };
    replayFlags.push("--ticks", values.ticks);
  }
  if (values.size !== undefined) {
    const size = integerFlag("--size", values.size, 3);
    if (!(CLUSTER_SIZES as readonly number[]).includes(size))
      throw new UsageError(`--size must be 3, 5 or 7, got ${size}`);
    overrides = { ...overrides, clusterSize: size as ClusterSize };
    replayFlags.push("--size", values.size);
  }
  return { overrides, replayFlags };
}

function integerFlag(name: string, text: string, minimum: number): number {
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value < minimum)
    throw new UsageError(`${name} must be an integer >= ${minimum}, got "${text}"`);
  return value;
}

function print(line: string): void {
  process.stdout.write(`${line}\n`);
}

function reportFailure(report: SeedReport, replayFlags: readonly string[]): void {
  const violation = report.violation!;
  print(`FAIL seed ${report.seed}: ${violation.invariant} violated`);
  print(`  ${violation.detail.split("\n").join("\n  ")}`);
  print(`  scenario: ${report.scenario}`);
  print(
    `  replay:   npm run sim -- --seed ${report.seed} --trace${replayFlags.map((flag) => ` ${flag}`).join("")}`,
  );
}

function runOne(command: Command): number {
  const result = runSimulation({
    seed: command.seed,
    overrides: command.overrides,
    ...(command.trace ? { traceSink: print } : {}),
  });
  const s = result.stats;
  print(
    `seed ${result.seed}: ${result.violation === null ? "ok" : "FAILED"} (${describeScenario(result.scenario)}) — ` +
      `${s.virtualMs} ms virtual, ${s.events} events, ${s.opsCompleted} ops completed, ${s.opsUnknown} unknown, ` +
      `commit index ${s.committedIndex}, term ${s.highestTerm}, ${s.crashes} crashes, ${s.membershipChanges} membership changes, ` +
      `${s.transfers} transfers, ${s.messagesSent} messages (${s.messagesDropped} dropped)`,
  );
  if (result.violation === null) return 0;
  reportFailure(toSeedReport(result), command.replayFlags);
  return 1;
}

/** Sums reports as they arrive, prints progress and failures, and the final line. */
class SweepReporter {
  private done = 0;
  private readonly failures: SeedReport[] = [];
  private readonly bySize: Record<ClusterSize, number> = { 3: 0, 5: 0, 7: 0 };
  private opsCompleted = 0;
  private opsUnknown = 0;
  private crashes = 0;
  private membershipChanges = 0;
  private historiesSettled = 0;
  private readonly startedMs = performance.now();
  private readonly progressEvery: number;

  constructor(private readonly command: Command) {
    this.progressEvery = Math.max(1, Math.min(1000, Math.ceil(command.seedCount / 20)));
  }

  add(report: SeedReport): void {
    this.done++;
    this.bySize[report.clusterSize]++;
    this.opsCompleted += report.opsCompleted;
    this.opsUnknown += report.opsUnknown;
    this.crashes += report.crashes;
    this.membershipChanges += report.membershipChanges;
    if (report.historySettled) this.historiesSettled++;
    if (report.violation !== null) {
      this.failures.push(report);
      if (this.failures.length <= MAX_FAILURES_PRINTED)
        reportFailure(report, this.command.replayFlags);
    }
    if (this.done % this.progressEvery === 0) {
      print(
        `  ${this.done}/${this.command.seedCount} seeds, ${this.failures.length} failed, ${this.rate()} seeds/s`,
      );
    }
  }

  finish(): number {
    const seconds = (performance.now() - this.startedMs) / 1000;
    const sizes = Object.entries(this.bySize)
      .map(([size, count]) => `${size}:${count}`)
      .join(" ");
    const last = this.command.seed + this.command.seedCount - 1;
    const stopped = this.done < this.command.seedCount ? ", stopped at the first failure" : "";
    print(
      `sweep seeds ${this.command.seed}..${last}: ${this.done} run${stopped}, ${this.failures.length} failed ` +
        `(sizes ${sizes}; ${this.opsCompleted} ops completed, ${this.opsUnknown} unknown; ${this.crashes} crashes; ` +
        `${this.membershipChanges} membership changes; ${this.historiesSettled} histories checked with unknown ` +
        `outcomes settled) in ${seconds.toFixed(1)} s, ${this.rate()} seeds/s`,
    );
    if (this.failures.length === 0) return 0;
    const seeds = this.failures.map((report) => report.seed).sort((a, b) => a - b);
    print(`failing seeds: ${seeds.join(" ")}`);
    return 1;
  }

  private rate(): string {
    return (this.done / ((performance.now() - this.startedMs) / 1000)).toFixed(0);
  }
}

async function runSweep(command: Command): Promise<number> {
  const reporter = new SweepReporter(command);
  if (command.jobs === 1) {
    sweep({
      fromSeed: command.seed,
      seedCount: command.seedCount,
      overrides: command.overrides,
      stopOnFirstFailure: command.firstFailure,
      onResult: (result) => reporter.add(toSeedReport(result)),
    });
    return reporter.finish();
  }
  const jobs = Math.min(command.jobs, command.seedCount);
  const passOn = process.argv
    .slice(2)
    .filter(
      (arg, i, all) => arg !== "--jobs" && all[i - 1] !== "--jobs" && !arg.startsWith("--jobs="),
    );
  await runChildren(
    fileURLToPath(import.meta.url),
    jobs,
    (job) => [...passOn, "--jobs", String(jobs), "--worker-job", String(job)],
    (report) => reporter.add(report),
  );
  return reporter.finish();
}

/** A child of a parallel sweep: every `jobs`-th seed from its offset, each reported to the parent. */
function runWorker(command: Command): number {
  for (
    let seed = command.seed + command.workerJob;
    seed < command.seed + command.seedCount;
    seed += command.jobs
  ) {
    const result = runSimulation({ seed, overrides: command.overrides });
    process.send?.(toSeedReport(result));
    if (command.firstFailure && result.violation !== null) break;
  }
  return 0;
}

async function main(argv: string[]): Promise<number> {
  let command: Command;
  try {
    command = parseCommand(argv);
  } catch (error) {
    if (!(error instanceof UsageError) && !(error instanceof TypeError)) throw error;
    process.stderr.write(`sim: ${error.message}\n\n${USAGE}\n`);
    return 2;
  }
  switch (command.mode) {
    case "help":
      print(USAGE);
      return 0;
    case "one":
      return runOne(command);
    case "worker":
      return runWorker(command);
    case "sweep":
      return runSweep(command);
  }
}

// `npm run sim -- --seed N --trace | head`: a reader that stops early is not an error.
process.stdout.on("error", (error: NodeJS.ErrnoException) => {
  if (error.code !== "EPIPE") throw error;
  process.exit(process.exitCode ?? 0);
});

process.exitCode = await main(process.argv.slice(2));
