import type { NodeId } from "./types.ts";

/** A ReadIndex request waiting for a heartbeat round to confirm the leader is still leader. */
export interface PendingRead {
  readonly index: number;
  readonly from: NodeId;
  readonly requestId: Uint8Array;
  readonly acks: Set<NodeId>;
}

/** Bound on reads waiting for confirmation; beyond it new reads are refused. */
export const MAX_PENDING_READS = 4096;

/**
 * The queue of ReadIndex requests on the leader (Raft thesis §6.4). A quorum acknowledging
 * the heartbeat sent for a request also confirms every request queued before it, because that
 * heartbeat was sent after they were queued.
 */
export class ReadOnlyQueue {
  private readonly pending = new Map<string, PendingRead>();
  private queue: string[] = [];

  get size(): number {
    return this.queue.length;
  }

  /** Returns false when the request id is already pending or the queue is full. */
  add(index: number, from: NodeId, requestId: Uint8Array): boolean {
    const key = requestKey(requestId);
    if (this.pending.has(key) || this.queue.length >= MAX_PENDING_READS) return false;
    this.pending.set(key, { index, from, requestId, acks: new Set() });
    this.queue.push(key);
    return true;
  }

  /** Records `from`'s ack of the heartbeat carrying `requestId`; returns the acks so far. */
  recordAck(from: NodeId, requestId: Uint8Array): Set<NodeId> | undefined {
    const read = this.pending.get(requestKey(requestId));
    if (read === undefined) return undefined;
    read.acks.add(from);
    return read.acks;
  }

  /** Removes and returns every request up to and including `requestId`, in order. */
  release(requestId: Uint8Array): PendingRead[] {
    const key = requestKey(requestId);
    const position = this.queue.indexOf(key);
    if (position < 0) return [];
    const released: PendingRead[] = [];
    for (const queued of this.queue.slice(0, position + 1)) {
      released.push(this.pending.get(queued)!);
      this.pending.delete(queued);
    }
    this.queue = this.queue.slice(position + 1);
    return released;
  }

  lastRequestId(): Uint8Array | null {
    const key = this.queue[this.queue.length - 1];
    return key === undefined ? null : this.pending.get(key)!.requestId;
  }
}

function requestKey(requestId: Uint8Array): string {
  let key = "";
  for (const byte of requestId) key += String.fromCharCode(byte);
  return key;
}
