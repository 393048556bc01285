// The phases of the side-by-side benchmark: which load each one puts on a cluster.
import type { WorkKind } from "./work.ts";

export interface Phase {
  readonly id: string;
  readonly title: string;
  readonly kind: WorkKind;
  /** Request loops in flight over all workers. */
  readonly concurrency: number;
  readonly prefix: string;
  /** Every worker also watches the prefix, one watcher per member. */
  readonly watch?: boolean;
}

/** Puts, gets and txns share one key space, written once before the first phase. */
export const KV_PREFIX = "bench/kv/";
export const KEYSPACE = 10_000;
export const VALUE_BYTES = 100;
export const MEMORY_KEYS = 100_000;

export const PHASES: readonly Phase[] = [
  { id: "put1", title: "put, 1 in flight", kind: "put", concurrency: 1, prefix: KV_PREFIX },
  {
    // A local read at one in flight: each server's per-request floor, without consensus.
    id: "getser1",
    title: "serializable get, 1 in flight",
    kind: "getSerializable",
    concurrency: 1,
    prefix: KV_PREFIX,
  },
  { id: "put16", title: "put, 16 in flight", kind: "put", concurrency: 16, prefix: KV_PREFIX },
  { id: "put128", title: "put, 128 in flight", kind: "put", concurrency: 128, prefix: KV_PREFIX },
  {
    id: "get128",
    title: "linearizable get, 128",
    kind: "get",
    concurrency: 128,
    prefix: KV_PREFIX,
  },
  {
    id: "getser128",
    title: "serializable get, 128",
    kind: "getSerializable",
    concurrency: 128,
    prefix: KV_PREFIX,
  },
  {
    id: "txn16",
    title: "txn (1 compare + 3 puts), 16",
    kind: "txn",
    concurrency: 16,
    prefix: KV_PREFIX,
  },
  {
    id: "watch1",
    title: "watch delivery, 1 writer",
    kind: "put",
    concurrency: 1,
    prefix: "bench/watch1/",
    watch: true,
  },
  {
    id: "watch16",
    title: "watch delivery, 16 writers",
    kind: "put",
    concurrency: 16,
    prefix: "bench/watch16/",
    watch: true,
  },
  {
    id: "mem100k",
    title: `load ${MEMORY_KEYS.toLocaleString("en")} keys (Txns of 100 puts)`,
    kind: "load",
    concurrency: 24,
    prefix: "bench/mem/",
  },
];
