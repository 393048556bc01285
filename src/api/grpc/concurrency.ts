// The building blocks etcd's lock and election services share (its client/v3/concurrency
// package): keys named <prefix><lease id in hex> held by a lease, ordered by create revision, and
// waiting until every older key under the prefix is gone.
import * as grpc from "@grpc/grpc-js";
import type {
  KeyValue,
  RangeOp,
  RangeOpResponse,
  RangeRequest,
  TxnCommand,
  TxnResponse,
  WatchBatch,
  WatchEvent,
  WatchRequest,
} from "../../kv/index.ts";
import { EMPTY_BYTES, prefixEnd } from "../../kv/index.ts";
import type { QmeshNode } from "../../node/node.ts";
import { type ResponseHeader, responseHeader } from "./context.ts";
import { RpcError } from "./etcd_errors.ts";
import { applied, asUser } from "./kv_service.ts";

/** etcd's concurrency.NewSession default TTL, used when a lock or campaign names no lease. */
const SESSION_TTL = 60;

/** `<prefix>/<lease in lowercase hex>`, as etcd's Mutex and Election name their keys. */
export function ownKey(prefix: Uint8Array, lease: number): Buffer {
  return Buffer.concat([prefix, Buffer.from(lease.toString(16))]);
}

/** etcd's v3lock/v3election with lease 0: a fresh session lease (never kept alive: orphaned). */
export async function sessionLease(node: QmeshNode, lease: number): Promise<number> {
  if (lease !== 0) return lease;
  const id = node.newLeaseId();
  applied(node, await node.propose({ op: "leaseGrant", id, ttlSeconds: SESSION_TTL }));
  return id;
}

/** The oldest key under the prefix (etcd's WithFirstCreate). */
export function firstCreated(prefix: Uint8Array): RangeOp {
  return {
    op: "range",
    key: prefix,
    rangeEnd: prefixEnd(prefix),
    sortOrder: "ascend",
    sortTarget: "create",
    limit: 1,
  };
}

export function getKey(key: Uint8Array): RangeOp {
  return { op: "range", key, rangeEnd: EMPTY_BYTES };
}

export function put(key: Uint8Array, value: Uint8Array, lease: number) {
  return {
    op: "put" as const,
    key,
    value,
    lease,
    prevKv: false,
    ignoreValue: false,
    ignoreLease: false,
  };
}

/** `create_revision(key) = revision` (0: the key does not exist). */
export function createdAt(key: Uint8Array, revision: number) {
  return {
    result: "equal" as const,
    target: "create" as const,
    key,
    rangeEnd: EMPTY_BYTES,
    number: revision,
  };
}

export interface TxnOutcome {
  header: ResponseHeader;
  response: TxnResponse;
}

/** A txn written as `user` (contract rules see who wrote; "" with auth off). */
export async function txn(
  node: QmeshNode,
  command: Omit<TxnCommand, "op" | "user">,
  user: string,
): Promise<TxnOutcome> {
  const done = applied(node, await node.propose(asUser({ op: "txn", ...command }, user)));
  return { header: responseHeader(node, done.revision), response: done.response as TxnResponse };
}

export function rangeAt(response: TxnResponse, index: number): KeyValue[] {
  return (response.responses[index] as RangeOpResponse).kvs;
}

const canceledError = () => new RpcError(grpc.status.CANCELLED, "context canceled");

/** Events from the hub as an async queue; `close()` ends the watch. */
export class EventQueue {
  private readonly batches: WatchBatch[] = [];
  private wake: (() => void) | undefined;
  private readonly watcher;

  constructor(
    node: QmeshNode,
    request: WatchRequest,
    private readonly signal: AbortSignal,
  ) {
    this.watcher = node.kv.watches.watch(request, (batch) => {
      this.batches.push(batch);
      this.wake?.();
    });
    signal.addEventListener("abort", () => this.wake?.(), { once: true });
  }

  /** The next batch of events (with its revision); throws once canceled or aborted. */
  async next(): Promise<{ events: WatchEvent[]; revision: number }> {
    for (;;) {
      if (this.signal.aborted) throw canceledError();
      const batch = this.batches.shift();
      if (batch !== undefined) {
        if ("canceled" in batch) {
          throw new RpcError(grpc.status.UNKNOWN, `lost watcher: ${batch.reason}`);
        }
        if (batch.events.length > 0) return batch;
        continue;
      }
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
  }

  close(): void {
    this.watcher.cancel();
  }
}

/** Waits until `key` is deleted, watching from `revision` (etcd's waitDelete). */
async function waitDelete(
  node: QmeshNode,
  key: Uint8Array,
  revision: number,
  signal: AbortSignal,
): Promise<void> {
  const queue = new EventQueue(
    node,
    {
      key,
      rangeEnd: EMPTY_BYTES,
      startRevision: revision,
      prevKv: false,
      filters: { noPut: true },
    },
    signal,
  );
  try {
    await queue.next();
  } finally {
    queue.close();
  }
}

/** Waits until no key under `prefix` has a create revision ≤ `maxCreateRevision` (etcd's
 * waitDeletes); returns the header of the read that found none. */
export async function waitDeletes(
  node: QmeshNode,
  prefix: Uint8Array,
  maxCreateRevision: number,
  signal: AbortSignal,
): Promise<ResponseHeader> {
  for (;;) {
    const request: RangeRequest = {
      key: prefix,
      rangeEnd: prefixEnd(prefix),
      sortOrder: "descend",
      sortTarget: "create",
      limit: 1,
      maxCreateRevision,
    };
    const newest = await node.range(request, false);
    const kv = newest.kvs[0];
    if (kv === undefined) return responseHeader(node, newest.revision);
    await waitDelete(node, kv.key, newest.revision, signal);
  }
}

/** An AbortSignal that fires when the client cancels the call. */
export function callSignal(call: { on(event: "cancelled", listener: () => void): unknown }) {
  const controller = new AbortController();
  call.on("cancelled", () => controller.abort());
  return controller.signal;
}
