// The inbound half of the mesh: a connection a peer opened to deliver its messages to us. It
// must introduce itself with a hello that matches our cluster, protocol and its certificate.
import type net from "node:net";
import type { Message, NodeId } from "../raft/index.ts";
import { ByteReader } from "./bytes.ts";
import { FrameDecodeError } from "./errors.ts";
import {
  decodeHello,
  FrameKind,
  FrameParser,
  type Hello,
  PROTOCOL_VERSION,
  queryReplyFrame,
  textFrame,
  timeFrame,
} from "./frames.ts";
import { decodeMessages } from "./raft_codec.ts";
import { SnapshotReceiver } from "./snapshot_receiver.ts";
import type { PeerAddress, SnapshotSink, TransportLogger } from "./types.ts";

const HELLO_TIMEOUT_MS = 10_000;

export interface InboundContext {
  clusterId: string;
  logger: TransportLogger;
  /** The member named `name`, or the not-yet-named added member with id `id`. */
  memberByName(name: string, id?: NodeId): PeerAddress | undefined;
  /** A peer passed the hello; the transport retires that peer's older connection. */
  accepted(connection: InboundConnection): void;
  closed(connection: InboundConnection): void;
  deliver(from: NodeId, messages: Message[]): void;
  blockedFrom(id: NodeId): boolean;
  countReceived(id: NodeId, bytes: number): void;
  receiveSnapshot(expectedBytes: number, checksum: number): SnapshotSink;
  onSnapshot(message: Message, file: string): void;
  /** Answers a peer's query (see Transport.query). */
  answer(from: NodeId, request: Uint8Array): Promise<Uint8Array>;
}

export class InboundConnection {
  peer: PeerAddress | null = null;
  private receiver: SnapshotReceiver | null = null;
  private readonly remote: string;
  /** Frames that arrive behind a refused hello are ignored while the error frame goes out. */
  private refused = false;

  /** `certName` is the TLS client certificate's CN, or null for plain TCP. */
  constructor(
    private readonly socket: net.Socket,
    private readonly certName: string | null,
    private readonly ctx: InboundContext,
  ) {
    this.remote = `${socket.remoteAddress}:${socket.remotePort}`;
    socket.setNoDelay(true);
    socket.setTimeout(HELLO_TIMEOUT_MS, () => socket.destroy());
    const parser = new FrameParser((kind, payload) => this.onFrame(kind, payload));
    socket.on("data", (data: Buffer) => {
      if (this.peer !== null) ctx.countReceived(this.peer.id, data.length);
      try {
        parser.push(data);
      } catch (error) {
        this.protocolError(error);
      }
    });
    socket.on("error", () => {}); // the close that follows does the cleanup
    socket.on("close", () => {
      this.receiver?.close();
      ctx.closed(this);
    });
  }

  destroy(): void {
    this.socket.destroy();
  }

  private onFrame(kind: number, payload: Buffer): void {
    if (this.socket.destroyed || this.refused) return;
    const peer = this.peer;
    if (peer === null) {
      if (kind !== FrameKind.Hello)
        throw new FrameDecodeError(`expected a hello, got frame kind ${kind}`);
      this.hello(decodeHello(payload));
      return;
    }
    switch (kind) {
      case FrameKind.Messages: {
        const messages = decodeMessages(payload);
        if (this.ctx.blockedFrom(peer.id)) return;
        // A member speaks only for itself: that is what its certificate vouches for.
        const own = messages.every((m) => m.from === peer.id)
          ? messages
          : messages.filter((m) => m.from === peer.id);
        if (own.length > 0) this.ctx.deliver(peer.id, own);
        return;
      }
      case FrameKind.Ping:
        this.socket.write(timeFrame(FrameKind.Pong, new ByteReader(payload).f64()));
        return;
      case FrameKind.Query:
        this.answer(peer.id, payload);
        return;
      case FrameKind.SnapshotBegin:
      case FrameKind.SnapshotChunk:
      case FrameKind.SnapshotEnd:
      case FrameKind.SnapshotAbort:
        this.receiver!.frame(kind, payload);
        return;
      default:
        throw new FrameDecodeError(`unexpected frame kind ${kind}`);
    }
  }

  private answer(from: NodeId, payload: Buffer): void {
    const r = new ByteReader(payload);
    const id = r.varint("query id");
    const request = Uint8Array.from(r.rest());
    const reply = (frame: Buffer): void => {
      if (!this.socket.destroyed) this.socket.write(frame);
    };
    this.ctx.answer(from, request).then(
      (body) => reply(queryReplyFrame(id, false, body)),
      (error: Error) => reply(queryReplyFrame(id, true, Buffer.from(error.message))),
    );
  }

  /** Why this hello cannot be accepted, or null. */
  private helloProblem(hello: Hello, member: PeerAddress | undefined): string | null {
    if (hello.version !== PROTOCOL_VERSION) {
      return `protocol version ${hello.version}, we speak ${PROTOCOL_VERSION}`;
    }
    if (hello.clusterId !== this.ctx.clusterId) {
      return `cluster id "${hello.clusterId}" differs from ours "${this.ctx.clusterId}"`;
    }
    if (this.certName !== null && hello.senderName !== this.certName) {
      return `its certificate is for "${this.certName}"`;
    }
    if (member === undefined) return "not a current member";
    if (member.id !== hello.senderId) return `member ${member.name} has id ${member.id}`;
    return null;
  }

  private hello(hello: Hello): void {
    const member = this.ctx.memberByName(hello.senderName, hello.senderId);
    const problem = this.helloProblem(hello, member);
    if (problem !== null || member === undefined) {
      const who = `${hello.senderName} (id ${hello.senderId}, ${this.remote})`;
      this.refuse(who, problem ?? "not a current member");
      return;
    }
    this.socket.setTimeout(0);
    this.peer = member;
    const socket = this.socket;
    this.receiver = new SnapshotReceiver({
      peerName: member.name,
      logger: this.ctx.logger,
      receiveSnapshot: this.ctx.receiveSnapshot,
      onSnapshot: this.ctx.onSnapshot,
      blocked: () => this.ctx.blockedFrom(member.id),
      reply: (frame) => {
        if (!socket.destroyed) socket.write(frame);
      },
      pause: () => socket.pause(),
      resume: () => socket.resume(),
    });
    this.ctx.accepted(this);
  }

  private refuse(who: string, why: string): void {
    this.refused = true;
    this.ctx.logger.warn(`refused peer connection from ${who}: ${why}`);
    this.socket.setTimeout(1000, () => this.socket.destroy());
    this.socket.end(textFrame(FrameKind.Error, null, why));
  }

  private protocolError(error: unknown): void {
    const name = this.peer?.name ?? this.remote;
    const why = error instanceof Error ? error.message : String(error);
    this.ctx.logger.warn(`closing peer connection from ${name}: protocol error: ${why}`);
    this.socket.destroy();
  }
}
