// Queries in flight on one link, settled by the peer's query-reply frames, a timeout, or the
// connection's loss (the peer may never have seen the query: the caller decides whether to ask
// again).
import { QueryError } from "./errors.ts";

interface Waiter {
  resolve(answer: Uint8Array): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
}

export class QueryWaiters {
  private nextId = 1;
  private readonly waiters = new Map<number, Waiter>();

  open(timeoutMs: number, peerName: string): { id: number; answer: Promise<Uint8Array> } {
    const id = this.nextId++;
    const answer = new Promise<Uint8Array>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(id);
        reject(new QueryError(`peer ${peerName} did not answer within ${timeoutMs} ms`));
      }, timeoutMs);
      timer.unref();
      this.waiters.set(id, { resolve, reject, timer });
    });
    return { id, answer };
  }

  settle(id: number, failed: boolean, body: Uint8Array, peerName: string): void {
    const waiter = this.waiters.get(id);
    if (waiter === undefined) return; // timed out already
    this.waiters.delete(id);
    clearTimeout(waiter.timer);
    if (!failed) waiter.resolve(body);
    else waiter.reject(new QueryError(`peer ${peerName}: ${Buffer.from(body).toString("utf8")}`));
  }

  failAll(error: Error): void {
    for (const waiter of this.waiters.values()) {
      clearTimeout(waiter.timer);
      waiter.reject(new QueryError(error.message));
    }
    this.waiters.clear();
  }
}
