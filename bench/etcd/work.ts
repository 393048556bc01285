// What the orchestrator asks a load worker to do in one phase, and what the worker reports back.
// Shared by bench/etcd/pool.ts (parent) and bench/etcd/worker.ts (forked child).

export type WorkKind = "put" | "get" | "getSerializable" | "txn" | "load";

export interface WorkSpec {
  readonly kind: WorkKind;
  /** host:port of every member; each operation goes to the next one (round robin). */
  readonly endpoints: readonly string[];
  /** Concurrent request loops this worker runs (0: only watches). */
  readonly loops: number;
  /** Wall-clock ms when every worker starts, so that all run in the same window. */
  readonly startAt: number;
  readonly seconds: number;
  /** Keys are prefix + a zero-padded number below keyspace. */
  readonly prefix: string;
  readonly keyspace: number;
  readonly valueBytes: number;
  /** load: put keys [from, to) in Txns of `batch` puts, then stop (no time limit). */
  readonly load?: { readonly from: number; readonly to: number; readonly batch: number };
  /** Put values start with the send time (µs since the epoch), for watch delivery latency. */
  readonly stamped?: boolean;
  /** Watch `prefix` on this endpoint from before startAt until the writers have stopped. */
  readonly watchEndpoint?: string;
}

export interface WorkResult {
  readonly ops: number;
  readonly errors: number;
  readonly firstError: string | null;
  /** Latency of each successful operation, µs. */
  readonly latenciesUs: number[];
  /** Send-to-receive time of each watched event, µs. */
  readonly watchLatenciesUs: number[];
  /** This worker's own CPU (user + system) during the phase, ms. */
  readonly cpuMs: number;
}

/** Wall-clock time in µs, comparable between processes on one machine. */
export function nowUs(): number {
  return Math.round((performance.timeOrigin + performance.now()) * 1000);
}

export function keyOf(prefix: string, n: number): string {
  return `${prefix}${String(n).padStart(7, "0")}`;
}
