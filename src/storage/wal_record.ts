// The WAL's record format. A record is [u32 length][u32 crc32c][u8 type][payload], little
// endian, where length counts type + payload and the CRC covers the same bytes. A zero length
// marks the end of the log in a segment (segments are preallocated with zeros). Numbers that
// can pass 2^32 (indexes, terms) are written as two u32 halves: exact up to 2^53, no BigInt.

import type { ConfState, Entry, EntryType, HardState, SnapshotMetadata } from "../raft/index.ts";
import { crc32c } from "./crc32c.ts";

export const RECORD_HEADER_BYTES = 8;
export const WAL_VERSION = 1;

export const RecordType = { Entries: 1, HardState: 2, Snapshot: 3, SegmentHeader: 4 } as const;
export type RecordType = (typeof RecordType)[keyof typeof RecordType];

export function isRecordType(value: number): value is RecordType {
  return value >= RecordType.Entries && value <= RecordType.SegmentHeader;
}

const ENTRY_FIXED_BYTES = 8 + 8 + 1 + 4;
const HARD_STATE_BYTES = 24;
const TWO_TO_32 = 2 ** 32;

/** Bytes of an entries record, header included. */
export function entriesRecordBytes(entries: readonly Entry[]): number {
  let bytes = RECORD_HEADER_BYTES + 1 + 4;
  for (const entry of entries) bytes += ENTRY_FIXED_BYTES + entry.data.length;
  return bytes;
}

export const HARD_STATE_RECORD_BYTES = RECORD_HEADER_BYTES + 1 + HARD_STATE_BYTES;

/**
 * A growable byte buffer that records are encoded into; reused across syncs so the hot path
 * allocates only when a batch is larger than any before it.
 */
export class RecordBuffer {
  bytes: Buffer;
  length = 0;

  constructor(initialBytes = 64 * 1024) {
    this.bytes = Buffer.allocUnsafe(initialBytes);
  }

  reserve(extraBytes: number): void {
    const needed = this.length + extraBytes;
    if (needed <= this.bytes.length) return;
    let size = this.bytes.length * 2;
    while (size < needed) size *= 2;
    const grown = Buffer.allocUnsafe(size);
    this.bytes.copy(grown, 0, 0, this.length);
    this.bytes = grown;
  }

  /** Encodes one record; `bytes` is its exact size, header included. */
  private begin(type: RecordType, bytes: number): number {
    this.reserve(bytes);
    const start = this.length;
    this.bytes[start + RECORD_HEADER_BYTES] = type;
    this.length = start + RECORD_HEADER_BYTES + 1;
    return start;
  }

  private end(start: number): void {
    const body = this.bytes.subarray(start + RECORD_HEADER_BYTES, this.length);
    this.bytes.writeUInt32LE(body.length, start);
    this.bytes.writeUInt32LE(crc32c(body), start + 4);
  }

  writeEntries(entries: readonly Entry[], bytes: number): void {
    const start = this.begin(RecordType.Entries, bytes);
    this.u32(entries.length);
    for (const entry of entries) {
      this.u64(entry.index);
      this.u64(entry.term);
      this.bytes[this.length++] = entry.type;
      this.u32(entry.data.length);
      this.bytes.set(entry.data, this.length);
      this.length += entry.data.length;
    }
    this.end(start);
  }

  writeHardState(hardState: HardState): void {
    const start = this.begin(RecordType.HardState, HARD_STATE_RECORD_BYTES);
    this.hardState(hardState);
    this.end(start);
  }

  writeSnapshot(encoded: EncodedSnapshot): void {
    const start = this.begin(RecordType.Snapshot, snapshotRecordBytes(encoded));
    this.snapshot(encoded);
    this.end(start);
  }

  /** Opens every segment, so that deleting older segments loses no state. */
  writeSegmentHeader(hardState: HardState, snapshot: EncodedSnapshot | null): void {
    const start = this.begin(RecordType.SegmentHeader, segmentHeaderRecordBytes(snapshot));
    this.u32(WAL_VERSION);
    this.hardState(hardState);
    this.bytes[this.length++] = snapshot === null ? 0 : 1;
    if (snapshot !== null) this.snapshot(snapshot);
    this.end(start);
  }

  private hardState(hardState: HardState): void {
    this.u64(hardState.term);
    this.u64(hardState.vote);
    this.u64(hardState.commit);
  }

  private snapshot(encoded: EncodedSnapshot): void {
    this.u64(encoded.metadata.index);
    this.u64(encoded.metadata.term);
    this.u32(encoded.confState.length);
    this.bytes.set(encoded.confState, this.length);
    this.length += encoded.confState.length;
  }

  private u32(value: number): void {
    this.bytes.writeUInt32LE(value, this.length);
    this.length += 4;
  }

  private u64(value: number): void {
    this.bytes.writeUInt32LE(value % TWO_TO_32, this.length);
    this.bytes.writeUInt32LE(Math.floor(value / TWO_TO_32), this.length + 4);
    this.length += 8;
  }
}

/** A snapshot marker with its ConfState already serialized (JSON: the record is rare). */
export interface EncodedSnapshot {
  readonly metadata: SnapshotMetadata;
  readonly confState: Uint8Array;
}

export function encodeSnapshot(metadata: SnapshotMetadata): EncodedSnapshot {
  return { metadata, confState: Buffer.from(JSON.stringify(metadata.confState)) };
}

export function snapshotRecordBytes(encoded: EncodedSnapshot): number {
  return RECORD_HEADER_BYTES + 1 + 8 + 8 + 4 + encoded.confState.length;
}

export function segmentHeaderRecordBytes(snapshot: EncodedSnapshot | null): number {
  const snapshotBytes =
    snapshot === null ? 0 : snapshotRecordBytes(snapshot) - RECORD_HEADER_BYTES - 1;
  return RECORD_HEADER_BYTES + 1 + 4 + HARD_STATE_BYTES + 1 + snapshotBytes;
}

/** Thrown by the decoders below; the reader turns it into a WalCorruptError with file/offset. */
export class RecordFormatError extends Error {}

/** Reads a record's payload (the bytes after the type byte). Views, never copies, except data. */
export class RecordReader {
  private position = 0;
  constructor(private readonly payload: Uint8Array) {}

  entries(): Entry[] {
    const count = this.u32();
    const entries: Entry[] = [];
    // One copy per record: entries share it, and it does not pin the whole segment read.
    const owned = new Uint8Array(this.payload);
    for (let i = 0; i < count; i++) {
      const index = this.u64();
      const term = this.u64();
      const type = this.byte();
      if (type !== 0 && type !== 1) throw new RecordFormatError(`unknown entry type ${type}`);
      const length = this.u32();
      this.need(length);
      const data = owned.subarray(this.position, this.position + length);
      this.position += length;
      entries.push({ index, term, type: type as EntryType, data });
    }
    this.done();
    return entries;
  }

  hardState(): HardState {
    const hardState = { term: this.u64(), vote: this.u64(), commit: this.u64() };
    return hardState;
  }

  snapshot(): SnapshotMetadata {
    const index = this.u64();
    const term = this.u64();
    const length = this.u32();
    this.need(length);
    const json = Buffer.from(this.payload.buffer, this.payload.byteOffset + this.position, length);
    this.position += length;
    let confState: ConfState;
    try {
      confState = JSON.parse(json.toString("utf8")) as ConfState;
    } catch {
      throw new RecordFormatError("snapshot ConfState is not valid JSON");
    }
    return { index, term, confState };
  }

  segmentHeader(): { version: number; hardState: HardState; snapshot: SnapshotMetadata | null } {
    const version = this.u32();
    const hardState = this.hardState();
    const snapshot = this.byte() === 1 ? this.snapshot() : null;
    return { version, hardState, snapshot };
  }

  /** Every byte of a record must be accounted for: trailing bytes mean a format mismatch. */
  done(): void {
    if (this.position !== this.payload.length) throw new RecordFormatError("trailing bytes");
  }

  private need(bytes: number): void {
    if (this.position + bytes > this.payload.length)
      throw new RecordFormatError("truncated payload");
  }

  private byte(): number {
    this.need(1);
    return this.payload[this.position++]!;
  }

  private u32(): number {
    this.need(4);
    const p = this.payload;
    const at = this.position;
    this.position += 4;
    return (p[at]! | (p[at + 1]! << 8) | (p[at + 2]! << 16) | (p[at + 3]! << 24)) >>> 0;
  }

  private u64(): number {
    const low = this.u32();
    const high = this.u32();
    return high * TWO_TO_32 + low;
  }
}
