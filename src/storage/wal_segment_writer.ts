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

export class SegmentWriter {
  /** Segments before the current one, oldest first: the ones the WAL may release. */
  readonly sealed: SegmentInfo[];
  private current: SegmentInfo;
  private fileOffset: number;
  private unsyncedWrites = false;
  private syncLatenciesUs: number[] = [];

  constructor(
    private readonly allocator: SegmentAllocator,
    private handle: FileHandle,
    segments: readonly SegmentInfo[],
    endOffset: number,
  ) {
    this.sealed = segments.slice(0, -1);
    this.current = segments[segments.length - 1]!;
    this.fileOffset = endOffset;
  }

  /**
   * Writes one flush's buffer and makes it durable. A segment is fdatasynced before the next
   * one is written, so only the last segment can ever hold a torn write.
   */
  async writeOut(buffer: RecordBuffer, cuts: readonly Cut[]): Promise<void> {
    let start = 0;
    for (const cut of cuts) {
      await this.write(buffer.bytes.subarray(start, cut.at));
      await this.datasync();
      await this.handle.close();
      this.sealed.push(this.current);
      this.handle = await this.allocator.create(cut.segment);
      this.current = cut.segment;
      this.fileOffset = 0;
      start = cut.at;
    }
    await this.write(buffer.bytes.subarray(start, buffer.length));
    await this.datasync();
  }

  takeSyncLatenciesUs(): number[] {
    const latencies = this.syncLatenciesUs;
    this.syncLatenciesUs = [];
    return latencies;
  }

  async close(): Promise<void> {
    await this.handle.close();
    await this.allocator.close();
  }

  // The WAL's write and fdatasync are synchronous on purpose: each async call is a round trip
  // through libuv's thread pool, which measured here as ~2x the fdatasync itself at
  // concurrency 1, while blocking the event loop for one small write plus one fdatasync per
  // Ready batch costs a few percent of the loop at full load.
  private async write(bytes: Uint8Array): Promise<void> {
    if (bytes.length === 0) return;
    writeFullySync(this.handle.fd, bytes, this.fileOffset);
    this.fileOffset += bytes.length;
    this.unsyncedWrites = true;
  }

  private async datasync(): Promise<void> {
    if (!this.unsyncedWrites) return;
    const started = performance.now();
    fdatasyncSync(this.handle.fd);
    this.syncLatenciesUs.push(Math.round((performance.now() - started) * 1000));
    this.unsyncedWrites = false;
  }
}
