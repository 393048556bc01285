// A full disk stops a member's writes, not the member. etcd exits on any write error; a full
// disk is different: nothing already written is damaged and the failed write can succeed once
// an operator frees space. So the Ready loop waits here on the write that failed, retrying it,
// and does nothing that depends on it meanwhile: no acknowledgement leaves, no Ready advances.
import { isDiskFull } from "../storage/index.ts";

export const DISK_RETRY_MS = 1_000;

export interface DiskRetryHooks {
  /** A write failed on a full disk while none had: say so once, raise the alarm. */
  onFull(path: string, error: Error): void;
  /** The write that failed went through after `fullForMs`. */
  onRecovered(path: string, fullForMs: number): void;
}

/** The member stopped while a write was waiting for space. */
export class DiskRetryStoppedError extends Error {
  override name = "DiskRetryStoppedError";
}

export class DiskRetry {
  private episode: { path: string; since: number } | null = null;
  private stopped = false;
  private wake: (() => void) | null = null;

  constructor(
    private readonly hooks: DiskRetryHooks,
    private readonly retryMs = DISK_RETRY_MS,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** A write is waiting for space. */
  get full(): boolean {
    return this.episode !== null;
  }

  /**
   * Runs `write` until it succeeds. A disk-full failure is retried every retryMs, as the same
   * call (the writers make a repeated call redo exactly the work that failed); any other error
   * is thrown at once. Throws DiskRetryStoppedError once stop() is called.
   */
  async run<T>(path: string, write: () => T | Promise<T>): Promise<T> {
    for (;;) {
      if (this.stopped)
        throw new DiskRetryStoppedError(`stopped while waiting for space on ${path}`);
      try {
        const result = await write();
        this.recovered();
        return result;
      } catch (error) {
        if (!isDiskFull(error)) throw error;
        if (this.episode === null) {
          this.episode = { path, since: this.now() };
          this.hooks.onFull(path, error as Error);
        }
        await this.pause();
      }
    }
  }

  /** Ends any wait at once; a write waiting for space then throws DiskRetryStoppedError. */
  stop(): void {
    this.stopped = true;
    this.wake?.();
  }

  private recovered(): void {
    const episode = this.episode;
    if (episode === null) return;
    this.episode = null;
    this.hooks.onRecovered(episode.path, this.now() - episode.since);
  }

  private pause(): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wake = null;
        resolve();
      };
      const timer = setTimeout(done, this.retryMs);
      this.wake = done;
    });
  }
}
