// What a member does about a full disk: its writes wait and retry (disk_retry.ts), it says so
// once, in words an operator can act on, and it has the cluster refuse writes meanwhile
// (disk_alarm.ts).
import { DiskFullError } from "../storage/index.ts";
import type { DiskAlarm } from "./disk_alarm.ts";
import { DISK_RETRY_MS, DiskRetry } from "./disk_retry.ts";

export interface DiskFullLogger {
  error(message: string): void;
  info(message: string): void;
}

export class DiskFull {
  readonly retry: DiskRetry;
  private alarm: DiskAlarm | null = null;

  constructor(
    private readonly dataDir: string,
    private readonly logger: DiskFullLogger,
    private readonly retryMs = DISK_RETRY_MS,
  ) {
    this.retry = new DiskRetry(
      {
        onFull: (path, error) => this.onFull(path, error),
        onRecovered: (path, ms) => {
          this.logger.info(
            `disk has room again: ${path} written after ${Math.round(ms)} ms of waiting; resuming`,
          );
          this.alarm?.tick();
        },
      },
      retryMs,
    );
  }

  get full(): boolean {
    return this.retry.full;
  }

  watch(alarm: DiskAlarm): void {
    this.alarm = alarm;
  }

  tick(): void {
    this.alarm?.tick();
  }

  private onFull(path: string, error: Error): void {
    const why = error instanceof DiskFullError ? error.detail : error.message;
    this.logger.error(
      `disk is full: cannot write ${path} (${why}). Free space on ${this.dataDir}: ` +
        `qmesh retries every ${this.retryMs} ms and resumes by itself, losing nothing. ` +
        "Until then this member acknowledges nothing and the cluster refuses writes " +
        "(etcd's NOSPACE alarm, cleared by this member once it has written everything)",
    );
    this.alarm?.tick();
  }
}
