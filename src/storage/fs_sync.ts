// Durability helpers shared by the WAL and the snapshot files.
import { writeSync } from "node:fs";
import { open, rename } from "node:fs/promises";
import { dirname } from "node:path";

/** Makes a create, rename or unlink in `dir` durable (POSIX needs an fsync of the directory). */
export async function fsyncDirectory(dir: string): Promise<void> {
  const handle = await open(dir, "r");
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

const ZERO_CHUNK = Buffer.alloc(1024 * 1024);

/** Writes zeros over [from, to) of an open file, in 1 MiB chunks. */
export async function writeZeros(
  handle: { write(b: Buffer, o: number, l: number, p: number): Promise<{ bytesWritten: number }> },
  from: number,
  to: number,
): Promise<void> {
  let position = from;
  while (position < to) {
    const length = Math.min(ZERO_CHUNK.length, to - position);
    const { bytesWritten } = await handle.write(ZERO_CHUNK, 0, length, position);
    position += bytesWritten;
  }
}

/** Writes all of `bytes` at `position`: a file write may return short. */
export async function writeFully(
  handle: {
    write(b: Uint8Array, o: number, l: number, p: number): Promise<{ bytesWritten: number }>;
  },
  bytes: Uint8Array,
  position: number,
): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const result = await handle.write(bytes, written, bytes.length - written, position + written);
    written += result.bytesWritten;
  }
}

/** writeFully for a raw descriptor, without a thread-pool round trip. */
export function writeFullySync(fd: number, bytes: Uint8Array, position: number): void {
  let written = 0;
  while (written < bytes.length) {
    written += writeSync(fd, bytes, written, bytes.length - written, position + written);
  }
}

/**
 * Replaces `path` with `bytes` so that a crash leaves either the old file or the whole new one:
 * a synced temporary file renamed over it, then the directory synced.
 */
export async function writeFileDurably(
  path: string,
  bytes: Uint8Array | string,
  mode = 0o644,
): Promise<void> {
  const temp = `${path}.tmp`;
  const handle = await open(temp, "w", mode);
  try {
    await handle.writeFile(bytes);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(temp, path);
  await fsyncDirectory(dirname(path));
}
