// The outbound half of the mesh for one peer: one persistent connection that carries our
// messages (and snapshots) to it, redialled with backoff when it drops.
import type net from "node:net";
import { performance } from "node:perf_hooks";
import type { Message } from "../raft/index.ts";
import { AckWaiters } from "./ack_waiters.ts";
import { Backoff } from "./backoff.ts";
import { ByteReader } from "./bytes.ts";
import type { TlsMaterial } from "./certs.ts";
import { dialPeer } from "./dial.ts";
import { PeerNotConnectedError, SnapshotSendError } from "./errors.ts";
import {
  FrameKind,
  FrameParser,
  helloFrame,
  MAX_FRAME_BYTES,
  messageFrameCost,
  messagesFrame,
  PROTOCOL_VERSION,
  queryFrame,
  timeFrame,
} from "./frames.ts";
import { QueryWaiters } from "./query_waiters.ts";
import type { PeerAddress, PeerStats, TransportLogger } from "./types.ts";

/** Queue caps while the socket is backed up; beyond them the newest messages are dropped. */
export const MAX_QUEUED_BYTES = 64 * 1024 * 1024;
export const MAX_QUEUED_MESSAGES = 65_536;
/** Splits a large backlog into frames well under the frame limit. */
export const MAX_BATCH_BYTES = 16 * 1024 * 1024;
const CONNECT_TIMEOUT_MS = 5000;
const PING_INTERVAL_MS = 1000;
/** No frame from the peer for this long: the connection is half-open, so redial. */
const IDLE_TIMEOUT_MS = 15_000;

export interface LinkContext {
  self: PeerAddress;
  clusterId: string;
  tls: TlsMaterial | null;
  logger: TransportLogger;
  random: () => number;
  onUnreachable(peer: PeerAddress): void;
}

export class PeerLink {
  private socket: net.Socket | null = null;
  /** Bumped per socket, so a snapshot stream notices that its connection was replaced. */
  generation = 0;
  private connected = false;
  /** The peer answered a ping: it accepted our hello. */
  private established = false;
  /** The last attempt failed: drop instead of queueing until a connection is up. */
  private down = false;
  private unreachableReported = false;
  private closed = false;
  private writable = true;
  private queue: Message[] = [];
  private queueBytes = 0;
  private flushScheduled = false;
  private reconnectTimer: NodeJS.Timeout | null = null;
  private pingTimer: NodeJS.Timeout | null = null;
  private lastHeard = 0;
  private lastProblem = "";
  /** The peer sent an Error frame on the current socket: its close needs no second warning. */
  private refused = false;
  private readonly backoff: Backoff;
  private readonly acks = new AckWaiters();
  private readonly queries = new QueryWaiters();
  private drainWaiters: Array<() => void> = [];
  /** Serializes snapshot transfers to this peer. */
  snapshotChain: Promise<void> = Promise.resolve();

  rttMs: number | null = null;
  sentBytes = 0;
  receivedBytes = 0;
  droppedMessages = 0;

  constructor(
    readonly peer: PeerAddress,
    private readonly ctx: LinkContext,
  ) {
    this.backoff = new Backoff(ctx.random);
  }

  start(): void {
    this.dial();
  }

  get isConnected(): boolean {
    return this.connected;
  }

  stats(): PeerStats {
    return {
      connected: this.connected && this.established,
      rttMs: this.rttMs,
      queuedBytes: this.queueBytes + (this.socket?.writableLength ?? 0),
      sentBytes: this.sentBytes,
      receivedBytes: this.receivedBytes,
      droppedMessages: this.droppedMessages,
    };
  }

  enqueue(message: Message): void {
    if (this.closed) return;
    if (this.down) {
      this.droppedMessages++;
      this.reportUnreachable();
      return;
    }
    const cost = messageFrameCost(message);
    if (this.queue.length >= MAX_QUEUED_MESSAGES || this.queueBytes + cost > MAX_QUEUED_BYTES) {
      // Newest dropped: what is queued stays a prefix of what Raft sent, and Raft resends.
      this.droppedMessages++;
      return;
    }
    this.queue.push(message);
    this.queueBytes += cost;
    if (!this.flushScheduled) {
      this.flushScheduled = true;
      setImmediate(this.flush);
    }
  }

  /** Writes what is queued now instead of at the end of the event-loop turn. */
  flushNow(): void {
    if (this.queue.length > 0) this.flush();
  }

  private readonly flush = (): void => {
    this.flushScheduled = false;
    if (!this.connected) return;
    while (this.queue.length > 0 && this.writable) {
      let count = 0;
      let bytes = 0;
      while (count < this.queue.length) {
        const cost = messageFrameCost(this.queue[count]!);
        if (count > 0 && bytes + cost > MAX_BATCH_BYTES) break;
        bytes += cost;
        count++;
      }
      const batch = this.queue.length === count ? this.queue : this.queue.slice(0, count);
      this.queue = this.queue.length === count ? [] : this.queue.slice(count);
      this.queueBytes -= bytes;
      if (bytes > MAX_FRAME_BYTES - 64) {
        this.droppedMessages += batch.length;
        this.ctx.logger.warn(
          `dropped a ${bytes}-byte message to ${this.peer.name}: over the frame limit`,
        );
        continue;
      }
      this.write(messagesFrame(batch));
    }
  };

  /** Writes a frame on the current connection; false when the socket asked us to wait. */
  write(frame: Buffer): boolean {
    const socket = this.socket;
    if (socket === null || !this.connected) return false;
    this.sentBytes += frame.length;
    if (!socket.write(frame)) this.writable = false;
    return this.writable;
  }

  /** Resolves once the socket of `generation` can take more; rejects if it is gone. */
  whenWritable(generation: number): Promise<void> {
    this.checkGeneration(generation);
    if (this.writable) return Promise.resolve();
    return new Promise((resolve, reject) => {
      // Re-check on wake: the queued messages flushed on drain may have filled the socket again.
      this.drainWaiters.push(() => {
        try {
          this.whenWritable(generation).then(resolve, reject);
        } catch (error) {
          reject(error);
        }
      });
    });
  }

  checkGeneration(generation: number): void {
    if (this.closed || !this.connected || generation !== this.generation) {
      throw new SnapshotSendError(`connection to peer ${this.peer.name} was lost`);
    }
  }

  /** Registers interest in the ack of a new transfer before its first frame goes out. */
  openTransfer(): { id: number; ack: Promise<void> } {
    return this.acks.open();
  }

  /** Sends a query on the established connection; rejects with QueryError if there is none. */
  query(request: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    if (this.closed || !this.connected || !this.established) {
      return Promise.reject(new PeerNotConnectedError(`not connected to peer ${this.peer.name}`));
    }
    const { id, answer } = this.queries.open(timeoutMs, this.peer.name);
    this.write(queryFrame(id, request));
    return answer;
  }

  cancelTransfer(id: number): void {
    this.acks.cancel(id);
  }

  close(): void {
    this.closed = true;
    if (this.reconnectTimer !== null) clearTimeout(this.reconnectTimer);
    this.reconnectTimer = null;
    this.queue = [];
    this.queueBytes = 0;
    this.socket?.destroy();
    this.teardown(new SnapshotSendError(`transport to peer ${this.peer.name} closed`));
  }

  private dial(): void {
    if (this.closed) return;
    this.reconnectTimer = null;
    const { socket, readyEvent } = dialPeer(this.peer, this.ctx.tls);
    this.socket = socket;
    this.generation++;
    this.connected = false;
    this.established = false;
    this.refused = false;
    this.writable = true;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.setTimeout(CONNECT_TIMEOUT_MS, () => socket.destroy(new Error("connect timed out")));
    let failure: Error | null = null;
    socket.once(readyEvent, () => this.onConnected(socket));
    socket.on("error", (error) => {
      failure ??= error;
    });
    socket.on("close", () => this.onClosed(socket, failure));
    socket.on("drain", () => {
      if (socket !== this.socket) return;
      this.writable = true;
      this.flush();
      const waiters = this.drainWaiters;
      this.drainWaiters = [];
      for (const wake of waiters) wake();
    });
    const parser = new FrameParser((kind, payload) => this.onFrame(socket, kind, payload));
    socket.on("data", (data: Buffer) => {
      try {
        parser.push(data);
      } catch (error) {
        socket.destroy(error as Error);
      }
    });
  }

  private onConnected(socket: net.Socket): void {
    if (socket !== this.socket) return;
    socket.setTimeout(0);
    this.connected = true;
    this.down = false;
    this.unreachableReported = false;
    this.lastHeard = performance.now();
    const { self, clusterId } = this.ctx;
    this.write(
      helloFrame({
        version: PROTOCOL_VERSION,
        clusterId,
        senderId: self.id,
        senderName: self.name,
      }),
    );
    this.ping();
    this.pingTimer = setInterval(() => this.ping(), PING_INTERVAL_MS);
    this.pingTimer.unref();
    this.flush();
  }

  private ping(): void {
    const socket = this.socket;
    if (socket === null || !this.connected) return;
    if (performance.now() - this.lastHeard > IDLE_TIMEOUT_MS) {
      socket.destroy(new Error(`no answer for ${IDLE_TIMEOUT_MS} ms`));
      return;
    }
    // A backed-up socket already has plenty on the way; a ping would only queue behind it.
    if (this.writable) this.write(timeFrame(FrameKind.Ping, performance.now()));
  }

  private onFrame(socket: net.Socket, kind: number, payload: Buffer): void {
    if (socket !== this.socket) return;
    this.lastHeard = performance.now();
    const r = new ByteReader(payload);
    switch (kind) {
      case FrameKind.Pong: {
        this.rttMs = performance.now() - r.f64();
        if (!this.established) {
          this.established = true;
          this.backoff.reset();
          this.lastProblem = "";
          this.ctx.logger.info(`connected to peer ${this.peer.name} at ${this.peer.url}`);
        }
        return;
      }
      case FrameKind.Error:
        this.refused = true;
        this.problem(`peer ${this.peer.name} refused our connection: ${payload.toString("utf8")}`);
        return;
      case FrameKind.QueryReply: {
        const id = r.varint("query id");
        const failed = r.u8("query status") === 1;
        this.queries.settle(id, failed, Uint8Array.from(r.rest()), this.peer.name);
        return;
      }
      case FrameKind.SnapshotAck:
      case FrameKind.SnapshotNack: {
        const id = r.varint();
        const reason =
          kind === FrameKind.SnapshotAck ? null : Buffer.from(r.rest()).toString("utf8");
        this.acks.settle(id, reason, this.peer.name);
        return;
      }
      default:
        socket.destroy(new Error(`unexpected frame kind ${kind} from peer ${this.peer.name}`));
    }
  }

  private onClosed(socket: net.Socket, failure: Error | null): void {
    if (socket !== this.socket) return;
    const wasEstablished = this.established;
    this.socket = null;
    this.connected = false;
    this.established = false;
    this.teardown(new SnapshotSendError(`connection to peer ${this.peer.name} was lost`));
    if (this.closed) return;
    const why = failure?.message ?? "connection closed";
    if (wasEstablished) this.ctx.logger.warn(`lost connection to peer ${this.peer.name}: ${why}`);
    else if (!this.refused)
      this.problem(`cannot reach peer ${this.peer.name} at ${this.peer.url}: ${why}`);
    this.down = true;
    this.unreachableReported = false;
    if (this.queue.length > 0) {
      this.droppedMessages += this.queue.length;
      this.queue = [];
      this.queueBytes = 0;
      this.reportUnreachable();
    }
    this.reconnectTimer = setTimeout(() => this.dial(), this.backoff.next());
    this.reconnectTimer.unref();
  }

  private teardown(error: Error): void {
    if (this.pingTimer !== null) clearInterval(this.pingTimer);
    this.pingTimer = null;
    this.writable = true;
    this.acks.failAll(error);
    this.queries.failAll(error);
    const waiters = this.drainWaiters;
    this.drainWaiters = [];
    for (const wake of waiters) wake();
  }

  private reportUnreachable(): void {
    if (this.unreachableReported) return;
    this.unreachableReported = true;
    this.ctx.onUnreachable(this.peer);
  }

  /** Repeats of the same failure (every redial) are logged once. */
  private problem(text: string): void {
    if (text === this.lastProblem) return;
    this.lastProblem = text;
    this.ctx.logger.warn(text);
  }
}
