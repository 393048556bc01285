// State-machine snapshots on disk: written or received into a temp file, published by an
// atomic rename, so a crash leaves either the whole snapshot or nothing (a .tmp, removed on start).

import { randomUUID } from "node:crypto";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { type FileHandle, open, rename, unlink } from "node:fs/promises";
import { join } from "node:path";
import { crc32c } from "./crc32c.ts";
import { SnapshotChecksumError } from "./errors.ts";
import { fsyncDirectory, writeFully } from "./fs_sync.ts";
import { SILENT_LOGGER, type StorageLogger } from "./logger.ts";
import { hex16 } from "./wal_segment.ts";

const CHUNK_BYTES = 1024 * 1024;
const SNAPSHOT_NAME = /^([0-9a-f]{16})-([0-9a-f]{16})\.snap$/;

export interface SnapshotFile {
  readonly path: string;
  readonly term: number;
  readonly index: number;
}

export interface SnapshotReceiver {
  /** Appends a chunk; rejects (and discards the temp file) past the announced size. */
  write(chunk: Uint8Array): Promise<void>;
  /** Verifies size and CRC32C, then publishes under (term, index); on mismatch discards it. */
  finish(term: number, index: number): Promise<string>;
  abort(): Promise<void>;
}

export class SnapshotFiles {
  constructor(
    readonly dir: string,
    private readonly logger: StorageLogger = SILENT_LOGGER,
  ) {
    mkdirSync(dir, { recursive: true });
    for (const name of readdirSync(dir)) {
      if (!name.endsWith(".tmp")) continue;
      rmSync(join(dir, name), { force: true });
      this.logger.info(`snapshot: removed ${name}, left unfinished by an earlier run`);
    }
  }

  tempPath(): string {
    return join(this.dir, `${randomUUID()}.tmp`);
  }

  /** CRC32C of a whole file, read 1 MiB at a time. */
  async checksum(path: string): Promise<number> {
    let crc = 0;
    for await (const chunk of readChunks(path)) crc = crc32c(chunk, crc);
    return crc;
  }

  /** Makes the temp file durable and gives it its final name, atomically. */
  async publish(tempPath: string, term: number, index: number): Promise<string> {
    const handle = await open(tempPath, "r+");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
    const path = join(this.dir, `${hex16(term)}-${hex16(index)}.snap`);
    await rename(tempPath, path);
    await fsyncDirectory(this.dir);
    return path;
  }

  receive(expectedBytes: number, expectedChecksum: number): SnapshotReceiver {
    return new Receiver(this, expectedBytes, expectedChecksum);
  }

  /** Deletes all but the newest `keep` snapshots. */
  async prune(keep: number): Promise<void> {
    const files = this.list();
    const doomed = files.slice(0, Math.max(0, files.length - keep));
    for (const file of doomed) await unlink(file.path);
    if (doomed.length > 0) await fsyncDirectory(this.dir);
  }

  latest(): SnapshotFile | null {
    return this.list().at(-1) ?? null;
  }

  /** Published snapshots, oldest first (by index, then term). */
  list(): SnapshotFile[] {
    const files: SnapshotFile[] = [];
    for (const name of readdirSync(this.dir)) {
      const match = SNAPSHOT_NAME.exec(name);
      if (match === null) continue;
      const term = Number.parseInt(match[1]!, 16);
      const index = Number.parseInt(match[2]!, 16);
      files.push({ path: join(this.dir, name), term, index });
    }
    return files.sort((a, b) => a.index - b.index || a.term - b.term);
  }
}

class Receiver implements SnapshotReceiver {
  private readonly path: string;
  private readonly expectedChecksum: number;
  private handle: Promise<FileHandle> | null = null;
  private receivedBytes = 0;
  private crc = 0;
  private done = false;

  constructor(
    private readonly files: SnapshotFiles,
    private readonly expectedBytes: number,
    expectedChecksum: number,
  ) {
    // A checksum decoded as a signed 32-bit int must still compare equal.
    this.expectedChecksum = expectedChecksum >>> 0;
    this.path = files.tempPath();
  }

  async write(chunk: Uint8Array): Promise<void> {
    if (this.done) throw new Error("snapshot: receiver already finished or aborted");
    if (this.receivedBytes + chunk.length > this.expectedBytes) {
      const actualBytes = this.receivedBytes + chunk.length;
      const actualChecksum = crc32c(chunk, this.crc);
      await this.abort();
      throw new SnapshotChecksumError(
        this.expectedBytes,
        actualBytes,
        this.expectedChecksum,
        actualChecksum,
      );
    }
    this.handle ??= open(this.path, "wx");
    await writeFully(await this.handle, chunk, this.receivedBytes);
    this.receivedBytes += chunk.length;
    this.crc = crc32c(chunk, this.crc);
  }

  async finish(term: number, index: number): Promise<string> {
    if (this.done) throw new Error("snapshot: receiver already finished or aborted");
    if (this.receivedBytes !== this.expectedBytes || this.crc !== this.expectedChecksum) {
      const actualBytes = this.receivedBytes;
      const actualChecksum = this.crc;
      await this.abort();
      throw new SnapshotChecksumError(
        this.expectedBytes,
        actualBytes,
        this.expectedChecksum,
        actualChecksum,
      );
    }
    this.done = true;
    this.handle ??= open(this.path, "wx");
    await (await this.handle).close();
    return this.files.publish(this.path, term, index);
  }

  async abort(): Promise<void> {
    this.done = true;
    if (this.handle === null) return;
    await (await this.handle).close().catch(() => {});
    await unlink(this.path).catch(() => {});
  }
}

/** Reads a file in chunks of fresh buffers (a consumer may keep them), e.g. to stream it to a peer. */
export async function* readChunks(
  path: string,
  chunkBytes = CHUNK_BYTES,
): AsyncIterable<Uint8Array> {
  const handle = await open(path, "r");
  try {
    while (true) {
      const chunk = Buffer.allocUnsafe(chunkBytes);
      const { bytesRead } = await handle.read(chunk, 0, chunkBytes, null);
      if (bytesRead === 0) return;
      yield chunk.subarray(0, bytesRead);
    }
  } finally {
    await handle.close();
  }
}
