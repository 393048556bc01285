// Requests waiting for the log: proposals waiting to be applied, and linearizable reads waiting
// for a read index. Each has a deadline so that a proposal lost with a deposed leader fails
// with a clear error instead of hanging.
import { randomBytes, randomInt } from "node:crypto";

export class RequestTimeoutError extends Error {
  override name = "RequestTimeoutError";
  constructor(what: string, timeoutMs: number) {
    super(
      `${what} timed out after ${timeoutMs} ms (no leader, or the leader changed); ` +
        "it may or may not have been applied: retry, reading first if it matters",
    );
  }
}

interface Waiter<T> {
  resolve(value: T): void;
  reject(error: Error): void;
  timer: NodeJS.Timeout;
  /** Timed out: skipped by later rounds. */
  settled?: boolean;
}

/** Proposals keyed by the sequence number in their envelope. */
export class PendingProposals<T> {
  private readonly waiters = new Map<number, Waiter<T>>();
  /**
   * Random per process: entries this member proposed before a restart are still applied after
   * it, and must not match a new request's sequence number.
   */
  private nextSequence = randomInt(2 ** 47) * 32;

  constructor(private readonly timeoutMs: number) {}

  get size(): number {
    return this.waiters.size;
  }

  /** Reserves a sequence number and returns it with the promise of its result. */
  register(what: string): { sequence: number; result: Promise<T> } {
    const sequence = this.nextSequence++;
    const result = new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiters.delete(sequence);
        reject(new RequestTimeoutError(what, this.timeoutMs));
      }, this.timeoutMs);
      this.waiters.set(sequence, { resolve, reject, timer });
    });
    return { sequence, result };
  }

  resolve(sequence: number, value: T): void {
    const waiter = this.waiters.get(sequence);
    if (waiter === undefined) return;
    this.waiters.delete(sequence);
    clearTimeout(waiter.timer);
    waiter.resolve(value);
  }

  reject(sequence: number, error: Error): void {
    const waiter = this.waiters.get(sequence);
    if (waiter === undefined) return;
    this.waiters.delete(sequence);
    clearTimeout(waiter.timer);
    waiter.reject(error);
  }

  rejectAll(error: Error): void {
    for (const sequence of [...this.waiters.keys()]) this.reject(sequence, error);
  }
}

/**
 * Linearizable reads, batched as etcd does: every read that arrives while a ReadIndex round is
 * in flight joins the next round, so one heartbeat round serves many reads.
 */
export class ReadBatcher {
  private waiting: Waiter<void>[] = [];
  private readonly inFlight = new Map<string, Waiter<void>[]>();
  /** Rounds whose read index is known, waiting for apply to reach it. */
  private ready: { index: number; waiters: Waiter<void>[] }[] = [];
  private nextRound = 1;
  private roundStartedMs = 0;
  /**
   * Request ids are this member's id, a per-process nonce and a round number: the leader keeps
   * one queue for every member's rounds, and an answer meant for a previous life of this
   * process must not complete a round of this one.
   */
  private readonly idPrefix: Buffer;

  constructor(
    private readonly timeoutMs: number,
    memberId: number,
    private readonly requestReadIndex: (requestId: Uint8Array) => void,
  ) {
    this.idPrefix = Buffer.alloc(16);
    this.idPrefix.writeDoubleBE(memberId, 0);
    randomBytes(8).copy(this.idPrefix, 8);
  }

  /** Resolves once the state machine may serve a linearizable read. */
  wait(): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      const waiter: Waiter<void> = {
        resolve,
        reject,
        timer: setTimeout(() => {
          waiter.settled = true;
          reject(new RequestTimeoutError("linearizable read", this.timeoutMs));
        }, this.timeoutMs),
      };
      this.waiting.push(waiter);
    });
  }

  /** Starts a round for the reads that are waiting, if none is in flight. */
  flush(): void {
    if (this.inFlight.size > 0) return;
    this.waiting = this.waiting.filter((waiter) => !waiter.settled);
    if (this.waiting.length === 0) return;
    const requestId = Buffer.allocUnsafe(24);
    this.idPrefix.copy(requestId, 0);
    requestId.writeDoubleBE(this.nextRound++, 16);
    this.inFlight.set(requestId.toString("hex"), this.waiting);
    this.waiting = [];
    this.roundStartedMs = performance.now();
    try {
      this.requestReadIndex(requestId);
    } catch (error) {
      this.failInFlight(error as Error);
    }
  }

  /** A read state came back from the core. */
  accept(requestId: Uint8Array, index: number): void {
    const key = Buffer.from(requestId).toString("hex");
    const waiters = this.inFlight.get(key);
    if (waiters === undefined) return;
    this.inFlight.delete(key);
    this.ready.push({ index, waiters });
  }

  /** Serves every round whose index the state machine has reached; then starts the next. */
  served(appliedIndex: number): void {
    if (this.ready.length > 0) {
      const still: typeof this.ready = [];
      for (const round of this.ready) {
        if (round.index > appliedIndex) {
          still.push(round);
          continue;
        }
        for (const waiter of round.waiters) {
          clearTimeout(waiter.timer);
          waiter.resolve();
        }
      }
      this.ready = still;
    }
    this.flush();
  }

  /** Leadership changed: a round in flight may never be answered; ask again. */
  retryInFlight(): void {
    for (const waiters of this.inFlight.values()) {
      for (const waiter of waiters) if (!waiter.settled) this.waiting.push(waiter);
    }
    this.inFlight.clear();
    this.flush();
  }

  /** A round the core dropped (no leader yet) is never answered: ask again after a while. */
  retryIfStale(retryMs: number): void {
    if (this.inFlight.size > 0 && performance.now() - this.roundStartedMs > retryMs) {
      this.retryInFlight();
    }
  }

  failInFlight(error: Error): void {
    for (const waiters of this.inFlight.values()) {
      for (const waiter of waiters) {
        clearTimeout(waiter.timer);
        waiter.reject(error);
      }
    }
    this.inFlight.clear();
  }

  rejectAll(error: Error): void {
    this.failInFlight(error);
    for (const waiter of this.waiting) {
      clearTimeout(waiter.timer);
      waiter.reject(error);
    }
    this.waiting = [];
  }
}
