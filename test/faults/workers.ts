// The client processes of a run: started with their part of the workload, told to stop and to
// finish their watches, and their files read back once they are done.
import { type ChildProcess, fork } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { type KvOperation, parseHistoryJsonLines } from "../../src/check/index.ts";
import type { FaultCluster } from "./cluster.ts";
import type { RunOptions } from "./run.ts";
import type { WatchRecord, WorkerCommand, WorkerConfig, WorkerReport } from "./worker_protocol.ts";

const WORKER = fileURLToPath(new URL("./client_worker.ts", import.meta.url));

export interface WorkerFiles {
  readonly history: string[];
  readonly serializable: string[];
  readonly watch: string[];
}

export function startWorkers(
  options: RunOptions,
  cluster: FaultCluster,
  dir: string,
  workers: ChildProcess[],
): WorkerFiles {
  const files: WorkerFiles = { history: [], serializable: [], watch: [] };
  // Every member the run may have, the initial ones first: clients are pinned among those.
  const endpoints = cluster.names.map((name) => cluster.endpoint(name).clientUrl);
  for (let i = 0; i < options.clientProcesses; i++) {
    const config: WorkerConfig = {
      clientBase: i * 100_000 + 1,
      endpoints,
      pinnedCount: options.members,
      seed: (options.seed * 7919 + i) >>> 0,
      concurrency: options.concurrency,
      keyCount: options.keyCount,
      opTimeoutMs: options.opTimeoutMs,
      watchDeadlineMs: options.durationS * 1000 + workerFinishMs(options.durationS),
      maxOperations: Math.ceil(options.maxOperations / options.clientProcesses),
      historyFile: join(dir, `history-${i + 1}.jsonl`),
      serializableFile: join(dir, `serializable-${i + 1}.jsonl`),
      watchFile: join(dir, `watch-${i + 1}.jsonl`),
      // The first watch sees everything (revision 1 is the empty store a cluster starts with);
      // the others open part-way through the run.
      watchFromRevision: i === 0 ? 2 : null,
      watchDelayMs:
        i === 0 ? 0 : Math.floor((options.durationS * 1000 * i) / (options.clientProcesses + 1)),
    };
    files.history.push(config.historyFile);
    files.serializable.push(config.serializableFile);
    files.watch.push(config.watchFile);
    workers.push(
      fork(WORKER, [JSON.stringify(config)], { execArgv: ["--import", "tsx"], stdio: "inherit" }),
    );
  }
  return files;
}

export function send(worker: ChildProcess, command: WorkerCommand): void {
  if (worker.connected) worker.send(command);
}

export function workerReady(worker: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error("a client worker did not start within 30 s")),
      30_000,
    );
    worker.on("message", (message: { type?: string }) => {
      if (message.type !== "ready") return;
      clearTimeout(timer);
      resolve();
    });
  });
}

/** How long a worker may take after the run to finish its watch: a watch from the first
 * revision replays the whole run, so long runs get longer. */
export function workerFinishMs(durationS: number): number {
  return 60_000 + durationS * 100;
}

export function workerDone(worker: ChildProcess, finishMs: number): Promise<WorkerReport> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      worker.kill("SIGKILL");
      reject(
        new Error(`a client worker did not finish within ${finishMs} ms of the end of the run`),
      );
    }, finishMs);
    worker.on("message", (message: { type?: string; report?: WorkerReport }) => {
      if (message.type === "done") {
        clearTimeout(timer);
        resolve(message.report!);
      }
    });
    worker.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`a client worker exited with ${code} before reporting`));
    });
  });
}

export function readHistory(file: string): KvOperation[] {
  return existsSync(file) ? parseHistoryJsonLines(readFileSync(file, "utf8")) : [];
}

export function readWatch(file: string): WatchRecord[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, "utf8")
    .split("\n")
    .filter((line) => line !== "")
    .map((line) => JSON.parse(line) as WatchRecord);
}

export function sumReports(reports: readonly WorkerReport[]): {
  ok: number;
  failed: number;
  unknown: number;
} {
  return reports.reduce(
    (sum, r) => ({
      ok: sum.ok + r.ok,
      failed: sum.failed + r.failed,
      unknown: sum.unknown + r.unknown,
    }),
    { ok: 0, failed: 0, unknown: 0 },
  );
}
