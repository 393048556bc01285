// The disk side of the WAL: writes buffered records into the current segment in place, cuts
// new segments where the buffer says, and measures each fdatasync.

import { fdatasyncSync } from "node:fs";
import type { FileHandle } from "node:fs/promises";
import { writeFullySync } from "./fs_sync.ts";
import type { RecordBuffer } from "./wal_record.ts";
import type { SegmentAllocator, SegmentInfo } from "./wal_segment.ts";

/** Bytes buffered for a segment not yet created: the flush creates it at `at`. */
export interface Cut {
  readonly at: number;
  readonly segment: SegmentInfo;
}

/** How far a flush got: a retry with the same buffer resumes there. */
interface Progress {
  readonly buffer: RecordBuffer;
  /** Cuts done: the segments before them are written, synced and sealed. */
  cut: number;
  /** Where in the buffer the current segment's part starts. */
  start: number;
}

export class SegmentWriter {
  /** Segments before the current one, oldest first: the ones the WAL may release. */
  readonly sealed: SegmentInfo[];
  private current: SegmentInfo;
  /** null after a segment was sealed and before the next one exists (its creation failed). */
  private handle: FileHandle | null;
  private fileOffset: number;
  private progress: Progress | null = null;
  private syncLatenciesUs: number[] = [];

  constructor(
    private readonly allocator: SegmentAllocator,
    handle: FileHandle,
    segments: readonly SegmentInfo[],
    endOffset: number,
  ) {
    this.handle = handle;
    this.sealed = segments.slice(0, -1);
    this.current = segments[segments.length - 1]!;
    this.fileOffset = endOffset;
  }

  /**
   * Writes one flush's buffer and makes it durable. A segment is fdatasynced before the next
   * one is written, so only the last segment can ever hold a torn write.
   *
   * If it throws (a full disk), calling it again with the same buffer and cuts continues where
   * it stopped: a part is rewritten whole at the same offset (its earlier write and fdatasync may
   * have failed halfway; after a failed fdatasync the kernel may have dropped the pages, so
   * syncing again without rewriting could report data durable that is not).
   */
  async writeOut(buffer: RecordBuffer, cuts: readonly Cut[]): Promise<void> {
    if (this.progress?.buffer !== buffer) this.progress = { buffer, cut: 0, start: 0 };
    const progress = this.progress;
    while (progress.cut < cuts.length) {
      const cut = cuts[progress.cut]!;
      if (this.handle !== null) {
        this.writeDurably(this.handle, buffer.bytes.subarray(progress.start, cut.at));
        const sealed = this.handle;
        this.handle = null;
        this.sealed.push(this.current);
        await sealed.close();
      }
      this.handle = await this.allocator.create(cut.segment);
      this.current = cut.segment;
      this.fileOffset = 0;
      progress.start = cut.at;
      progress.cut++;
    }
    this.writeDurably(this.handle!, buffer.bytes.subarray(progress.start, buffer.length));
    this.progress = null;
  }

  takeSyncLatenciesUs(): number[] {
    const latencies = this.syncLatenciesUs;
    this.syncLatenciesUs = [];
    return latencies;
  }

  async close(): Promise<void> {
    await this.handle?.close();
    await this.allocator.close();
  }

  // The WAL's write and fdatasync are synchronous on purpose: each async call is a round trip
  // through libuv's thread pool, which measured here as ~2x the fdatasync itself at
  // concurrency 1, while blocking the event loop for one small write plus one fdatasync per
  // Ready batch costs a few percent of the loop at full load.
  private writeDurably(handle: FileHandle, bytes: Uint8Array): void {
    if (bytes.length === 0) return;
    writeFullySync(handle.fd, bytes, this.fileOffset);
    const started = performance.now();
    fdatasyncSync(handle.fd);
    this.syncLatenciesUs.push(Math.round((performance.now() - started) * 1000));
    // Only now: a failed write or sync is redone from the same offset.
    this.fileOffset += bytes.length;
  }
}
