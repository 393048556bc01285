// npm run test:faults: the fault-injection suite. Without a nemesis it runs the sweep (each
// nemesis alone, then mixed runs, then the deliberately broken build that must be caught);
// with --nemesis it runs (or reproduces) one run. Exits non-zero when any run fails.
import { Command, InvalidArgumentError, Option } from "commander";
import { NEMESES, type NemesisName } from "./nemesis.ts";
import { type RunOptions, type RunSummary, runFaults } from "./run.ts";
import { SWEEP, type SweepEntry } from "./sweep.ts";

function integer(name: string, low: number, high: number) {
  return (text: string): number => {
    const value = Number(text);
    if (!Number.isInteger(value) || value < low || value > high) {
      throw new InvalidArgumentError(`${name} must be a whole number from ${low} to ${high}`);
    }
    return value;
  };
}

function nemeses(text: string): NemesisName[] {
  const names = text.split(",").map((name) => name.trim());
  for (const name of names) {
    if (!(NEMESES as readonly string[]).includes(name)) {
      throw new InvalidArgumentError(
        `unknown nemesis "${name}"; choose from ${NEMESES.join(", ")}`,
      );
    }
  }
  return names as NemesisName[];
}

const program = new Command("test:faults")
  .description("fault-injection runs on real member processes, every history checked")
  .option("--seed <n>", "seed of the schedule and workload", integer("--seed", 0, 2 ** 32 - 1))
  .option(
    "--nemesis <names>",
    `one nemesis, or several mixed (comma-separated): ${NEMESES.join(", ")}`,
    nemeses,
  )
  .option("--duration <s>", "seconds of faults and load", integer("--duration", 5, 24 * 3600), 30)
  .option("--members <n>", "members at the start", integer("--members", 3, 7), 3)
  .option("--clients <n>", "client processes", integer("--clients", 1, 16), 3)
  .option("--concurrency <n>", "logical clients per process", integer("--concurrency", 1, 64), 4)
  .option("--keys <n>", "keys in the key space", integer("--keys", 1, 1000), 6)
  .option(
    "--max-ops <n>",
    "operations at most (default 2,000 per second of --duration)",
    integer("--max-ops", 1, 100_000_000),
  )
  .addOption(
    new Option("--network <mode>", "how faults reach the network")
      .choices(["auto", "netns", "proxy"])
      .default("auto"),
  )
  .option("--artifacts <dir>", "where failing runs leave histories and logs", "artifacts/faults")
  .option("--keep", "keep artifacts of passing runs too", false)
  .option("--broken", "run against the deliberately broken build (the run must fail)", false);

program.parse();
const flags = program.opts();

function summaryLine(summary: RunSummary): string {
  const availability = `${(summary.availability * 100).toFixed(0)}% (during faults ${(summary.availabilityDuringFaults * 100).toFixed(0)}%)`;
  return (
    `${summary.passed ? "PASS" : "FAIL"} ${summary.label} [${summary.network}]: ${summary.operations} ops, ` +
    `${summary.ok} ok / ${summary.failed} failed / ${summary.unknown} unknown, availability ${availability}, ` +
    `checker: ${summary.verdict}`
  );
}

const finished: { entry: SweepEntry; summary: RunSummary }[] = [];

/** The broken build is caught only by a proof: a checker that ran out of budget proves nothing. */
function caught(summary: RunSummary): boolean {
  return summary.verdict === "not-linearizable";
}

/** The fault matrix: one row per run, completed operations by kind, the checks' verdict. */
function matrix(): string {
  const rows = finished.map(({ entry, summary }) => {
    const c = summary.completed;
    const verdict = entry.broken
      ? `${caught(summary) ? "caught" : "missed"} (broken build)`
      : summary.passed
        ? "pass"
        : "FAIL";
    return `| ${summary.label} | ${summary.network.split(" ")[0]} | ${c.put} | ${c.get} | ${c.sget} | ${c.delete} | ${c.cas} | ${summary.unknown} | ${(summary.availabilityDuringFaults * 100).toFixed(0)}% | ${verdict} |`;
  });
  return [
    "| run | network | put | get | serializable get | delete | cas | unknown | availability during faults | checks |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...rows,
  ].join("\n");
}

async function runEntry(entry: SweepEntry): Promise<boolean> {
  const options: RunOptions = {
    seed: entry.seed,
    nemeses: entry.nemeses,
    durationS: entry.durationS,
    members: entry.members ?? flags.members,
    clientProcesses: flags.clients,
    concurrency: entry.concurrency ?? flags.concurrency,
    keyCount: entry.keys ?? flags.keys,
    opTimeoutMs: 2_000,
    maxOperations: flags.maxOps ?? 2_000 * (entry.durationS ?? flags.duration),
    network: entry.network ?? flags.network,
    artifactsDir: flags.artifacts,
    keep: flags.keep,
    memberFlags: entry.broken ? BROKEN_BUILD_FLAGS : [],
    log: (line) => console.log(line),
  };
  console.log(
    `run: ${entry.broken ? "BROKEN BUILD " : ""}${entry.nemeses.join("+")} seed ${entry.seed}, ${entry.durationS} s`,
  );
  let summary: RunSummary;
  try {
    summary = await runFaults(options);
  } catch (error) {
    console.log(`ERROR ${entry.nemeses.join("+")} seed ${entry.seed}: ${(error as Error).message}`);
    return false;
  }
  finished.push({ entry, summary });
  for (const check of summary.checks) {
    for (const problem of check.problems) console.log(`  ${check.name}: ${problem}`);
  }
  if (summary.artifacts !== null) console.log(`  artifacts: ${summary.artifacts}`);
  if (entry.broken) {
    console.log(
      `${caught(summary) ? "PASS (the broken build was caught)" : "FAIL (the broken build went undetected)"} ${summaryLine(summary)}`,
    );
    return caught(summary);
  }
  console.log(summaryLine(summary));
  return summary.passed;
}

/** Lease reads with CheckQuorum off: a paused, deposed leader answers from its old lease. */
export const BROKEN_BUILD_FLAGS = [
  "--enable-fault-injection",
  "true",
  "--unsafe-testing-knobs",
  "leaseReadsWithoutCheckQuorum",
];

const entries: readonly SweepEntry[] =
  flags.nemesis === undefined
    ? SWEEP
    : [
        {
          nemeses: flags.nemesis,
          seed: flags.seed ?? Math.floor(Math.random() * 2 ** 31),
          durationS: flags.duration,
          broken: flags.broken,
        },
      ];
let failures = 0;
const began = Date.now();
for (const entry of entries) if (!(await runEntry(entry))) failures++;
console.log(`\n${matrix()}\n`);
console.log(
  `${entries.length - failures} of ${entries.length} runs passed in ${((Date.now() - began) / 1000).toFixed(0)} s`,
);
process.exit(failures === 0 ? 0 : 1);
