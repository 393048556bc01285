// What run.ts tells a client worker (client_worker.ts) and what the worker reports back.

/** Every key of a fault run lives under this prefix, so one watch sees every write. */
export const KEY_PREFIX = "f/";

export interface WorkerConfig {
  /** First client id; ids grow from there (one per logical client and per unknown outcome). */
  readonly clientBase: number;
  /** Client URLs of every member that may exist during the run. */
  readonly endpoints: readonly string[];
  /** Logical clients are pinned among the first this many endpoints (the initial members). */
  readonly pinnedCount: number;
  readonly seed: number;
  /** Logical clients in this process, each with one operation in flight. */
  readonly concurrency: number;
  readonly keyCount: number;
  readonly opTimeoutMs: number;
  /** This process's share of the run's operation bound. */
  readonly maxOperations: number;
  /** Linearizable operations and writes (JSON Lines, KvOperation). */
  readonly historyFile: string;
  /** Serializable gets, kept apart: they are not expected to be linearizable. */
  readonly serializableFile: string;
  /** Watch events (JSON Lines, WatchRecord). */
  readonly watchFile: string;
  /** 2: watch every write from the first; null: from whenever the watch opens. */
  readonly watchFromRevision: number | null;
  /** The watch gives up this long after the worker starts. */
  readonly watchDeadlineMs: number;
  /** Wait this long before opening the watch. */
  readonly watchDelayMs: number;
}

/** One line of a watch file. */
export type WatchRecord =
  | { readonly kind: "opened"; readonly startRevision: number; readonly endpoint: string }
  | {
      readonly kind: "event";
      readonly revision: number;
      readonly key: string;
      readonly type: "put" | "delete";
      readonly value: string | null;
    };

export interface WorkerReport {
  ok: number;
  /** Definitely not applied (refused before reaching the log) or failed reads. */
  failed: number;
  /** Writes whose outcome is unknown (timeout, connection lost). */
  unknown: number;
  /** Monotonic ns at which writes were acknowledged, for availability. */
  writeSuccessTimes: number[];
}

/** Messages run.ts sends to a worker. */
export type WorkerCommand =
  | { readonly type: "stop" }
  /** Close the watch once it has seen `revision` (the cluster's final one). */
  | { readonly type: "finish"; readonly revision: number };
