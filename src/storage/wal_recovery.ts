// Replays a WAL directory into the state Raft restarts from: the latest snapshot marker, the
// latest hard state, and the log after the snapshot, with overwrites applied in record order.

import { open, readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  EMPTY_HARD_STATE,
  type Entry,
  type HardState,
  type SnapshotMetadata,
} from "../raft/index.ts";
import { WalCorruptError, WalError, WalHardStateError, WalMissingSegmentError } from "./errors.ts";
import { writeZeros } from "./fs_sync.ts";
import type { StorageLogger } from "./logger.ts";
import { LogShape } from "./wal_log_shape.ts";
import { RecordFormatError, RecordReader, RecordType, WAL_VERSION } from "./wal_record.ts";
import { hasValidRecordAfter, nonZeroEnd, type ScannedRecord, scanSegment } from "./wal_scan.ts";
import { hex16, listSegments, type SegmentInfo } from "./wal_segment.ts";

export interface WalRecovery {
  /** The latest snapshot marker saved, or null if none. */
  snapshot: SnapshotMetadata | null;
  /** The latest hard state saved, or EMPTY_HARD_STATE if none. */
  hardState: HardState;
  /** Every entry after the snapshot (or all), after overwrites: contiguous, ascending. */
  entries: Entry[];
  /** Set when a torn record at the end of the last segment was zeroed out. */
  tornTail: { file: string; offset: number } | null;
}

/** What the writer continues from. */
export interface ReplayedWal {
  readonly recovery: WalRecovery;
  readonly shape: LogShape;
  readonly segments: SegmentInfo[];
  /** Where the next record goes in the last segment. */
  readonly endOffset: number;
}

/** Replay state: the log's shape plus the entries themselves, kept in step. */
class Replay {
  readonly shape = new LogShape();
  entries: Entry[] = [];
  snapshot: SnapshotMetadata | null = null;
  hardState: HardState = EMPTY_HARD_STATE;

  applySnapshot(snapshot: SnapshotMetadata): void {
    if (snapshot.index >= (this.snapshot?.index ?? 0)) this.snapshot = snapshot;
    const oldBase = this.shape.base;
    const oldLast = this.shape.last;
    this.shape.applySnapshot(snapshot.index, snapshot.term);
    if (this.shape.base === oldBase && this.shape.last === oldLast) return;
    this.entries = this.entries.slice(this.shape.base - oldBase, this.shape.last - oldBase);
  }

  /** Returns false when the batch leaves a gap after the log. */
  applyEntries(batch: readonly Entry[]): boolean {
    const first = batch[0];
    if (first === undefined) return true;
    if (first.index > this.shape.last + 1) return false;
    this.shape.truncateFrom(first.index);
    this.entries.length = this.shape.last - this.shape.base;
    for (const entry of batch) {
      if (entry.index <= this.shape.base) continue;
      this.shape.push(entry.index, entry.term);
      this.entries.push(entry);
    }
    return true;
  }
}

export async function replayWal(dir: string, logger: StorageLogger): Promise<ReplayedWal> {
  const listed = await listSegments(dir);
  if (listed.length === 0) throw new WalError(`wal: no segment in ${dir}`);
  const replay = new Replay();
  const segments: SegmentInfo[] = [];
  let endOffset = 0;
  let tornTail: WalRecovery["tornTail"] = null;
  for (const [position, segment] of listed.entries()) {
    const path = join(dir, segment.name);
    const isFirst = position === 0;
    const isLast = position === listed.length - 1;
    if (isFirst) replay.shape.resetTo(segment.firstIndex);
    else checkFollows(listed[position - 1]!.seq, segment, replay.shape.last);
    const bytes = await readFile(path);
    const scan = scanSegment(bytes);
    if (scan.bad !== null) {
      if (!isLast || hasValidRecordAfter(bytes, scan.bad.offset)) {
        throw new WalCorruptError(path, scan.bad.offset, scan.bad.reason);
      }
      await zeroTornTail(path, scan.bad.offset, nonZeroEnd(bytes, scan.bad.offset));
      logger.warn(
        `wal: truncated a torn record at the end of ${path} at byte offset ${scan.bad.offset} ` +
          `(${scan.bad.reason}): a write interrupted by a crash, never acknowledged`,
      );
      tornTail = { file: path, offset: scan.bad.offset };
    }
    const info: SegmentInfo = { ...segment, path, sizeBytes: bytes.length, maxEntryIndex: 0 };
    applyRecords(replay, info, scan.records, isLast);
    segments.push(info);
    endOffset = scan.end;
  }
  const recovery = finish(replay, join(dir, listed[0]!.name), tornTail);
  return { recovery, shape: replay.shape, segments, endOffset };
}

function checkFollows(
  previousSeq: number,
  segment: { seq: number; name: string; firstIndex: number },
  last: number,
): void {
  if (segment.seq !== previousSeq + 1) {
    throw new WalMissingSegmentError(
      `${hex16(previousSeq + 1)}-*.wal`,
      `sequence jumps from ${previousSeq} to ${segment.seq}`,
    );
  }
  if (segment.firstIndex !== last + 1) {
    throw new WalMissingSegmentError(
      segment.name,
      `it starts at index ${segment.firstIndex} but the log before it ends at ${last}`,
    );
  }
}

function applyRecords(
  replay: Replay,
  segment: SegmentInfo,
  records: readonly ScannedRecord[],
  isLast: boolean,
): void {
  if (records.length === 0 && !isLast)
    throw new WalCorruptError(segment.path, 0, "segment is empty");
  for (const [position, record] of records.entries()) {
    if ((position === 0) !== (record.type === RecordType.SegmentHeader)) {
      throw new WalCorruptError(
        segment.path,
        record.offset,
        "segment header is not the first record",
      );
    }
    try {
      applyRecord(replay, segment, record);
    } catch (error) {
      if (!(error instanceof RecordFormatError)) throw error;
      throw new WalCorruptError(segment.path, record.offset, error.message);
    }
  }
}

function applyRecord(replay: Replay, segment: SegmentInfo, record: ScannedRecord): void {
  const reader = new RecordReader(record.payload);
  switch (record.type) {
    case RecordType.SegmentHeader: {
      const header = reader.segmentHeader();
      reader.done();
      if (header.version !== WAL_VERSION) {
        throw new WalError(
          `wal: ${segment.path} has format version ${header.version}, expected ${WAL_VERSION}`,
        );
      }
      replay.hardState = header.hardState;
      if (header.snapshot !== null) replay.applySnapshot(header.snapshot);
      return;
    }
    case RecordType.HardState:
      replay.hardState = reader.hardState();
      reader.done();
      return;
    case RecordType.Snapshot:
      replay.applySnapshot(reader.snapshot());
      reader.done();
      return;
    case RecordType.Entries: {
      const batch = reader.entries();
      checkAscending(batch);
      if (!replay.applyEntries(batch)) {
        throw new RecordFormatError(
          `entries start at ${batch[0]!.index} after a log ending at ${replay.shape.last}`,
        );
      }
      const last = batch[batch.length - 1];
      if (last !== undefined) segment.maxEntryIndex = Math.max(segment.maxEntryIndex, last.index);
      return;
    }
  }
}

function checkAscending(batch: readonly Entry[]): void {
  for (let i = 1; i < batch.length; i++) {
    if (batch[i]!.index !== batch[i - 1]!.index + 1) {
      throw new RecordFormatError(
        `entry ${batch[i]!.index} follows ${batch[i - 1]!.index} in one batch`,
      );
    }
  }
}

function finish(replay: Replay, firstPath: string, tornTail: WalRecovery["tornTail"]): WalRecovery {
  const snapshotIndex = replay.snapshot?.index ?? 0;
  if (replay.shape.base > snapshotIndex) {
    throw new WalMissingSegmentError(
      `segments before ${firstPath}`,
      `entries up to ${replay.shape.base} are gone and no snapshot covers them (latest snapshot: ${snapshotIndex})`,
    );
  }
  if (replay.hardState.commit > replay.shape.last) {
    throw new WalHardStateError(replay.hardState.commit, replay.shape.last);
  }
  return {
    snapshot: replay.snapshot,
    hardState: replay.hardState,
    entries: replay.entries,
    tornTail,
  };
}

async function zeroTornTail(path: string, from: number, to: number): Promise<void> {
  const handle = await open(path, "r+");
  try {
    await writeZeros(handle, from, to);
    await handle.datasync();
  } finally {
    await handle.close();
  }
}
