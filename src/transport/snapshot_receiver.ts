// The receiving side of snapshot transfers on one inbound connection: chunks go to the sink
// given by the node (storage), in order; the sender gets an ack once the file is in place.
import type { Message } from "../raft/index.ts";
import { MessageType } from "../raft/index.ts";
import { ByteReader } from "./bytes.ts";
import { FrameDecodeError } from "./errors.ts";
import { FrameKind, idFrame, textFrame } from "./frames.ts";
import { decodeMessages } from "./raft_codec.ts";
import type { SnapshotSink, TransportLogger } from "./types.ts";

/** Unwritten chunk bytes above which the socket is paused until the sink catches up. */
const PAUSE_BYTES = 8 * 1024 * 1024;
const RESUME_BYTES = 2 * 1024 * 1024;

export interface ReceiverHooks {
  peerName: string;
  logger: TransportLogger;
  receiveSnapshot(expectedBytes: number, checksum: number): SnapshotSink;
  onSnapshot(message: Message, file: string): void;
  /** Whether the fault hook currently drops what this peer sends. */
  blocked(): boolean;
  reply(frame: Buffer): void;
  pause(): void;
  resume(): void;
}

interface Transfer {
  id: number;
  message: Message;
  sink: SnapshotSink;
  expected: number;
  received: number;
  /** Sink writes, chained so they run in arrival order. */
  chain: Promise<void>;
  failure: unknown;
}

export class SnapshotReceiver {
  private current: Transfer | null = null;
  private pending = 0;
  private paused = false;
  private closed = false;

  constructor(private readonly hooks: ReceiverHooks) {}

  /** Handles one snapshot frame; throws FrameDecodeError on a malformed one. */
  frame(kind: number, payload: Buffer): void {
    const r = new ByteReader(payload);
    const id = r.varint("transfer id");
    switch (kind) {
      case FrameKind.SnapshotBegin:
        this.begin(id, r);
        break;
      case FrameKind.SnapshotChunk:
        this.chunk(id, r.rest());
        break;
      case FrameKind.SnapshotEnd:
        this.end(id);
        break;
      case FrameKind.SnapshotAbort:
        if (this.current?.id === id) this.abandon(this.current, "the sender gave up");
        break;
    }
  }

  /** The connection is gone: drop the partial file. */
  close(): void {
    this.closed = true;
    if (this.current !== null) this.abandon(this.current, "the connection closed");
  }

  private begin(id: number, r: ByteReader): void {
    const expected = r.varint("snapshot size");
    const checksum = r.varint("snapshot checksum");
    const [message, ...extra] = decodeMessages(r.rest());
    if (message === undefined || extra.length > 0 || message.type !== MessageType.InstallSnapshot) {
      throw new FrameDecodeError("snapshot-begin must carry exactly one InstallSnapshot message");
    }
    if (message.snapshot === null) throw new FrameDecodeError("InstallSnapshot without metadata");
    if (this.current !== null) this.abandon(this.current, "a newer snapshot began");
    if (this.hooks.blocked()) {
      this.hooks.reply(textFrame(FrameKind.SnapshotNack, id, "blocked by the fault hook"));
      return;
    }
    let sink: SnapshotSink;
    try {
      sink = this.hooks.receiveSnapshot(expected, checksum);
    } catch (error) {
      this.hooks.reply(textFrame(FrameKind.SnapshotNack, id, `cannot receive: ${String(error)}`));
      return;
    }
    this.current = {
      id,
      message,
      sink,
      expected,
      received: 0,
      chain: Promise.resolve(),
      failure: null,
    };
  }

  private chunk(id: number, data: Uint8Array): void {
    const t = this.current;
    if (t === null || t.id !== id) return; // a transfer we already gave up on
    t.received += data.length;
    if (t.received > t.expected) {
      t.failure ??= new Error(`more than the announced ${t.expected} bytes`);
      return;
    }
    if (t.failure !== null) return;
    this.pending += data.length;
    if (!this.paused && this.pending > PAUSE_BYTES) {
      this.paused = true;
      this.hooks.pause();
    }
    // `data` is a view of a socket buffer that Node never reuses, so it may outlive this call.
    t.chain = t.chain
      .then(() => (t.failure === null ? t.sink.write(data) : undefined))
      .catch((error: unknown) => {
        t.failure ??= error;
      })
      .finally(() => {
        this.pending -= data.length;
        if (this.paused && this.pending < RESUME_BYTES && !this.closed) {
          this.paused = false;
          this.hooks.resume();
        }
      });
  }

  private end(id: number): void {
    const t = this.current;
    if (t === null || t.id !== id) return;
    this.current = null;
    const { term, index } = t.message.snapshot!.metadata;
    t.chain
      .then(async () => {
        if (t.failure !== null) throw t.failure;
        if (t.received !== t.expected) {
          throw new Error(`received ${t.received} of the announced ${t.expected} bytes`);
        }
        const file = await t.sink.finish(term, index);
        this.hooks.onSnapshot(t.message, file);
        this.hooks.reply(idFrame(FrameKind.SnapshotAck, id));
      })
      .catch(async (error: unknown) => {
        const reason = error instanceof Error ? error.message : String(error);
        this.hooks.logger.warn(`snapshot from peer ${this.hooks.peerName} rejected: ${reason}`);
        await t.sink.abort().catch(() => {});
        this.hooks.reply(textFrame(FrameKind.SnapshotNack, id, reason));
      });
  }

  private abandon(t: Transfer, why: string): void {
    this.current = null;
    t.failure ??= new Error(why);
    t.chain.then(() => t.sink.abort()).catch(() => {});
  }
}
