import type { Message, NodeId } from "../raft/index.ts";
import type { TlsMaterial } from "./certs.ts";

export interface TransportLogger {
  info(message: string): void;
  warn(message: string): void;
  error?(message: string): void;
}

/** A member's peer endpoint. `url` is https://host:port (TLS) or http://host:port (plain TCP). */
export interface PeerAddress {
  id: NodeId;
  name: string;
  url: string;
}

/** Test-only network faults, applied on this member's side of the mesh. */
export interface FaultHook {
  /** Every outgoing batch waits this long (one timer per batch; order is kept). */
  delayMs: number;
  /** Each outgoing message is dropped with this probability (0..1). */
  lossRate: number;
  /** One-way partition: drop what we send to these. */
  blockedTo: Set<NodeId>;
  /** Drop what we receive from these. */
  blockedFrom: Set<NodeId>;
}

/** Where a received snapshot file goes; storage implements it and verifies the checksum. */
export interface SnapshotSink {
  write(chunk: Uint8Array): Promise<void>;
  /** Verifies size and checksum and moves the file into place; returns its path. */
  finish(term: number, index: number): Promise<string>;
  abort(): Promise<void>;
}

export interface TransportOptions {
  /** Who we are to peers; `self.url` is what they dial (the advertised URL). */
  self: PeerAddress;
  /** Where to bind, when it differs from self.url (NAT, a proxy); same scheme. Default self.url. */
  listenUrl?: string;
  clusterId: string;
  /** null only with an http:// self url. */
  tls: TlsMaterial | null;
  logger: TransportLogger;
  /** Delivered in arrival order per peer, one call per received frame. */
  onMessages(messages: Message[]): void;
  /** An InstallSnapshot message whose file has been received and verified by its sink. */
  onSnapshot(message: Message, file: string): void;
  receiveSnapshot(expectedBytes: number, checksum: number): SnapshotSink;
  onPeerUnreachable(id: NodeId): void;
  /** Answers a peer's Transport.query; a rejection goes back to the asker as its message. */
  answerQuery?(from: NodeId, request: Uint8Array): Promise<Uint8Array>;
  /** Uniform in [0, 1): reconnect jitter and fault-hook loss. Defaults to Math.random. */
  random?: () => number;
}

export interface PeerStats {
  connected: boolean;
  rttMs: number | null;
  queuedBytes: number;
  sentBytes: number;
  receivedBytes: number;
  droppedMessages: number;
}
