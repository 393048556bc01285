// The load generator: a few forked worker processes (bench/etcd/worker.ts), each with its own
// gRPC connections, so that the client side is spread over processes and is not the bottleneck.
import { type ChildProcess, fork } from "node:child_process";
import type { WorkResult, WorkSpec } from "./work.ts";

const WORKER = new URL("./worker.ts", import.meta.url).pathname;

export class WorkerPool {
  private readonly workers: ChildProcess[];

  constructor(readonly size: number) {
    this.workers = Array.from({ length: size }, () =>
      fork(WORKER, [], { stdio: ["ignore", "inherit", "inherit", "ipc"] }),
    );
  }

  /** Runs one phase: `specFor(i)` is worker i's share, or null to leave it idle. */
  async run(specFor: (worker: number) => WorkSpec | null): Promise<WorkResult[]> {
    let loopBase = 0;
    const pending: Promise<WorkResult>[] = [];
    this.workers.forEach((worker, i) => {
      const spec = specFor(i);
      if (spec === null) return;
      pending.push(
        new Promise((resolve, reject) => {
          const onExit = (code: number | null) => reject(new Error(`worker ${i} exited ${code}`));
          worker.once("exit", onExit);
          worker.once("message", (message: { result?: WorkResult; error?: string }) => {
            worker.off("exit", onExit);
            if (message.result !== undefined) resolve(message.result);
            else reject(new Error(`worker ${i}: ${message.error}`));
          });
          worker.send({ spec, loopBase });
        }),
      );
      loopBase += spec.loops;
    });
    return Promise.all(pending);
  }

  close(): void {
    for (const worker of this.workers) worker.disconnect();
  }
}

/** Splits `total` loops over `workers` as evenly as possible. */
export function share(total: number, workers: number, worker: number): number {
  return Math.floor(total / workers) + (worker < total % workers ? 1 : 0);
}
