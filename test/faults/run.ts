// One fault run: a cluster of real member processes, client processes recording histories, a
// seeded schedule of faults, then healing, convergence and every check. Artifacts (histories,
// member logs, the schedule) are kept when a check fails, or always with `keep`.

import type { ChildProcess } from "node:child_process";
import { cpSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { KvOperation } from "../../src/check/index.ts";
import { SeededRandom } from "../../src/raft/index.ts";
import { pick } from "../../src/sim/random_helpers.ts";
import { saveArtifacts } from "./artifacts.ts";
import { availability } from "./availability.ts";
import {
  type CheckOutcome,
  checkAcknowledgedWrites,
  checkConvergence,
  checkLinearizable,
  checkSerializableReads,
  checkWatch,
} from "./checks.ts";
import { FaultCluster } from "./cluster.ts";
import { DiskFiller } from "./disk.ts";
import { converge, finalReads, healEverything } from "./final_state.ts";
import type { NemesisContext, NemesisName } from "./nemesis.ts";
import { NetnsNetwork, netnsAvailable } from "./netns_network.ts";
import type { FaultNetwork, NetworkMode } from "./network.ts";
import { ProxyNetwork } from "./proxy_network.ts";
import { runSchedule } from "./schedule.ts";
import {
  readHistory,
  readWatch,
  send,
  startWorkers,
  sumReports,
  workerDone,
  workerFinishMs,
  workerReady,
} from "./workers.ts";

export interface RunOptions {
  readonly seed: number;
  /** One nemesis runs alone; several are mixed at random. */
  readonly nemeses: readonly NemesisName[];
  readonly durationS: number;
  readonly members: number;
  readonly clientProcesses: number;
  /** Logical clients per process. */
  readonly concurrency: number;
  readonly keyCount: number;
  readonly opTimeoutMs: number;
  /** The run stops issuing operations after this many, even before its duration is up. */
  readonly maxOperations: number;
  readonly network: NetworkMode | "auto";
  /** Where failing runs (and all runs with `keep`) leave their artifacts. */
  readonly artifactsDir: string;
  readonly keep: boolean;
  /** Extra member flags (the deliberately broken build uses this). */
  readonly memberFlags: readonly string[];
  readonly log: (line: string) => void;
}

export interface RunSummary {
  readonly label: string;
  readonly network: string;
  readonly operations: number;
  readonly ok: number;
  readonly failed: number;
  readonly unknown: number;
  readonly availability: number;
  readonly availabilityDuringFaults: number;
  readonly faults: readonly string[];
  /** Operations that completed, by kind ("get" linearizable, "sget" serializable). */
  readonly completed: Readonly<Record<"put" | "get" | "sget" | "delete" | "cas", number>>;
  readonly checks: readonly CheckOutcome[];
  readonly passed: boolean;
  readonly verdict: string;
  readonly artifacts: string | null;
}

export function runLabel(options: Pick<RunOptions, "nemeses" | "seed">): string {
  return `${options.nemeses.length === 1 ? options.nemeses[0] : `mixed(${options.nemeses.join("+")})`} seed ${options.seed}`;
}

async function chooseNetwork(
  requested: RunOptions["network"],
): Promise<{ network: FaultNetwork; note: string }> {
  if (requested !== "proxy") {
    const available = await netnsAvailable();
    if (available.ok) return { network: new NetnsNetwork(), note: "netns" };
    if (requested === "netns") throw new Error(`network namespaces unavailable: ${available.why}`);
    return {
      network: new ProxyNetwork(),
      note: `proxy (namespaces unavailable: ${available.why})`,
    };
  }
  return { network: new ProxyNetwork(), note: "proxy" };
}

export async function runFaults(options: RunOptions): Promise<RunSummary> {
  const label = runLabel(options);
  const random = new SeededRandom(options.seed);
  const dir = mkdtempSync(join(tmpdir(), "qmesh-faults-"));
  const { network, note } = await chooseNetwork(options.network);
  const initial = Array.from({ length: options.members }, (_, i) => `n${i + 1}`);
  const spares = options.nemeses.includes("membership")
    ? Array.from({ length: 4 }, (_, i) => `n${options.members + i + 1}`)
    : [];
  const cluster = new FaultCluster(network, dir, [...initial, ...spares], options.memberFlags);
  const schedule: string[] = [];
  const log = (line: string) => {
    schedule.push(`${new Date().toISOString()} ${line}`);
    options.log(`  ${line}`);
  };
  let disk: DiskFiller | null = null;
  const workers: ChildProcess[] = [];
  try {
    await cluster.define();
    if (options.nemeses.includes("disk-full")) {
      const member = pick(random, initial);
      disk = new DiskFiller(member, cluster.dataDir(member), 256);
      await disk.mount();
      log(`${member}'s data directory is a 256 MiB tmpfs`);
    }
    let skewed: string | null = null;
    if (options.nemeses.includes("clock-skew")) {
      skewed = pick(random, initial);
      const skew = pick(random, ["+120s x0.4", "-120s x2.5"]);
      cluster.clockSkew.set(skewed, skew);
      log(`${skewed} runs with its clock skewed (libfaketime "${skew}")`);
    }
    await Promise.all(initial.map((name) => cluster.start(name, initial, "new")));
    log(`leader ${await cluster.waitForLeader()}`);

    const files = startWorkers(options, cluster, dir, workers);
    await Promise.all(workers.map(workerReady));
    const context: NemesisContext = {
      cluster,
      random,
      spares: [...spares],
      initialSize: initial.length,
      disk,
      skewed,
      log,
    };
    const started = Number(process.hrtime.bigint());
    const windows = await runSchedule(options, context, log);
    const stopped = Number(process.hrtime.bigint());
    for (const worker of workers) send(worker, { type: "stop" });

    await healEverything(cluster, disk, log);
    const finalRevision = await converge(cluster);
    const final = await finalReads(cluster, options.keyCount);
    for (const worker of workers) send(worker, { type: "finish", revision: finalRevision });
    const reports = await Promise.all(
      workers.map((worker) => workerDone(worker, workerFinishMs(options.durationS))),
    );

    const history = [...files.history.flatMap(readHistory), ...final.reads].sort(
      (a, b) => a.call - b.call,
    );
    const serializable = files.serializable.flatMap(readHistory);
    const leaderState = final.states.get(final.via)!;
    const checks: CheckOutcome[] = [
      checkLinearizable(history),
      checkAcknowledgedWrites(history, final.states),
      checkConvergence(final.states, final.hashes),
      checkSerializableReads(serializable, history),
      ...files.watch.map((file, i) =>
        checkWatch(`${i + 1}`, readWatch(file), finalRevision, leaderState),
      ),
    ];
    const totals = sumReports(reports);
    const successTimes = reports.flatMap((report) => report.writeSuccessTimes);
    const passed = checks.every((check) => check.problems.length === 0);
    const keep = options.keep || !passed;
    const artifacts = keep
      ? saveArtifacts(options, label, { dir, history, serializable, files, schedule, cluster })
      : null;
    return {
      label,
      network: note,
      operations: totals.ok + totals.failed + totals.unknown,
      ...totals,
      availability: availability(successTimes, [[started, stopped]]),
      availabilityDuringFaults: availability(successTimes, windows),
      faults: schedule,
      completed: countCompleted(history, serializable),
      checks,
      passed,
      verdict: checks[0]!.verdict ?? "",
      artifacts,
    };
  } catch (error) {
    // A run that could not finish keeps what it has: the clients' files as they are, the
    // schedule and the members' output.
    const target = join(options.artifactsDir, label.replace(/[^a-z0-9+-]+/gi, "-"));
    mkdirSync(join(target, "logs"), { recursive: true });
    for (const file of readdirSync(dir).filter((name) => name.endsWith(".jsonl"))) {
      cpSync(join(dir, file), join(target, file));
    }
    writeFileSync(join(target, "schedule.log"), `${schedule.join("\n")}\n`);
    for (const [name, text] of cluster.logs)
      writeFileSync(join(target, "logs", `${name}.log`), text);
    throw new Error(`${(error as Error).message} (artifacts: ${target})`, { cause: error });
  } finally {
    for (const worker of workers) if (worker.exitCode === null) worker.kill("SIGKILL");
    await cluster.stopAll();
    await disk?.unmount();
    await network.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

function countCompleted(
  history: readonly KvOperation[],
  serializable: readonly KvOperation[],
): RunSummary["completed"] {
  const completed = { put: 0, get: 0, sget: serializable.length, delete: 0, cas: 0 };
  // The final reads (client 0) are the harness's, not the workload's.
  for (const op of history) if (op.return !== null && op.client !== 0) completed[op.op]++;
  return completed;
}
