// Faults without privileges: a TCP proxy in front of every member's peer port. Members listen on
// a private port and advertise the proxy's, so every peer connection passes through it. Peer
// links are plain TCP here, which lets the proxy read the dialler's name from its hello frame.
//
// A proxy cannot drop bytes in the middle of a TCP stream without corrupting qmesh's framing,
// so faults act on whole connections: a cut closes the connections it applies to and refuses
// new ones, and loss closes a connection at random (qmesh redials with backoff).
import net from "node:net";
import { decodeHello, FrameKind, HEADER_BYTES } from "../../src/transport/frames.ts";
import { freePorts } from "../process/harness.ts";
import type { FaultNetwork, LinkDegradation, MemberEndpoints } from "./network.ts";

/** A hello is tens of bytes: a longer claimed length means the dialler is no qmesh peer (TLS?). */
const MAX_HELLO_BYTES = 4096;
/** qmesh sends its hello at once; a dialler silent this long is no qmesh peer. */
const HELLO_TIMEOUT_MS = 5000;

export interface ProxyNetworkOptions {
  /** Where members and proxies listen, and the host of every URL. Default 127.0.0.1. */
  readonly host?: string;
}

interface ProxiedMember {
  readonly realPort: number;
  readonly server: net.Server;
}

/** The dialler's name once the hello is complete; undefined: wait for more; null: not qmesh. */
function helloSender(buffered: Buffer): string | null | undefined {
  if (buffered.length < HEADER_BYTES) return undefined;
  const length = buffered.readUInt32BE(0);
  if (buffered[4] !== FrameKind.Hello || length < 1 || length > MAX_HELLO_BYTES) return null;
  if (buffered.length < 4 + length) return undefined;
  try {
    return decodeHello(buffered.subarray(HEADER_BYTES, 4 + length)).senderName;
  } catch {
    return null;
  }
}

/** One direction of a connection: chunks leave in arrival order, each after the delay. */
class DelayedPipe {
  private readonly queue: { chunk: Buffer; due: number }[] = [];
  private timer: NodeJS.Timeout | null = null;
  private lastDue = 0;
  private waitingForDrain = false;

  constructor(
    private readonly source: net.Socket,
    private readonly target: net.Socket,
  ) {}

  push(chunk: Buffer, delayMs: number): void {
    if (delayMs <= 0 && this.queue.length === 0) {
      this.write(chunk);
      return;
    }
    // Never before an earlier chunk, even when the delay was just lowered.
    this.lastDue = Math.max(performance.now() + delayMs, this.lastDue);
    this.queue.push({ chunk, due: this.lastDue });
    this.schedule();
  }

  stop(): void {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    this.queue.length = 0;
  }

  private schedule(): void {
    const head = this.queue[0];
    if (this.timer !== null || head === undefined) return;
    this.timer = setTimeout(
      () => {
        this.timer = null;
        while (this.queue.length > 0 && this.queue[0]!.due <= performance.now()) {
          this.write(this.queue.shift()!.chunk);
        }
        this.schedule();
      },
      Math.max(0, Math.ceil(head.due - performance.now())),
    );
  }

  private write(chunk: Buffer): void {
    if (this.target.write(chunk) || this.waitingForDrain) return;
    // Backpressure: a slow member slows its dialler instead of the proxy buffering without end.
    this.waitingForDrain = true;
    this.source.pause();
    this.target.once("drain", () => {
      this.waitingForDrain = false;
      this.source.resume();
    });
  }
}

/** A dialler's connection to a listener's proxy, and the proxy's onward one to the listener. */
class ProxiedConnection {
  /** Listener→dialler bytes were dropped: that direction is broken for good. */
  droppedBack = false;
  readonly toListener: DelayedPipe;
  readonly toDialler: DelayedPipe;

  constructor(
    readonly dialler: string,
    readonly listener: string,
    readonly client: net.Socket,
    readonly upstream: net.Socket,
  ) {
    this.toListener = new DelayedPipe(client, upstream);
    this.toDialler = new DelayedPipe(upstream, client);
  }

  destroy(): void {
    this.toListener.stop();
    this.toDialler.stop();
    this.client.destroy();
    this.upstream.destroy();
  }
}

export class ProxyNetwork implements FaultNetwork {
  readonly mode = "proxy" as const;
  readonly supportsDelay = true;
  private readonly host: string;
  private readonly members = new Map<string, ProxiedMember>();
  private readonly usedPorts = new Set<number>();
  /** Every socket the proxies hold, identified or not, so that close() leaves none. */
  private readonly sockets = new Set<net.Socket>();
  private readonly connections = new Set<ProxiedConnection>();
  /** `from\0to`: nothing from `from` reaches `to`. */
  private readonly cuts = new Set<string>();
  private delayMs = 0;
  private lossPercent = 0;
  private closed = false;

  constructor(options: ProxyNetworkOptions = {}) {
    this.host = options.host ?? "127.0.0.1";
  }

  async addMember(name: string): Promise<MemberEndpoints> {
    if (this.closed) throw new Error("the proxy network is closed");
    if (this.members.has(name)) throw new Error(`member ${name} was already added`);
    const [realPort, clientPort, metricsPort] = await this.reservePorts(3);
    const server = net.createServer((socket) => this.accept(name, socket));
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ host: this.host, port: 0 }, () => resolve());
    });
    this.members.set(name, { realPort: realPort!, server });
    const proxyPort = (server.address() as net.AddressInfo).port;
    return {
      name,
      peerUrl: this.url(proxyPort),
      listenPeerUrl: this.url(realPort!),
      clientUrl: this.url(clientPort!),
      metricsUrl: this.url(metricsPort!),
    };
  }

  command(_name: string, argv: readonly string[]): string[] {
    return [...argv];
  }

  async cut(from: string, to: string): Promise<void> {
    const key = cutKey(from, to);
    if (this.cuts.has(key)) return;
    this.cuts.add(key);
    for (const connection of this.connections) {
      const { dialler, listener } = connection;
      if ((dialler === from && listener === to) || (dialler === to && listener === from)) {
        connection.destroy();
      }
    }
  }

  async degrade({ delayMs, lossPercent }: LinkDegradation): Promise<void> {
    if (!(delayMs >= 0) || !(lossPercent >= 0 && lossPercent <= 100)) {
      throw new RangeError(`delay ${delayMs} ms must be >= 0 and loss ${lossPercent}% 0–100`);
    }
    this.delayMs = delayMs;
    this.lossPercent = lossPercent;
  }

  async heal(): Promise<void> {
    this.cuts.clear();
    this.delayMs = 0;
    this.lossPercent = 0;
    // Redialled now, rather than after the dialler's idle timeout.
    for (const connection of this.connections) {
      if (connection.droppedBack) connection.destroy();
    }
  }

  async close(): Promise<void> {
    await this.heal();
    this.closed = true;
    for (const connection of this.connections) connection.destroy();
    for (const socket of this.sockets) socket.destroy();
    await Promise.all(
      [...this.members.values()].map(
        ({ server }) => new Promise<void>((resolve) => server.close(() => resolve())),
      ),
    );
    this.members.clear();
  }

  private isCut(from: string, to: string): boolean {
    return this.cuts.has(cutKey(from, to));
  }

  private url(port: number): string {
    return `http://${this.host.includes(":") ? `[${this.host}]` : this.host}:${port}`;
  }

  /** Free ports never handed out before: freePorts releases them, so two calls could overlap. */
  private async reservePorts(count: number): Promise<number[]> {
    for (;;) {
      const ports = await freePorts(count);
      if (ports.every((port) => !this.usedPorts.has(port))) {
        for (const port of ports) this.usedPorts.add(port);
        return ports;
      }
    }
  }

  private track(socket: net.Socket): void {
    this.sockets.add(socket);
    // Resets are the normal end of a cut or lost connection.
    socket.on("error", () => {});
    socket.once("close", () => this.sockets.delete(socket));
  }

  /** Holds the dialler's first bytes until its hello names it. */
  private accept(listener: string, client: net.Socket): void {
    this.track(client);
    if (this.closed) {
      client.destroy();
      return;
    }
    let buffered = Buffer.alloc(0);
    const timer = setTimeout(() => client.destroy(), HELLO_TIMEOUT_MS);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const dialler = helloSender(buffered);
      if (dialler === undefined) return;
      clearTimeout(timer);
      client.off("data", onData);
      if (dialler === null) client.destroy();
      else this.connect(dialler, listener, client, buffered);
    };
    client.on("data", onData);
    client.once("close", () => clearTimeout(timer));
  }

  private connect(dialler: string, listener: string, client: net.Socket, hello: Buffer): void {
    const member = this.members.get(listener);
    // A refused connection looks to the dialler like an unreachable peer; it redials later.
    if (member === undefined || this.isCut(dialler, listener)) {
      client.destroy();
      return;
    }
    const upstream = net.connect({ host: this.host, port: member.realPort });
    this.track(upstream);
    const connection = new ProxiedConnection(dialler, listener, client, upstream);
    this.connections.add(connection);
    const end = (): void => {
      connection.destroy();
      this.connections.delete(connection);
    };
    client.once("close", end);
    upstream.once("close", end);
    client.on("data", (chunk: Buffer) => this.forward(connection, true, chunk));
    upstream.on("data", (chunk: Buffer) => this.forward(connection, false, chunk));
    this.forward(connection, true, hello);
  }

  private forward(connection: ProxiedConnection, toListener: boolean, chunk: Buffer): void {
    const { dialler, listener } = connection;
    // Loss as a closed connection: a dropped chunk would desynchronise the frames behind it.
    if (this.lossPercent > 0 && Math.random() * 100 < this.lossPercent) {
      connection.destroy();
    } else if (toListener) {
      if (this.isCut(dialler, listener)) connection.destroy();
      else connection.toListener.push(chunk, this.delayMs);
    } else if (connection.droppedBack || this.isCut(listener, dialler)) {
      // The dialler's messages still arrive; only its pongs and acks vanish, as in a one-way drop.
      connection.droppedBack = true;
    } else {
      connection.toDialler.push(chunk, this.delayMs);
    }
  }
}

function cutKey(from: string, to: string): string {
  return `${from}\0${to}`;
}
