// Streams a snapshot file to a peer over its ordinary connection. A chunk is written only when
// the socket has drained, so at most one chunk sits ahead of a heartbeat.
import { open } from "node:fs/promises";
import type { Message } from "../raft/index.ts";
import { ByteWriter, varintSize } from "./bytes.ts";
import { SnapshotSendError } from "./errors.ts";
import { FrameKind, HEADER_BYTES, idFrame, snapshotBeginFrame } from "./frames.ts";
import type { PeerLink } from "./peer_link.ts";

export const SNAPSHOT_CHUNK_BYTES = 256 * 1024;
/** Time the receiver may take to verify and install the file after the last chunk. */
const ACK_TIMEOUT_MS = 120_000;

export async function streamSnapshot(
  link: PeerLink,
  message: Message,
  file: string,
  checksum: number,
): Promise<void> {
  const generation = link.generation;
  link.checkGeneration(generation);
  const handle = await open(file, "r").catch((error: unknown) => {
    throw new SnapshotSendError(`cannot open snapshot file ${file}: ${String(error)}`, {
      cause: error,
    });
  });
  const { id, ack } = link.openTransfer();
  let acked = false;
  let refusal: unknown = null;
  // Watched from the start: a nack may arrive mid-stream (e.g. the receiver's disk is full).
  ack.then(
    () => {
      acked = true;
    },
    (error: unknown) => {
      refusal = error;
    },
  );
  try {
    const { size } = await handle.stat();
    await link.whenWritable(generation);
    link.checkGeneration(generation);
    link.write(snapshotBeginFrame({ id, size, checksum, message }));
    for (let position = 0; position < size; ) {
      await link.whenWritable(generation);
      if (refusal !== null) throw refusal;
      const length = Math.min(SNAPSHOT_CHUNK_BYTES, size - position);
      const head = HEADER_BYTES + varintSize(id);
      // Read straight into the frame so a chunk is never copied.
      const frame = Buffer.allocUnsafe(head + length);
      const w = new ByteWriter(frame);
      w.u32(frame.length - 4);
      w.u8(FrameKind.SnapshotChunk);
      w.varint(id);
      const { bytesRead } = await handle.read(frame, head, length, position);
      if (bytesRead !== length) throw new SnapshotSendError(`${file} shrank while being sent`);
      link.checkGeneration(generation);
      link.write(frame);
      position += length;
    }
    link.checkGeneration(generation);
    link.write(idFrame(FrameKind.SnapshotEnd, id));
    await withTimeout(ack, ACK_TIMEOUT_MS, `peer ${link.peer.name} did not confirm the snapshot`);
  } catch (error) {
    if (!acked && refusal === null && link.isConnected && link.generation === generation) {
      link.write(idFrame(FrameKind.SnapshotAbort, id));
    }
    link.cancelTransfer(id);
    throw error instanceof SnapshotSendError
      ? error
      : new SnapshotSendError(`snapshot to peer ${link.peer.name} failed: ${String(error)}`, {
          cause: error,
        });
  } finally {
    await handle.close();
  }
}

function withTimeout(promise: Promise<void>, ms: number, what: string): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SnapshotSendError(`${what} within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}
