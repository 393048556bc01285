import { SnapshotSendError } from "./errors.ts";

interface Waiter {
  resolve(): void;
  reject(error: Error): void;
}

/** Snapshot transfers in flight on one link, settled by the peer's ack or nack frames. */
export class AckWaiters {
  private nextId = 1;
  private readonly waiters = new Map<number, Waiter>();

  /** Registers a transfer before its first frame goes out, so an early nack is not missed. */
  open(): { id: number; ack: Promise<void> } {
    const id = this.nextId++;
    const ack = new Promise<void>((resolve, reject) => this.waiters.set(id, { resolve, reject }));
    return { id, ack };
  }

  cancel(id: number): void {
    this.waiters.delete(id);
  }

  settle(id: number, nackReason: string | null, peerName: string): void {
    const waiter = this.waiters.get(id);
    if (waiter === undefined) return;
    this.waiters.delete(id);
    if (nackReason === null) waiter.resolve();
    else
      waiter.reject(new SnapshotSendError(`peer ${peerName} refused the snapshot: ${nackReason}`));
  }

  failAll(error: Error): void {
    for (const waiter of this.waiters.values()) waiter.reject(error);
    this.waiters.clear();
  }
}
