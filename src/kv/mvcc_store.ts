// MvccStore: the Raft state machine (etcd mvcc + lessor semantics) on LMDB. See layout.ts for the
// on-disk layout. apply() is deterministic: its effect on LMDB depends only on the entries.

import { copyFileSync, mkdirSync, mkdtempSync, renameSync, rmSync, statSync } from "node:fs";
import { basename, dirname, join } from "node:path";
import { open } from "lmdb";
import { DiskFullError, isDiskFull } from "../storage/index.ts";
import { hasNoSpaceAlarm, readAlarms } from "./alarms.ts";
import { AuthReader } from "./auth_store.ts";
import type { LoadedRules } from "./contract_rules.ts";
import type { EventBatch } from "./executor.ts";
import { Executor } from "./executor.ts";
import { hashDbs } from "./hash.ts";
import { type HistoryChunk, readHistory } from "./history.ts";
import {
  checkLiveKeys,
  type HistoryHash,
  type HistorySource,
  hashHistory,
} from "./history_hash.ts";
import { checkRangeKeys } from "./key_limits.ts";
import {
  type Bin,
  type Dbs,
  leaseIds,
  leaseKeys,
  leaseTtl,
  META_APPLIED,
  META_COMPACT,
  META_REVISION,
  openDbs,
  readMetaNumber,
  TXN_FLAGS,
  userMetaKey,
  writeMetaNumber,
} from "./layout.ts";
import { Lessor } from "./lessor.ts";
import { readRange } from "./range.ts";
import { commitBytes, MIN_HEADROOM_BYTES, SpaceGuard } from "./space_guard.ts";
import type {
  AlarmMember,
  ApplyHook,
  ApplyItem,
  ApplyResult,
  RangeRequest,
  RangeResponse,
  WriteGuard,
} from "./types.ts";
import { WatchHub } from "./watch_hub.ts";

export interface MvccStoreOptions {
  mapSizeBytes?: number;
  /** Free bytes the disk must keep for a commit to be tried (see space_guard.ts). */
  minFreeBytes?: number;
  /** Contract rules on writes (node/ injects them); without one, no write is checked. */
  guard?: WriteGuard;
}

export class MvccStore {
  readonly watches: WatchHub;
  readonly leases: Lessor;
  /** The applied auth state (users, roles, permissions, enabled). */
  readonly auth: AuthReader;
  private dbs: Dbs;
  private applied = 0;
  private rev = 1;
  private compactRev = 0;
  private activeAlarms: readonly AlarmMember[] = [];
  /** The contract rules as of the last committed batch (undefined: to be read). */
  private contractRules: LoadedRules;
  private readonly space: SpaceGuard;
  private readonly reopenListeners: (() => void)[] = [];

  private constructor(
    private readonly dir: string,
    private readonly options: MvccStoreOptions,
  ) {
    this.space = new SpaceGuard(dir, options.minFreeBytes);
    this.dbs = openDbs(dir, options.mapSizeBytes);
    this.loadMeta();
    const store = this;
    this.watches = new WatchHub({
      get revision() {
        return store.rev;
      },
      get compactRevision() {
        return store.compactRev;
      },
      readHistory: (from, to, max, match, withPrev): HistoryChunk =>
        readHistory(this.dbs, from, to, max, match, withPrev),
    });
    this.auth = new AuthReader(() => this.dbs);
    this.leases = new Lessor({
      leaseTtl: (id) => leaseTtl(this.dbs, id),
      leaseIds: () => leaseIds(this.dbs),
      leaseKeys: (id) => leaseKeys(this.dbs, id),
    });
  }

  /** Opens (creating if needed) the LMDB environment in directory `dir`. */
  static open(dir: string, options: MvccStoreOptions = {}): MvccStore {
    mkdirSync(dir, { recursive: true });
    return new MvccStore(dir, options);
  }

  get appliedIndex(): number {
    return this.applied;
  }

  get revision(): number {
    return this.rev;
  }

  get compactRevision(): number {
    return this.compactRev;
  }

  /** The applied alarms (etcd's alarm store), sorted by member id then type. */
  get alarms(): readonly AlarmMember[] {
    return this.activeAlarms;
  }

  /** A NOSPACE alarm is active: writes that consume space are refused (see alarms.ts). */
  get noSpace(): boolean {
    return hasNoSpaceAlarm(this.activeAlarms);
  }

  private loadMeta(): void {
    this.applied = readMetaNumber(this.dbs, META_APPLIED, 0);
    // As etcd: an empty store is at revision 1.
    this.rev = readMetaNumber(this.dbs, META_REVISION, 1);
    this.compactRev = readMetaNumber(this.dbs, META_COMPACT, 0);
    this.activeAlarms = readAlarms(this.dbs);
    this.contractRules = undefined;
  }

  /**
   * Applies committed entries in one synchronous LMDB write txn, appliedIndex included, then tells
   * the lessor and the watchers. Items at or below appliedIndex are skipped (null): a restart
   * replays the WAL from an older index. `nowMs` only sets the leader's in-memory expiry of
   * granted leases (defaults to the last time the lessor saw); it never reaches LMDB.
   * Throws DiskFullError, changing nothing, when the disk has no room: call again to retry.
   */
  apply(items: readonly ApplyItem[], nowMs?: number, hook?: ApplyHook): (ApplyResult | null)[] {
    // Replayed after a restart: nothing to write, so nothing to refuse on a full disk.
    if (items.every((item) => item.index <= this.applied))
      return new Array(items.length).fill(null);
    this.space.check(commitBytes(items.length, itemBytes(items)));
    try {
      const results = this.applyInTxn(items, nowMs, hook);
      hook?.done(true);
      return results;
    } catch (error) {
      hook?.done(false);
      if (isDiskFull(error)) {
        throw new DiskFullError(this.dir, (error as Error).message, { cause: error });
      }
      throw error;
    }
  }

  private applyInTxn(
    items: readonly ApplyItem[],
    nowMs: number | undefined,
    hook: ApplyHook | undefined,
  ): (ApplyResult | null)[] {
    const results: (ApplyResult | null)[] = new Array(items.length).fill(null);
    const exec = new Executor(
      this.dbs,
      this.rev,
      this.compactRev,
      this.activeAlarms,
      this.options.guard,
      this.contractRules,
    );
    let applied = this.applied;
    this.dbs.env.transactionSync(() => {
      for (let i = 0; i < items.length; i++) {
        const item = items[i]!;
        if (item.index <= applied) continue;
        const revisionBefore = exec.revision;
        if (item.command !== null) results[i] = exec.execute(item.command);
        if (item.meta !== undefined) {
          this.dbs.meta.putSync(userMetaKey(item.meta.key), item.meta.value);
        }
        hook?.applied(i, results[i] ?? null, revisionBefore);
        applied = item.index;
      }
      if (applied === this.applied) return;
      hook?.finish();
      writeMetaNumber(this.dbs, META_APPLIED, applied);
      if (exec.revision !== this.rev) writeMetaNumber(this.dbs, META_REVISION, exec.revision);
      if (exec.compactRevision !== this.compactRev) {
        writeMetaNumber(this.dbs, META_COMPACT, exec.compactRevision);
      }
    }, TXN_FLAGS);
    // Only now, after commit, does memory follow LMDB: a throw above leaves both untouched.
    this.applied = applied;
    this.rev = exec.revision;
    this.compactRev = exec.compactRevision;
    this.activeAlarms = exec.alarms;
    this.contractRules = exec.rules.loaded;
    this.leases.applied(exec.granted, exec.revoked, nowMs);
    if (exec.batches.length > 0) this.notify(exec.batches);
    return results;
  }

  private notify(batches: EventBatch[]): void {
    this.watches.notify(batches);
  }

  /**
   * A named database in the store's LMDB environment, for state that commits with apply batches
   * (see ApplyHook). The handle dies when restore() replaces the environment: `onReopen` says so.
   */
  sideDatabase(name: string): Bin {
    return this.dbs.env.openDB<Uint8Array, Uint8Array>({
      name: `side.${name}`,
      keyEncoding: "binary",
      encoding: "binary",
    });
  }

  onReopen(listener: () => void): void {
    this.reopenListeners.push(listener);
  }

  getMeta(key: string): Uint8Array | undefined {
    const v = this.dbs.meta.get(userMetaKey(key));
    return v === undefined ? undefined : new Uint8Array(v);
  }

  /** Serves a read directly (not through the log). Throws KvError Compacted / FutureRevision. */
  range(req: RangeRequest): RangeResponse {
    checkRangeKeys(req);
    return readRange(this.dbs, req, { revision: this.rev, compactRevision: this.compactRev });
  }

  /** Makes everything applied so far durable (fsync of data and meta pages). */
  sync(): Promise<void> {
    const env = this.dbs.env as unknown as { sync(cb: (err?: Error) => void): void };
    return new Promise((resolve, reject) => env.sync((err) => (err ? reject(err) : resolve())));
  }

  /** A consistent single-file copy of the store at `path`; returns the applied index it holds. */
  async backup(path: string): Promise<number> {
    mkdirSync(dirname(path), { recursive: true });
    const tmp = mkdtempSync(join(dirname(path), `.${basename(path)}.`));
    try {
      // LMDB copies its own read snapshot in a worker thread; applies may commit meanwhile, so the
      // applied index is read back from the copy rather than taken from memory.
      await this.dbs.env.backup(tmp, false);
      renameSync(join(tmp, "data.mdb"), path);
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    const copy = open<Uint8Array, Uint8Array>({
      path,
      noSubdir: true,
      readOnly: true,
      keyEncoding: "binary",
      encoding: "binary",
      maxDbs: 8,
    });
    try {
      const meta = copy.openDB<Uint8Array, Uint8Array>({
        name: "meta",
        keyEncoding: "binary",
        encoding: "binary",
      });
      return readMetaNumber({ meta } as Dbs, META_APPLIED, 0);
    } finally {
      await copy.close();
    }
  }

  /**
   * Replaces the store with a snapshot file made by backup() (on any member), then reopens.
   * Watchers are kept: they re-read history from where they were (the snapshot continues the same
   * replicated history) and are canceled with reason "compacted" if that part was compacted away.
   */
  async restore(path: string): Promise<void> {
    const previousRevision = this.rev;
    const target = join(this.dir, "data.mdb");
    const staged = `${target}.restore`;
    // Copied while the old store is still open: a full disk leaves the store as it was.
    this.space.check(statSync(path).size + MIN_HEADROOM_BYTES);
    try {
      copyFileSync(path, staged);
    } catch (error) {
      rmSync(staged, { force: true });
      if (isDiskFull(error)) {
        throw new DiskFullError(this.dir, (error as Error).message, { cause: error });
      }
      throw error;
    }
    this.watches.pause();
    await this.dbs.env.close();
    renameSync(staged, target);
    rmSync(join(this.dir, "lock.mdb"), { force: true });
    this.dbs = openDbs(this.dir, this.options.mapSizeBytes);
    this.loadMeta();
    for (const listener of this.reopenListeners) listener();
    this.leases.restored();
    this.watches.resync(previousRevision);
  }

  /**
   * The LMDB file's size, and the bytes its trees use (etcd's dbSize and dbSizeInUse). LMDB
   * never shrinks its file: freed pages are reused by later writes.
   */
  dbSize(): { total: number; inUse: number } {
    const env = this.dbs.env.getStats() as { pageSize: number; lastPageNumber: number };
    let pages = 2; // the two meta pages
    for (const db of [this.dbs.env, this.dbs.meta, this.dbs.rev, this.dbs.kv, this.dbs.hist]) {
      pages += treePages(db.getStats());
    }
    pages += treePages(this.dbs.lease.getStats()) + treePages(this.dbs.leasekey.getStats());
    pages += treePages(this.dbs.auth.getStats());
    return { total: (env.lastPageNumber + 1) * env.pageSize, inUse: pages * env.pageSize };
  }

  /** Deterministic SHA-256 (hex) of all replicated MVCC state; see hash.ts. */
  hashState(): string {
    return hashDbs(this.dbs);
  }

  /** etcd's HashKV: a digest of the history up to `revision`, comparable across members. */
  hashHistory(revision: number): Promise<HistoryHash> {
    return hashHistory(this.historySource(), revision);
  }

  /** Null when every live key is its newest history record; else which key is not. */
  checkLiveKeys(): Promise<string | null> {
    return checkLiveKeys(this.historySource());
  }

  private historySource(): HistorySource {
    const store = this;
    return {
      dbs: () => store.dbs,
      get revision() {
        return store.rev;
      },
      get compactRevision() {
        return store.compactRev;
      },
    };
  }

  async close(): Promise<void> {
    this.watches.closeAll("store closed");
    await this.dbs.env.close();
  }
}

function itemBytes(items: readonly ApplyItem[]): number {
  let bytes = 0;
  for (const item of items) bytes += (item.command?.length ?? 0) + (item.meta?.value.length ?? 0);
  return bytes;
}

function treePages(stats: unknown): number {
  const s = stats as {
    treeBranchPageCount: number;
    treeLeafPageCount: number;
    overflowPages: number;
  };
  return s.treeBranchPageCount + s.treeLeafPageCount + s.overflowPages;
}
