// Segment files: names, listing, and creation. A segment is preallocated with zeros and fsynced
// once when created, so that appends overwrite blocks in place and fdatasync has no metadata
// (size, block map) to write: one disk flush per sync.

import { access, open, readdir, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { freeBytes } from "./disk_space.ts";
import { fsyncDirectory, writeZeros } from "./fs_sync.ts";

export interface SegmentInfo {
  readonly seq: number;
  /** The log's last index + 1 when the segment was cut (entries may start lower: overwrites). */
  readonly firstIndex: number;
  readonly path: string;
  readonly sizeBytes: number;
  /** The highest entry index written into this segment, 0 if none. */
  maxEntryIndex: number;
}

const SEGMENT_NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.wal$/;

export function segmentName(seq: number, firstIndex: number): string {
  return `${hex16(seq)}-${hex16(firstIndex)}.wal`;
}

export function hex16(value: number): string {
  return value.toString(16).padStart(16, "0");
}

export function parseSegmentName(name: string): { seq: number; firstIndex: number } | null {
  const match = SEGMENT_NAME.exec(name);
  if (match === null) return null;
  return { seq: Number.parseInt(match[1]!, 16), firstIndex: Number.parseInt(match[2]!, 16) };
}

/** Segment file names in `dir`, ascending by sequence number. */
export async function listSegments(
  dir: string,
): Promise<{ name: string; seq: number; firstIndex: number }[]> {
  const segments = [];
  for (const name of await readdir(dir)) {
    const parsed = parseSegmentName(name);
    if (parsed !== null) segments.push({ name, ...parsed });
  }
  return segments.sort((a, b) => a.seq - b.seq);
}

/**
 * Creates a file of `sizeBytes` zeros and fsyncs it (data and size). A failure removes the
 * part written: on a full disk it would hold the last free bytes, and block a retry ("wx").
 */
async function preallocate(path: string, sizeBytes: number): Promise<void> {
  const handle = await open(path, "wx");
  let done = false;
  try {
    await writeZeros(handle, 0, sizeBytes);
    await handle.sync();
    done = true;
  } finally {
    await handle.close();
    if (!done) await unlink(path).catch(() => {});
  }
}

/** The file exists: a create retried after its rename went through but its fsync did not. */
async function exists(path: string): Promise<boolean> {
  return access(path).then(
    () => true,
    () => false,
  );
}

const SPARE_NAME = "next-segment.tmp";
/** A spare is prepared only while the disk has room for it twice over. */
const SPARE_ROOM_FACTOR = 2;

/**
 * Creates segments. Writing 64 MiB of zeros takes tens of milliseconds, so the next segment
 * is prepared in the background as a temp file and renamed into place at rotation (etcd's
 * file pipeline); the sync that rotates then pays only a rename and a directory fsync.
 */
export class SegmentAllocator {
  private spare: Promise<string | null> | null = null;

  constructor(
    private readonly dir: string,
    private readonly segmentBytes: number,
  ) {}

  /**
   * Creates the segment file durably (file and directory entry) and opens it for writing. May be
   * called again for the same segment after it failed (a full disk).
   */
  async create(segment: SegmentInfo) {
    const spare = segment.sizeBytes === this.segmentBytes ? await this.takeSpare() : null;
    if (spare !== null) await rename(spare, segment.path);
    else if (!(await exists(segment.path))) await preallocate(segment.path, segment.sizeBytes);
    await fsyncDirectory(this.dir);
    this.prepareSpare();
    return open(segment.path, "r+");
  }

  /**
   * Starts preparing the next segment, unless the disk is nearly full: there the spare would
   * take the last free bytes that the kv store needs, for a rotation that may be far off.
   */
  prepareSpare(): void {
    if (this.spare !== null || !this.roomForSpare()) return;
    const path = join(this.dir, SPARE_NAME);
    // A failed preparation only means the next rotation preallocates in the foreground.
    this.spare = unlink(path)
      .catch(() => {})
      .then(() => preallocate(path, this.segmentBytes))
      .then(
        () => path,
        () => null,
      );
  }

  private roomForSpare(): boolean {
    try {
      return freeBytes(this.dir) >= SPARE_ROOM_FACTOR * this.segmentBytes;
    } catch {
      return true; // cannot tell: try, as before; a failure only costs the spare
    }
  }

  /** Waits for a spare being prepared and removes it. */
  async close(): Promise<void> {
    const spare = await this.takeSpare();
    if (spare !== null) await unlink(spare).catch(() => {});
  }

  private async takeSpare(): Promise<string | null> {
    const spare = this.spare;
    this.spare = null;
    return spare === null ? null : await spare;
  }
}

/** Leftover temp files are preallocations interrupted by a crash: never part of the log. */
export async function removeTempFiles(dir: string): Promise<void> {
  for (const name of await readdir(dir)) {
    if (name.endsWith(".tmp")) await unlink(join(dir, name));
  }
}
