// Refuses an LMDB commit while the disk is nearly full, before LMDB writes a page. LMDB itself
// fails a commit cleanly on ENOSPC, but lmdb-js 3.5 formats that error into a 100-byte heap
// buffer that its own message can overrun (mdb_page_flush: "Attempting to write page at position
// ..."), so an ENOSPC inside a commit may corrupt the process's heap. Checked here, the full disk
// is a DiskFullError the caller retries, and LMDB never sees it in the common case (a disk that
// fills during the commit itself still reaches LMDB).
import { DiskFullError, freeBytes } from "../storage/index.ts";

/** Free bytes below which no commit is tried, whatever its size. */
export const MIN_HEADROOM_BYTES = 8 * 1024 * 1024;
/** A generous bound on the fresh pages a commit takes per item (leaf copies, splits). */
const BYTES_PER_ITEM = 16 * 1024;

/** What a commit of `items` holding `bytes` may take on disk, at most (an estimate). */
export function commitBytes(items: number, bytes: number): number {
  return 4 * bytes + BYTES_PER_ITEM * items;
}

export class SpaceGuard {
  /** Tripped: twice the headroom is needed to clear, so a disk at the edge does not flap. */
  private low = false;

  constructor(
    private readonly dir: string,
    private readonly minHeadroomBytes = MIN_HEADROOM_BYTES,
    private readonly free: (path: string) => number = freeBytes,
  ) {}

  /** Throws DiskFullError unless the disk has room for a write of `bytes` and the headroom. */
  check(bytes: number): void {
    const wanted = Math.max(this.minHeadroomBytes, bytes);
    const needed = this.low ? 2 * wanted : wanted;
    let free: number;
    try {
      free = this.free(this.dir);
    } catch {
      return; // cannot tell (statfs unsupported): let LMDB try
    }
    if (free >= needed) {
      this.low = false;
      return;
    }
    this.low = true;
    throw new DiskFullError(
      this.dir,
      `${free} bytes free; qmesh keeps ${needed} free before it commits to LMDB`,
    );
  }
}
