// Splits one segment's bytes into checksummed records, and tells a torn last write (a crash
// mid-write) from corruption (bytes that were durable and changed).

import { crc32c } from "./crc32c.ts";
import { isRecordType, RECORD_HEADER_BYTES, type RecordType } from "./wal_record.ts";

export interface ScannedRecord {
  readonly type: RecordType;
  readonly offset: number;
  readonly payload: Uint8Array;
}

export interface SegmentScan {
  readonly records: ScannedRecord[];
  /** Where the log ends in this segment: the next record goes here. */
  readonly end: number;
  /** The first record that does not check out, if the log does not end cleanly. */
  readonly bad: { offset: number; reason: string } | null;
}

export function scanSegment(bytes: Uint8Array): SegmentScan {
  const records: ScannedRecord[] = [];
  let offset = 0;
  while (offset < bytes.length) {
    const problem = recordProblem(bytes, offset);
    if (problem === "end") return { records, end: offset, bad: null };
    if (problem !== null) return { records, end: offset, bad: { offset, reason: problem } };
    const length = readU32(bytes, offset);
    const body = bytes.subarray(
      offset + RECORD_HEADER_BYTES,
      offset + RECORD_HEADER_BYTES + length,
    );
    records.push({ type: body[0] as RecordType, offset, payload: body.subarray(1) });
    offset += RECORD_HEADER_BYTES + length;
  }
  return { records, end: offset, bad: null };
}

/** null when a valid record starts at `offset`; "end" at a clean end of log; else the reason. */
function recordProblem(bytes: Uint8Array, offset: number): string | null {
  const remaining = bytes.length - offset;
  if (remaining < RECORD_HEADER_BYTES || readU32(bytes, offset) === 0) {
    return isZero(bytes, offset) ? "end" : "non-zero bytes after the end of the log";
  }
  const length = readU32(bytes, offset);
  if (length > remaining - RECORD_HEADER_BYTES) return `length ${length} runs past the segment`;
  const body = bytes.subarray(offset + RECORD_HEADER_BYTES, offset + RECORD_HEADER_BYTES + length);
  if (crc32c(body) !== readU32(bytes, offset + 4)) return "checksum mismatch";
  if (!isRecordType(body[0]!)) return `unknown record type ${body[0]}`;
  return null;
}

/**
 * Whether any valid record starts after `offset`. A bad record followed only by zeros or
 * unparseable bytes is what a crash mid-write leaves (nothing after it was acknowledged); a bad
 * record followed by a valid one means acknowledged data was damaged. Runs only on recovery
 * after a bad record, so it may try every offset.
 */
export function hasValidRecordAfter(bytes: Uint8Array, offset: number): boolean {
  for (let at = offset + 1; at + RECORD_HEADER_BYTES < bytes.length; at++) {
    if (bytes[at] === 0 && readU32(bytes, at) === 0) continue;
    if (recordProblem(bytes, at) === null) return true;
  }
  return false;
}

/** Offset just past the last non-zero byte at or after `from` (what a torn tail must zero). */
export function nonZeroEnd(bytes: Uint8Array, from: number): number {
  let end = bytes.length;
  while (end > from && bytes[end - 1] === 0) end--;
  return end;
}

function isZero(bytes: Uint8Array, from: number): boolean {
  return nonZeroEnd(bytes, from) === from;
}

function readU32(bytes: Uint8Array, offset: number): number {
  return (
    (bytes[offset]! |
      (bytes[offset + 1]! << 8) |
      (bytes[offset + 2]! << 16) |
      (bytes[offset + 3]! << 24)) >>>
    0
  );
}
