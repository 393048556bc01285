// Watches (etcd's watchableStore). A watcher is either synced (gets events straight from apply,
// after commit) or unsynced (catching up from history in bounded chunks on later event-loop turns).
// Apply commits synchronously and notifies only synced watchers, and a catch-up chunk reads up to
// the revision committed at that moment and switches the watcher to synced in the same turn, so
// each event reaches a watcher exactly once, in revision order, with no gap.
import type { EventBatch } from "./executor.ts";
import type { HistoryChunk } from "./history.ts";
import { inRange } from "./range.ts";
import type { KeyValue, WatchEvent } from "./types.ts";

export interface WatchRequest {
  key: Uint8Array;
  rangeEnd: Uint8Array;
  /** 0 = from the next revision. */
  startRevision: number;
  prevKv: boolean;
  filters: { noPut?: boolean; noDelete?: boolean };
  progressNotify?: boolean;
}

/** `revision`: live batches carry the revision of their events; replay batches the last revision
 * they cover; progress batches the store revision. Events of one revision are never split. */
export type WatchBatch =
  | { events: WatchEvent[]; revision: number }
  | { canceled: true; reason: string; compactRevision?: number };

export type WatchSink = (batch: WatchBatch) => void;

export interface WatchSource {
  readonly revision: number;
  readonly compactRevision: number;
  readHistory(
    fromRev: number,
    toRev: number,
    maxRecords: number,
    match: (key: Uint8Array) => boolean,
    withPrevKv: boolean,
  ): HistoryChunk;
}

/** History records read per unsynced watcher per event-loop turn. */
const CHUNK_RECORDS = 1000;

export class Watcher {
  canceled = false;
  /** Synced: events below this are skipped (a start revision in the future). Unsynced: next to read. */
  nextRev: number;

  constructor(
    readonly id: number,
    readonly req: WatchRequest,
    readonly sink: WatchSink,
    nextRev: number,
    private readonly hub: WatchHub,
  ) {
    this.nextRev = nextRev;
  }

  matches(key: Uint8Array): boolean {
    return inRange(key, this.req.key, this.req.rangeEnd);
  }

  cancel(): void {
    this.hub.remove(this);
  }
}

export class WatchHub {
  private readonly synced = new Set<Watcher>();
  private readonly unsynced = new Set<Watcher>();
  private nextId = 1;
  private timer: NodeJS.Immediate | undefined;
  private paused = false;
  private idleWaiters: Array<() => void> = [];

  constructor(private readonly source: WatchSource) {}

  get size(): number {
    return this.synced.size + this.unsynced.size;
  }

  watch(req: WatchRequest, sink: WatchSink): Watcher {
    const { revision, compactRevision } = this.source;
    const start = req.startRevision;
    const w = new Watcher(this.nextId++, req, sink, start || revision + 1, this);
    if (start > 0 && start <= compactRevision) {
      w.canceled = true;
      sink({ canceled: true, reason: "compacted", compactRevision });
      return w;
    }
    if (start === 0 || start > revision) this.synced.add(w);
    else {
      this.unsynced.add(w);
      this.schedule();
    }
    return w;
  }

  remove(w: Watcher): void {
    w.canceled = true;
    this.synced.delete(w);
    this.unsynced.delete(w);
    this.checkIdle();
  }

  /** Called by the store after a batch commits, one entry per revision, in order. */
  notify(batches: readonly EventBatch[]): void {
    for (const batch of batches) {
      for (const w of this.synced) {
        if (batch.revision < w.nextRev) continue;
        const events = select(w, batch.events);
        if (events.length > 0) this.deliver(w, { events, revision: batch.revision });
      }
    }
  }

  /** etcd progress notify: an empty batch at the current revision to synced watchers asking. */
  progress(): void {
    const revision = this.source.revision;
    for (const w of this.synced) {
      if (w.req.progressNotify) this.deliver(w, { events: [], revision });
    }
  }

  /** Resolves once no watcher is catching up (tests, orderly shutdown). */
  whenSynced(): Promise<void> {
    if (this.unsynced.size === 0) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops catch-up while the store's files are swapped. */
  pause(): void {
    this.paused = true;
    if (this.timer !== undefined) clearImmediate(this.timer);
    this.timer = undefined;
  }

  /** After a restore: every watcher re-reads history from where it was. Those whose next event was
   * compacted away in the snapshot are canceled ("compacted"), as a fresh watch would be. */
  resync(previousRevision: number): void {
    this.paused = false;
    for (const w of this.synced) {
      w.nextRev = Math.max(w.nextRev, previousRevision + 1);
      this.unsynced.add(w);
    }
    this.synced.clear();
    this.schedule();
  }

  closeAll(reason: string): void {
    this.pause();
    for (const w of [...this.synced, ...this.unsynced]) {
      this.remove(w);
      w.sink({ canceled: true, reason });
    }
  }

  private deliver(w: Watcher, batch: WatchBatch): void {
    try {
      w.sink(batch);
    } catch {
      // A failing consumer must not break apply or other watchers; it loses its watch instead.
      this.remove(w);
    }
  }

  private schedule(): void {
    if (this.timer !== undefined || this.paused || this.unsynced.size === 0) return;
    this.timer = setImmediate(() => {
      this.timer = undefined;
      this.catchUp();
      this.schedule();
      this.checkIdle();
    });
  }

  private catchUp(): void {
    const { revision, compactRevision } = this.source;
    for (const w of [...this.unsynced]) {
      if (w.canceled) continue;
      if (w.nextRev <= compactRevision) {
        this.remove(w);
        w.sink({ canceled: true, reason: "compacted", compactRevision });
        continue;
      }
      if (w.nextRev <= revision) {
        const chunk = this.source.readHistory(
          w.nextRev,
          revision,
          CHUNK_RECORDS,
          (k) => w.matches(k),
          w.req.prevKv,
        );
        w.nextRev = chunk.nextRev;
        const events = select(w, chunk.events);
        if (events.length > 0) this.deliver(w, { events, revision: chunk.nextRev - 1 });
        if (w.canceled) continue;
      }
      if (w.nextRev > revision) {
        this.unsynced.delete(w);
        this.synced.add(w);
      }
    }
  }

  private checkIdle(): void {
    if (this.unsynced.size > 0) return;
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}

function select(w: Watcher, events: readonly WatchEvent[]): WatchEvent[] {
  const out: WatchEvent[] = [];
  const { noPut, noDelete } = w.req.filters;
  for (const e of events) {
    if (e.type === "put" ? noPut : noDelete) continue;
    if (!w.matches(e.kv.key)) continue;
    out.push(withPrev(e, w.req.prevKv));
  }
  return out;
}

function withPrev(e: WatchEvent, wantPrev: boolean): WatchEvent {
  if (wantPrev || e.prevKv === undefined) return e;
  const { prevKv: _dropped, ...rest } = e;
  return rest as { type: WatchEvent["type"]; kv: KeyValue };
}
