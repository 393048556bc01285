// The write-ahead log: Raft's entries, hard state and snapshot markers, durable with one
// fdatasync per group of syncs. See wal_record.ts for the format, wal_recovery.ts for replay.

import type { FileHandle } from "node:fs/promises";
import { mkdir, open, unlink } from "node:fs/promises";
import { join } from "node:path";
import type { Entry, HardState, SnapshotMetadata } from "../raft/index.ts";
import { isDiskFull } from "./disk_space.ts";
import { DiskFullError, WalError, WalHardStateError } from "./errors.ts";
import { fsyncDirectory } from "./fs_sync.ts";
import { SILENT_LOGGER, type StorageLogger } from "./logger.ts";
import type { LogShape } from "./wal_log_shape.ts";
import {
  type EncodedSnapshot,
  encodeSnapshot,
  entriesRecordBytes,
  HARD_STATE_RECORD_BYTES,
  RecordBuffer,
  segmentHeaderRecordBytes,
  snapshotRecordBytes,
} from "./wal_record.ts";
import { type ReplayedWal, replayWal, type WalRecovery } from "./wal_recovery.ts";
import {
  listSegments,
  removeTempFiles,
  SegmentAllocator,
  type SegmentInfo,
  segmentName,
} from "./wal_segment.ts";
import { type Cut, SegmentWriter } from "./wal_segment_writer.ts";

export type { WalRecovery } from "./wal_recovery.ts";

export interface WalOptions {
  /** Size of each preallocated segment file; default 64 MiB. */
  segmentBytes?: number | undefined;
  logger?: StorageLogger | undefined;
}

export const DEFAULT_SEGMENT_BYTES = 64 * 1024 * 1024;
const MIN_SEGMENT_BYTES = 4096;

/** One buffer on its way to disk, and what is durable once it is there. */
interface Flush {
  readonly buffer: RecordBuffer;
  readonly cuts: Cut[];
  readonly target: number;
  readonly snapshotIndex: number;
}

interface Waiter {
  readonly target: number;
  resolve(): void;
  reject(error: unknown): void;
}

export class Wal {
  // The log as appended (durable or not): what the next record is checked against.
  private readonly shape: LogShape;
  private hardState: HardState;
  private snapshot: EncodedSnapshot | null;
  private logicalSegment: SegmentInfo;
  private logicalOffset: number;

  // Group commit: appends fill `active`; one flush at a time writes a whole buffer.
  private active = new RecordBuffer();
  private idle = new RecordBuffer();
  private cuts: Cut[] = [];
  private appendedBytes = 0;
  private durableBytes = 0;
  private appendedSnapshotIndex: number;
  private durableSnapshotIndex: number;
  private waiters: Waiter[] = [];
  private flushRun: Promise<void> | null = null;
  /** A flush the disk had no room for: written again, first, by the next sync(). */
  private pending: Flush | null = null;
  private failure: WalError | null = null;
  private closed = false;
  private readonly files: SegmentWriter;

  private constructor(
    private readonly dir: string,
    private readonly segmentBytes: number,
    allocator: SegmentAllocator,
    handle: FileHandle,
    replayed: ReplayedWal,
  ) {
    const { recovery, segments } = replayed;
    this.shape = replayed.shape;
    this.hardState = recovery.hardState;
    this.snapshot = recovery.snapshot === null ? null : encodeSnapshot(recovery.snapshot);
    this.appendedSnapshotIndex = this.durableSnapshotIndex = recovery.snapshot?.index ?? 0;
    this.logicalSegment = segments[segments.length - 1]!;
    this.logicalOffset = replayed.endOffset;
    this.files = new SegmentWriter(allocator, handle, segments, replayed.endOffset);
  }

  /** Opens (creating if needed) the WAL in `dir` and replays it. */
  static async open(
    dir: string,
    options: WalOptions = {},
  ): Promise<{ wal: Wal; recovered: WalRecovery }> {
    const segmentBytes = options.segmentBytes ?? DEFAULT_SEGMENT_BYTES;
    if (!Number.isSafeInteger(segmentBytes) || segmentBytes < MIN_SEGMENT_BYTES) {
      throw new WalError(`wal: segmentBytes must be an integer >= ${MIN_SEGMENT_BYTES}`);
    }
    await mkdir(dir, { recursive: true });
    await removeTempFiles(dir);
    const allocator = new SegmentAllocator(dir, segmentBytes);
    if ((await listSegments(dir)).length === 0) {
      const path = join(dir, segmentName(0, 1));
      const first = { seq: 0, firstIndex: 1, path, sizeBytes: segmentBytes, maxEntryIndex: 0 };
      await (await allocator.create(first)).close();
    }
    const replayed = await replayWal(dir, options.logger ?? SILENT_LOGGER);
    const last = replayed.segments[replayed.segments.length - 1]!;
    const wal = new Wal(dir, segmentBytes, allocator, await open(last.path, "r+"), replayed);
    // A segment created just before a crash has no header yet: write it before anything else.
    if (replayed.endOffset === 0) {
      wal.logicalOffset = wal.writeHeader();
      await wal.sync();
    }
    allocator.prepareSpare();
    return { wal, recovered: replayed.recovery };
  }

  /**
   * Buffers the records of one Raft Ready: snapshot marker, entries, hard state, in that order.
   * No I/O. A batch that contradicts the log (a gap, a commit past the end) is a caller bug:
   * it throws, and the WAL refuses all further work.
   */
  append(
    entries: readonly Entry[],
    hardState: HardState | null,
    snapshot: SnapshotMetadata | null = null,
  ): void {
    this.checkUsable();
    const lengthBefore = this.active.length;
    try {
      if (snapshot !== null) this.appendSnapshot(snapshot);
      if (entries.length > 0) this.appendEntries(entries);
      if (hardState !== null) this.appendHardState(hardState);
    } catch (error) {
      // Records before the bad one may already be buffered: nothing more may reach the disk.
      if (this.active.length !== lengthBefore) this.fail(error);
      throw error;
    } finally {
      this.appendedBytes += this.active.length - lengthBefore;
    }
  }

  /**
   * Resolves once everything appended before the call is durable (one fdatasync per group).
   * Rejects with DiskFullError when the disk is full: nothing is lost, call again to retry.
   */
  sync(): Promise<void> {
    if (this.failure !== null) return Promise.reject(this.failure);
    if (this.closed) return Promise.reject(new WalError("wal: closed"));
    const target = this.appendedBytes;
    if (this.durableBytes >= target) return Promise.resolve();
    return new Promise((resolve, reject) => {
      this.waiters.push({ target, resolve, reject });
      this.flushRun ??= this.flushLoop();
    });
  }

  /**
   * Deletes the oldest segments whose entries are all <= `index`, never the one being written.
   * Needs a durable snapshot marker at `index` or later: it is what replaces those entries.
   */
  async releaseTo(index: number): Promise<void> {
    this.checkUsable();
    if (this.durableSnapshotIndex < index) {
      throw new WalError(
        `wal: cannot release up to ${index}: the latest durable snapshot marker is at ${this.durableSnapshotIndex}`,
      );
    }
    const sealed = this.files.sealed;
    let removed = false;
    while (sealed.length > 0 && sealed[0]!.maxEntryIndex <= index) {
      await unlink(sealed[0]!.path);
      sealed.shift();
      removed = true;
    }
    if (removed) await fsyncDirectory(this.dir);
  }

  /** fdatasync durations (µs) measured since the last call. */
  takeSyncLatenciesUs(): number[] {
    return this.files.takeSyncLatenciesUs();
  }

  /** Makes everything appended durable, then closes the files. */
  async close(): Promise<void> {
    if (this.closed) return;
    let error: unknown = null;
    if (this.failure === null) await this.sync().catch((failed: unknown) => (error = failed));
    this.closed = true;
    if (this.flushRun !== null) await this.flushRun;
    await this.files.close();
    if (error !== null) throw error;
  }

  private appendSnapshot(snapshot: SnapshotMetadata): void {
    if (snapshot.index < this.appendedSnapshotIndex) {
      throw new WalError(
        `wal: snapshot marker at ${snapshot.index} is older than the one at ${this.appendedSnapshotIndex}`,
      );
    }
    const encoded = encodeSnapshot(snapshot);
    this.place(snapshotRecordBytes(encoded));
    this.active.writeSnapshot(encoded);
    this.shape.applySnapshot(snapshot.index, snapshot.term);
    this.snapshot = encoded;
    this.appendedSnapshotIndex = snapshot.index;
  }

  private appendEntries(entries: readonly Entry[]): void {
    const first = entries[0]!;
    if (first.index > this.shape.last + 1) {
      throw new WalError(
        `wal: entries start at ${first.index} but the log ends at ${this.shape.last}`,
      );
    }
    for (let i = 1; i < entries.length; i++) {
      if (entries[i]!.index !== entries[i - 1]!.index + 1) {
        throw new WalError(`wal: entry ${entries[i]!.index} follows ${entries[i - 1]!.index}`);
      }
    }
    const bytes = entriesRecordBytes(entries);
    this.place(bytes);
    this.active.writeEntries(entries, bytes);
    this.shape.truncateFrom(first.index);
    for (const entry of entries) {
      if (entry.index > this.shape.base) this.shape.push(entry.index, entry.term);
    }
    const lastIndex = entries[entries.length - 1]!.index;
    if (lastIndex > this.logicalSegment.maxEntryIndex)
      this.logicalSegment.maxEntryIndex = lastIndex;
  }

  private appendHardState(hardState: HardState): void {
    if (hardState.commit > this.shape.last) {
      throw new WalHardStateError(hardState.commit, this.shape.last);
    }
    this.place(HARD_STATE_RECORD_BYTES);
    this.active.writeHardState(hardState);
    this.hardState = hardState;
  }

  /** Reserves room for a record in the current segment, cutting a new segment if it won't fit. */
  private place(recordBytes: number): void {
    if (this.logicalOffset + recordBytes <= this.logicalSegment.sizeBytes) {
      this.logicalOffset += recordBytes;
      return;
    }
    const seq = this.logicalSegment.seq + 1;
    const firstIndex = this.shape.last + 1;
    const headerBytes = segmentHeaderRecordBytes(this.snapshot);
    const segment: SegmentInfo = {
      seq,
      firstIndex,
      path: join(this.dir, segmentName(seq, firstIndex)),
      // A record larger than a segment gets a segment of its own size.
      sizeBytes: Math.max(this.segmentBytes, headerBytes + recordBytes),
      maxEntryIndex: 0,
    };
    this.cuts.push({ at: this.active.length, segment });
    this.writeHeader();
    this.logicalSegment = segment;
    this.logicalOffset = headerBytes + recordBytes;
  }

  /** Every segment opens with the state so far, so deleting older segments loses nothing. */
  private writeHeader(): number {
    const before = this.active.length;
    this.active.writeSegmentHeader(this.hardState, this.snapshot);
    this.appendedBytes += this.active.length - before;
    return this.active.length - before;
  }

  private async flushLoop(): Promise<void> {
    try {
      while (this.failure === null) {
        const flush = this.pending ?? this.takeActive();
        if (flush === null) break;
        this.pending = flush;
        await this.files.writeOut(flush.buffer, flush.cuts);
        this.pending = null;
        flush.buffer.length = 0;
        this.idle = flush.buffer;
        this.durableBytes = flush.target;
        this.durableSnapshotIndex = flush.snapshotIndex;
        this.waiters = this.waiters.filter((waiter) => {
          if (waiter.target > flush.target) return true;
          waiter.resolve();
          return false;
        });
      }
    } catch (error) {
      if (isDiskFull(error)) this.deferUntilSpace(error);
      else this.fail(error);
    }
    // Cleared in the same turn as the loop's last check, so no sync() can be left waiting.
    this.flushRun = null;
  }

  private takeActive(): Flush | null {
    if (this.durableBytes >= this.appendedBytes) return null;
    const flush: Flush = {
      buffer: this.active,
      cuts: this.cuts,
      target: this.appendedBytes,
      snapshotIndex: this.appendedSnapshotIndex,
    };
    this.active = this.idle;
    this.cuts = [];
    return flush;
  }

  /**
   * A full disk is not a broken log: the flush stays pending, whole, and the next sync() writes
   * it again from where it stopped. Only the syncs waiting now fail, with DiskFullError.
   */
  private deferUntilSpace(error: unknown): void {
    const full = new DiskFullError(this.dir, `wal: ${String(error)}`, { cause: error });
    for (const waiter of this.waiters) waiter.reject(full);
    this.waiters = [];
  }

  private fail(error: unknown): void {
    if (this.failure !== null) return;
    this.failure =
      error instanceof WalError
        ? error
        : new WalError(`wal: write failed, the log on disk is in doubt: ${String(error)}`, {
            cause: error,
          });
    for (const waiter of this.waiters) waiter.reject(this.failure);
    this.waiters = [];
  }

  private checkUsable(): void {
    if (this.failure !== null) throw this.failure;
    if (this.closed) throw new WalError("wal: closed");
  }
}
