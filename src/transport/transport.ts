// The peer mesh: one outbound connection per peer for what we send, inbound connections for
// what peers send us. See index.ts for the wire format.
import net from "node:net";
import tls from "node:tls";
import type { Message, NodeId } from "../raft/index.ts";
import { MessageType } from "../raft/index.ts";
import { QueryError, SnapshotSendError, TransportListenError } from "./errors.ts";
import { InboundConnection, type InboundContext } from "./inbound.ts";
import { type LinkContext, PeerLink } from "./peer_link.ts";
import { streamSnapshot } from "./snapshot_sender.ts";
import type { FaultHook, PeerAddress, PeerStats, TransportOptions } from "./types.ts";
import { type Endpoint, parsePeerUrl } from "./url.ts";

/** The same warning is repeated at most this often (a bad peer redials every few seconds). */
const WARN_REPEAT_MS = 30_000;

export class Transport {
  /** Test-only network faults; null (the default) costs the send path one comparison. */
  fault: FaultHook | null = null;
  private readonly endpoint: Endpoint;
  private readonly listenEndpoint: Endpoint;
  private readonly random: () => number;
  private server: net.Server | null = null;
  private readonly links = new Map<NodeId, PeerLink>();
  private readonly members = new Map<string, PeerAddress>();
  private readonly inbound = new Set<InboundConnection>();
  private readonly latestInbound = new Map<NodeId, InboundConnection>();
  private readonly warned = new Map<string, number>();
  private readonly linkContext: LinkContext;
  private readonly inboundContext: InboundContext;
  private closed = false;

  constructor(private readonly options: TransportOptions) {
    this.endpoint = parsePeerUrl(options.self.url);
    this.listenEndpoint = parsePeerUrl(options.listenUrl ?? options.self.url);
    if (this.listenEndpoint.secure !== this.endpoint.secure) {
      throw new TypeError(
        `listen url ${options.listenUrl} and own url ${options.self.url} differ in scheme`,
      );
    }
    if (this.endpoint.secure && options.tls === null) {
      throw new TypeError(`peer url ${options.self.url} is https:// but no TLS material was given`);
    }
    if (!this.endpoint.secure) {
      options.logger.warn(
        `peer traffic is not encrypted (${options.self.url}): use an https:// peer url outside development`,
      );
    }
    this.random = options.random ?? Math.random;
    this.linkContext = {
      self: options.self,
      clusterId: options.clusterId,
      tls: this.endpoint.secure ? options.tls : null,
      logger: options.logger,
      random: this.random,
      onUnreachable: (peer) => options.onPeerUnreachable(peer.id),
    };
    this.inboundContext = {
      clusterId: options.clusterId,
      logger: { info: (m) => options.logger.info(m), warn: (m) => this.warnThrottled(m) },
      memberByName: (name, id) =>
        this.members.get(name) ?? (id === undefined ? undefined : this.members.get(unnamedKey(id))),
      accepted: (connection) => this.accepted(connection),
      closed: (connection) => this.inboundClosed(connection),
      deliver: (_from, messages) => options.onMessages(messages),
      blockedFrom: (id) => this.fault?.blockedFrom.has(id) === true,
      countReceived: (id, bytes) => {
        const link = this.links.get(id);
        if (link !== undefined) link.receivedBytes += bytes;
      },
      receiveSnapshot: (expected, checksum) => options.receiveSnapshot(expected, checksum),
      onSnapshot: (message, file) => options.onSnapshot(message, file),
      answer: async (from, request) => {
        if (options.answerQuery === undefined) throw new Error("this member answers no queries");
        return options.answerQuery(from, request);
      },
    };
  }

  /** Binds listenUrl's host and port (self.url's when no listenUrl was given). */
  listen(): Promise<void> {
    if (this.server !== null) return Promise.reject(new Error("transport is already listening"));
    const material = this.linkContext.tls;
    const server =
      material === null
        ? net.createServer((socket) => this.accept(socket, null))
        : tls.createServer(
            {
              ca: material.ca,
              cert: material.cert,
              key: material.key,
              minVersion: "TLSv1.3",
              requestCert: true,
              rejectUnauthorized: true,
            },
            (socket) => this.accept(socket, certificateName(socket)),
          );
    server.on("tlsClientError", (error: Error, socket: tls.TLSSocket) => {
      this.warnThrottled(`refused TLS handshake from ${socket.remoteAddress}: ${error.message}`);
    });
    this.server = server;
    const { host, port } = this.listenEndpoint;
    return new Promise((resolve, reject) => {
      const onError = (error: NodeJS.ErrnoException): void => {
        this.server = null;
        const where = `${host}:${port}`;
        reject(
          error.code === "EADDRINUSE"
            ? new TransportListenError(
                `peer port ${where} is already in use (another qmesh or etcd?): stop it or choose another --listen-peer-urls`,
                { cause: error },
              )
            : new TransportListenError(`cannot listen on peer port ${where}: ${error.message}`, {
                cause: error,
              }),
        );
      };
      server.once("error", onError);
      server.listen({ host, port }, () => {
        server.off("error", onError);
        server.on("error", (error) => this.options.logger.warn(`peer listener: ${error.message}`));
        resolve();
      });
    });
  }

  get port(): number {
    const address = this.server?.address();
    if (address === null || address === undefined || typeof address === "string") {
      throw new Error("transport is not listening");
    }
    return address.port;
  }

  /** The current members other than self: dials new ones, drops removed or changed ones. */
  setPeers(peers: readonly PeerAddress[]): void {
    if (this.closed) return;
    const byId = new Map<NodeId, PeerAddress>();
    for (const peer of peers) {
      if (peer.id === this.options.self.id || peer.name === this.options.self.name) {
        throw new TypeError(`setPeers: ${peer.name} (id ${peer.id}) is this member`);
      }
      if (parsePeerUrl(peer.url).secure !== this.endpoint.secure) {
        throw new TypeError(
          `peer url ${peer.url} and own url ${this.options.self.url} differ in scheme`,
        );
      }
      if (
        byId.has(peer.id) ||
        (peer.name !== "" && [...byId.values()].some((p) => p.name === peer.name))
      ) {
        throw new TypeError(`setPeers: duplicate member ${peer.name} (id ${peer.id})`);
      }
      byId.set(peer.id, { ...peer });
    }
    for (const [id, link] of this.links) {
      const next = byId.get(id);
      if (next !== undefined && next.name === link.peer.name && next.url === link.peer.url)
        continue;
      link.close();
      this.links.delete(id);
      for (const connection of this.inbound) {
        if (connection.peer?.id === id) connection.destroy();
      }
    }
    this.members.clear();
    for (const peer of byId.values()) {
      this.members.set(peer.name === "" ? unnamedKey(peer.id) : peer.name, peer);
      if (this.links.has(peer.id)) continue;
      const link = new PeerLink(peer, this.linkContext);
      this.links.set(peer.id, link);
      link.start();
    }
  }

  /** Queues messages per peer; each peer gets one frame per event-loop turn. Never blocks. */
  send(messages: readonly Message[]): void {
    for (const m of messages) {
      if (m.type === MessageType.InstallSnapshot) {
        throw new TypeError("InstallSnapshot goes through sendSnapshot(), not send()");
      }
    }
    const fault = this.fault;
    if (fault !== null) {
      this.sendWithFaults(messages, fault);
      return;
    }
    this.dispatch(messages);
  }

  /**
   * Writes every queued batch now. A caller about to block (an fsync) calls it so that peers
   * get their messages in parallel with the block, not after it.
   */
  flush(): void {
    for (const link of this.links.values()) link.flushNow();
  }

  /** Streams `file` after the message; resolves once the peer has installed and acked it. */
  sendSnapshot(message: Message, file: string, checksum: number): Promise<void> {
    if (message.type !== MessageType.InstallSnapshot || message.snapshot === null) {
      return Promise.reject(new TypeError("sendSnapshot needs an InstallSnapshot message"));
    }
    const link = this.links.get(message.to);
    if (link === undefined) {
      return Promise.reject(new SnapshotSendError(`member ${message.to} is not a peer`));
    }
    if (this.fault?.blockedTo.has(message.to)) {
      link.droppedMessages++;
      return Promise.reject(
        new SnapshotSendError(`peer ${link.peer.name} is blocked by the fault hook`),
      );
    }
    const run = link.snapshotChain.then(() => streamSnapshot(link, message, file, checksum));
    link.snapshotChain = run.catch(() => {});
    return run;
  }

  /**
   * Asks a peer something the member layer defines, on the connection that carries our
   * messages. Rejects with QueryError when there is no connection, on a timeout, or with the
   * peer's error.
   */
  query(peer: NodeId, request: Uint8Array, timeoutMs: number): Promise<Uint8Array> {
    const link = this.links.get(peer);
    if (link === undefined) {
      return Promise.reject(new QueryError(`member ${peer.toString(16)} is not a peer`));
    }
    return link.query(request, timeoutMs);
  }

  peerStats(): Map<NodeId, PeerStats> {
    const stats = new Map<NodeId, PeerStats>();
    for (const [id, link] of this.links) stats.set(id, link.stats());
    return stats;
  }

  /** Closes the listener and every connection; nothing is redialled afterwards. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const link of this.links.values()) link.close();
    this.links.clear();
    this.members.clear();
    for (const connection of this.inbound) connection.destroy();
    const server = this.server;
    if (server !== null) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private dispatch(messages: readonly Message[]): void {
    if (this.closed) return;
    for (const m of messages) {
      const link = this.links.get(m.to);
      if (link !== undefined) link.enqueue(m);
      else this.warnThrottled(`dropped a message to ${m.to}: not a current peer`);
    }
  }

  private sendWithFaults(messages: readonly Message[], fault: FaultHook): void {
    const kept: Message[] = [];
    for (const m of messages) {
      if (fault.blockedTo.has(m.to) || (fault.lossRate > 0 && this.random() < fault.lossRate)) {
        const link = this.links.get(m.to);
        if (link !== undefined) link.droppedMessages++;
      } else {
        kept.push(m);
      }
    }
    if (fault.delayMs > 0) setTimeout(() => this.dispatch(kept), fault.delayMs);
    else this.dispatch(kept);
  }

  /** An added member that has not published its name yet: its hello names it (by id). */
  private hasUnnamedMember(): boolean {
    for (const key of this.members.keys()) if (key.startsWith("#")) return true;
    return false;
  }

  private accept(socket: net.Socket, certName: string | null): void {
    if (this.closed) {
      socket.destroy();
      return;
    }
    if (certName !== null && !this.members.has(certName) && !this.hasUnnamedMember()) {
      this.warnThrottled(
        `refused peer connection from ${socket.remoteAddress}: certificate CN "${certName}" is not a current member`,
      );
      socket.destroy();
      return;
    }
    this.inbound.add(new InboundConnection(socket, certName, this.inboundContext));
  }

  private accepted(connection: InboundConnection): void {
    const id = connection.peer!.id;
    // The peer keeps one outbound connection, so an older one from it is dead or dying.
    const older = this.latestInbound.get(id);
    if (older !== undefined && older !== connection) older.destroy();
    this.latestInbound.set(id, connection);
  }

  private inboundClosed(connection: InboundConnection): void {
    this.inbound.delete(connection);
    const id = connection.peer?.id;
    if (id !== undefined && this.latestInbound.get(id) === connection)
      this.latestInbound.delete(id);
  }

  private warnThrottled(text: string): void {
    const now = performance.now();
    const last = this.warned.get(text);
    if (last !== undefined && now - last < WARN_REPEAT_MS) return;
    if (this.warned.size > 1000) this.warned.clear();
    this.warned.set(text, now);
    this.options.logger.warn(text);
  }
}

function certificateName(socket: tls.TLSSocket): string {
  const cn = socket.getPeerCertificate().subject?.CN;
  return typeof cn === "string" ? cn : "";
}

/** Map key of a member known by id only ('#' cannot start a member name). */
function unnamedKey(id: NodeId): string {
  return `#${id}`;
}
