// Automatic compaction with etcd's semantics (--auto-compaction-mode, --auto-compaction-retention).
// The leader alone decides, and compacts through the log so every member compacts at the same
// revision. The schedules are pure (time and revision in, revision to compact out) for testing.
//
// periodic (etcd's v3compactor/periodic.go): keep at least `retention` of history. The revision
// is sampled every min(retention, 1h)/10; the first compaction comes once `retention` has passed,
// then one every min(retention, 1h), each at the revision sampled `retention` ago. Samples are
// taken on every member, so a new leader knows the revision of `retention` ago at once.
// revision (etcd's revision.go): every 5 minutes, compact at current revision - retention.
import type { ApplyResult } from "../kv/index.ts";

export type AutoCompaction =
  | { readonly mode: "periodic"; readonly retentionMs: number }
  | { readonly mode: "revision"; readonly retention: number };

const HOUR_MS = 60 * 60 * 1000;
/** etcd's revInterval. */
export const REVISION_CHECK_MS = 5 * 60 * 1000;
/** Shorter periods would sample faster than a member can usefully propose. */
const MIN_PERIOD_MS = 1000;

/**
 * etcd's --auto-compaction-retention for a mode; null for "0" (off). A plain integer is hours
 * (periodic) or revisions (revision); periodic also takes Go durations ("30m", "1h30m", "90s").
 * Throws a RangeError saying what is accepted.
 */
export function parseAutoCompaction(
  mode: "periodic" | "revision",
  retention: string,
): AutoCompaction | null {
  const text = retention.trim();
  if (/^\d+$/.test(text)) {
    const count = Number(text);
    if (count === 0) return null;
    if (mode === "revision") return { mode, retention: count };
    return { mode, retentionMs: count * HOUR_MS };
  }
  if (mode === "revision") {
    throw new RangeError(
      `"${retention}": in revision mode it is the number of revisions to keep (e.g. 1000)`,
    );
  }
  const ms = parseGoDuration(text);
  if (ms === null || ms < MIN_PERIOD_MS) {
    throw new RangeError(
      `"${retention}" is not a retention period: give hours ("1") or a duration of at least 1s ` +
        `("30m", "1h30m"), or "0" for none`,
    );
  }
  return { mode, retentionMs: ms };
}

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: HOUR_MS,
};

/** Go's time.ParseDuration for non-negative values, in milliseconds; null when malformed. */
export function parseGoDuration(text: string): number | null {
  const part = /(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/y;
  let total = 0;
  let at = 0;
  while (at < text.length) {
    part.lastIndex = at;
    const match = part.exec(text);
    if (match === null) return null;
    total += Number(match[1]) * UNIT_MS[match[2]!]!;
    at = part.lastIndex;
  }
  return at === 0 ? null : total;
}

export interface CompactionSchedule {
  /** How often `due` should be asked. */
  readonly stepMs: number;
  /** The revision to compact at now, or null; `due` also records what it needs to sample. */
  due(nowMs: number, revision: number, isLeader: boolean): number | null;
  /** A compaction at `revision` went through (or was already done). */
  done(nowMs: number, revision: number): void;
}

export function compactionSchedule(
  config: AutoCompaction,
  startMs: number,
  startRevision: number,
): CompactionSchedule {
  return config.mode === "periodic"
    ? new PeriodicSchedule(config.retentionMs, startMs, startRevision)
    : new RevisionSchedule(config.retention);
}

export class PeriodicSchedule implements CompactionSchedule {
  readonly stepMs: number;
  private readonly compactEveryMs: number;
  private readonly keep: number;
  /**
   * Sampled revisions, oldest first, one per step (the first at the start). As in etcd,
   * revisions[0] is between `period` and `period` + one step old when a compaction is due.
   */
  private readonly revisions: number[] = [];
  private lastSuccessMs: number;
  private waitMs: number;

  constructor(periodMs: number, startMs: number, startRevision: number) {
    this.compactEveryMs = Math.min(periodMs, HOUR_MS);
    this.stepMs = this.compactEveryMs / 10;
    this.keep = Math.floor(periodMs / this.stepMs) + 1;
    this.lastSuccessMs = startMs;
    this.waitMs = periodMs;
    this.revisions.push(startRevision);
  }

  due(nowMs: number, revision: number, isLeader: boolean): number | null {
    let compactAt: number | null = null;
    if (isLeader && nowMs - this.lastSuccessMs >= this.waitMs) {
      // After the first full period, compact every compactEveryMs.
      this.waitMs = this.compactEveryMs;
      compactAt = this.revisions[0]!;
    }
    this.revisions.push(revision);
    if (this.revisions.length > this.keep) this.revisions.shift();
    return compactAt;
  }

  done(nowMs: number): void {
    this.lastSuccessMs = nowMs;
  }
}

export class RevisionSchedule implements CompactionSchedule {
  readonly stepMs = REVISION_CHECK_MS;
  private previous = 0;

  constructor(private readonly retention: number) {}

  due(_nowMs: number, revision: number, isLeader: boolean): number | null {
    const compactAt = revision - this.retention;
    if (!isLeader || compactAt <= 0 || compactAt === this.previous) return null;
    return compactAt;
  }

  done(_nowMs: number, revision: number): void {
    this.previous = revision;
  }
}

export interface CompactorHost {
  readonly revision: () => number;
  readonly compactRevision: () => number;
  readonly isLeader: () => boolean;
  readonly compact: (revision: number) => Promise<ApplyResult | null>;
  readonly warn: (message: string) => void;
  readonly info: (message: string) => void;
}

/** Runs a schedule against a member: call `tick` every `stepMs`. */
export class AutoCompactor {
  private readonly schedule: CompactionSchedule;
  private inFlight = false;

  constructor(
    config: AutoCompaction,
    private readonly host: CompactorHost,
  ) {
    this.schedule = compactionSchedule(config, Date.now(), host.revision());
  }

  get stepMs(): number {
    return this.schedule.stepMs;
  }

  tick(): void {
    const revision = this.schedule.due(Date.now(), this.host.revision(), this.host.isLeader());
    if (revision === null || this.inFlight) return;
    // etcd counts "already compacted" as success.
    if (revision <= this.host.compactRevision()) {
      this.schedule.done(Date.now(), revision);
      return;
    }
    this.inFlight = true;
    this.host
      .compact(revision)
      .then((result) => {
        if (result !== null && "error" in result && result.error.code !== "Compacted") {
          throw new Error(result.error.message);
        }
        this.schedule.done(Date.now(), revision);
        this.host.info(`auto compaction at revision ${revision}`);
      })
      .catch((error: Error) =>
        this.host.warn(
          `auto compaction at revision ${revision} failed, will retry: ${error.message}`,
        ),
      )
      .finally(() => {
        this.inFlight = false;
      });
  }
}
