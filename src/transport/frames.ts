// The peer wire protocol: length-prefixed frames `[u32 length][u8 kind][payload]`, where
// length counts the kind byte and the payload (big-endian). See docs in index.ts.
import type { Message } from "../raft/index.ts";
import { ByteReader, ByteWriter, bytesSize, varintSize } from "./bytes.ts";
import { FrameDecodeError } from "./errors.ts";
import { messageSize, messagesSize, writeMessages } from "./raft_codec.ts";

export const PROTOCOL_VERSION = 1;
export const MAGIC = "QMSH";
export const MAX_FRAME_BYTES = 64 * 1024 * 1024;
export const HEADER_BYTES = 5;

export const FrameKind = {
  /** client → server, first frame: magic, version, clusterId, sender id and name */
  Hello: 1,
  /** server → client: why the connection is refused (utf8), then close */
  Error: 2,
  /** client → server: an encodeMessages batch */
  Messages: 3,
  /** client → server: f64 send time; the server echoes it in a Pong */
  Ping: 4,
  Pong: 5,
  /** client → server: varint transfer id, varint size, varint checksum, message batch of one */
  SnapshotBegin: 6,
  /** client → server: varint transfer id, raw file bytes */
  SnapshotChunk: 7,
  /** client → server: varint transfer id */
  SnapshotEnd: 8,
  /** server → client: varint transfer id */
  SnapshotAck: 9,
  /** server → client: varint transfer id, utf8 reason */
  SnapshotNack: 10,
  /** client → server: varint transfer id; the sender gave up (e.g. could not read its file) */
  SnapshotAbort: 11,
  /** client → server: varint query id, request bytes; the server answers with a QueryReply */
  Query: 12,
  /** server → client: varint query id, u8 0 (answer) or 1 (utf8 error), bytes */
  QueryReply: 13,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

function frame(kind: FrameKind, payloadBytes: number): ByteWriter {
  const w = new ByteWriter(Buffer.allocUnsafe(HEADER_BYTES + payloadBytes));
  w.u32(1 + payloadBytes);
  w.u8(kind);
  return w;
}

export interface Hello {
  version: number;
  clusterId: string;
  senderId: number;
  senderName: string;
}

export function helloFrame(hello: Hello): Buffer {
  const clusterId = Buffer.from(hello.clusterId);
  const name = Buffer.from(hello.senderName);
  const w = frame(
    FrameKind.Hello,
    4 + 2 + bytesSize(clusterId) + varintSize(hello.senderId) + bytesSize(name),
  );
  w.raw(Buffer.from(MAGIC));
  w.u16(hello.version);
  w.bytes(clusterId);
  w.varint(hello.senderId);
  w.bytes(name);
  return w.buf;
}

export function decodeHello(payload: Uint8Array): Hello {
  const r = new ByteReader(payload);
  if (payload.length < 4 || Buffer.from(payload.subarray(0, 4)).toString("latin1") !== MAGIC) {
    throw new FrameDecodeError("hello frame without the QMSH magic: not a qmesh peer");
  }
  r.offset = 4;
  const hello = {
    version: r.u16("version"),
    clusterId: r.string("clusterId"),
    senderId: r.varint("sender id"),
    senderName: r.string("sender name"),
  };
  r.end("hello");
  return hello;
}

export function textFrame(kind: FrameKind, id: number | null, text: string): Buffer {
  const bytes = Buffer.from(text);
  const w = frame(kind, (id === null ? 0 : varintSize(id)) + bytes.length);
  if (id !== null) w.varint(id);
  w.raw(bytes);
  return w.buf;
}

export function idFrame(kind: FrameKind, id: number): Buffer {
  const w = frame(kind, varintSize(id));
  w.varint(id);
  return w.buf;
}

export function queryFrame(id: number, request: Uint8Array): Buffer {
  const w = frame(FrameKind.Query, varintSize(id) + request.length);
  w.varint(id);
  w.raw(request);
  return w.buf;
}

export function queryReplyFrame(id: number, failed: boolean, body: Uint8Array): Buffer {
  const w = frame(FrameKind.QueryReply, varintSize(id) + 1 + body.length);
  w.varint(id);
  w.u8(failed ? 1 : 0);
  w.raw(body);
  return w.buf;
}

export function timeFrame(kind: FrameKind, time: number): Buffer {
  const w = frame(kind, 8);
  w.f64(time);
  return w.buf;
}

/** One frame for a batch, encoded in place after the header (no copy). */
export function messagesFrame(messages: readonly Message[]): Buffer {
  const size = messagesSize(messages);
  const w = frame(FrameKind.Messages, size);
  writeMessages(messages, w.buf, HEADER_BYTES);
  return w.buf;
}

/** Upper bound of what `message` adds to a messages frame, for queue accounting and splitting. */
export function messageFrameCost(message: Message): number {
  return messageSize(message);
}

export interface SnapshotBegin {
  id: number;
  size: number;
  checksum: number;
  message: Message;
}

export function snapshotBeginFrame(begin: SnapshotBegin): Buffer {
  const head = varintSize(begin.id) + varintSize(begin.size) + varintSize(begin.checksum);
  const body = messagesSize([begin.message]);
  const w = frame(FrameKind.SnapshotBegin, head + body);
  w.varint(begin.id);
  w.varint(begin.size);
  w.varint(begin.checksum);
  writeMessages([begin.message], w.buf, w.offset);
  return w.buf;
}

export function snapshotChunkFrame(id: number, chunk: Uint8Array): Buffer {
  const w = frame(FrameKind.SnapshotChunk, varintSize(id) + chunk.length);
  w.varint(id);
  w.raw(chunk);
  return w.buf;
}

/**
 * Splits a byte stream into frames. Chunks are kept as they arrive and joined only once a
 * whole frame is there, so a large frame costs one copy (none when it sits in one chunk).
 */
export class FrameParser {
  private chunks: Buffer[] = [];
  private buffered = 0;

  constructor(
    private readonly onFrame: (kind: number, payload: Buffer) => void,
    private readonly maxFrameBytes = MAX_FRAME_BYTES,
  ) {}

  /** Throws FrameDecodeError on an oversized or empty frame; the stream is unusable after that. */
  push(data: Buffer): void {
    this.chunks.push(data);
    this.buffered += data.length;
    while (this.buffered >= 4) {
      const length = this.peekLength();
      if (length < 1 || length > this.maxFrameBytes) {
        throw new FrameDecodeError(`frame of ${length} bytes (limit ${this.maxFrameBytes})`);
      }
      if (this.buffered < 4 + length) return;
      const first = this.chunks[0]!;
      let whole: Buffer;
      if (first.length >= 4 + length) {
        whole = first;
      } else {
        whole = Buffer.concat(this.chunks, this.buffered);
        this.chunks = [whole];
      }
      const kind = whole[4]!;
      const payload = whole.subarray(5, 4 + length);
      const rest = whole.subarray(4 + length);
      this.buffered -= 4 + length;
      this.chunks[0] = rest;
      if (rest.length === 0) this.chunks.shift();
      this.onFrame(kind, payload);
    }
  }

  private peekLength(): number {
    const first = this.chunks[0]!;
    if (first.length >= 4) return first.readUInt32BE(0);
    const joined = Buffer.concat(this.chunks, this.buffered);
    this.chunks = [joined];
    return joined.readUInt32BE(0);
  }
}
