// Helpers for the transport's network tests: certificates, transports on ephemeral ports,
// a file-backed snapshot sink and polling with a deadline.
import { createWriteStream, mkdtempSync, renameSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { crc32 } from "node:zlib";
import type { Message, NodeId } from "../raft/index.ts";
import { MessageType } from "../raft/index.ts";
import { createClusterCertificates, loadTlsMaterial, type TlsMaterial } from "./certs.ts";
import { Transport } from "./transport.ts";
import type { PeerAddress, SnapshotSink, TransportOptions } from "./types.ts";

const tempDirs: string[] = [];
// Tests leave nothing behind in the machine's temp folder.
process.once("exit", () => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});

export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), `qmesh-${prefix}-`));
  tempDirs.push(dir);
  return dir;
}

export async function clusterCerts(names: readonly string[]): Promise<{
  dir: string;
  material(name: string): TlsMaterial;
}> {
  const dir = tempDir("tls");
  await createClusterCertificates(dir, names);
  return { dir, material: (name) => loadTlsMaterial(dir, name) };
}

export class MemoryLogger {
  readonly lines: string[] = [];
  info(message: string): void {
    this.lines.push(`INFO ${message}`);
  }
  warn(message: string): void {
    this.lines.push(`WARN ${message}`);
  }
  has(pattern: RegExp): boolean {
    return this.lines.some((line) => pattern.test(line));
  }
}

export function message(from: NodeId, to: NodeId, index: number, data = ""): Message {
  return {
    type: MessageType.Append,
    to,
    from,
    term: 1,
    logTerm: 1,
    index,
    entries: data === "" ? [] : [{ term: 1, index, type: 0, data: Buffer.from(data) }],
    commit: 0,
    snapshot: null,
    reject: false,
    rejectHint: 0,
    context: new Uint8Array(),
  };
}

/** Writes to a temp file and verifies size and CRC-32 on finish, as storage's receiver would. */
export function fileSink(dir: string, expectedBytes: number, checksum: number): SnapshotSink {
  const partial = join(dir, `partial-${Math.random().toString(36).slice(2)}`);
  const out = createWriteStream(partial);
  let crc = 0;
  let size = 0;
  return {
    write: (chunk) =>
      new Promise((resolve, reject) => {
        crc = crc32(chunk, crc);
        size += chunk.length;
        out.write(chunk, (error) => (error ? reject(error) : resolve()));
      }),
    finish: async (term, index) => {
      await new Promise<void>((resolve) => out.end(resolve));
      if (size !== expectedBytes) throw new Error(`size ${size} != ${expectedBytes}`);
      if (crc !== checksum) throw new Error(`checksum mismatch: ${crc} != ${checksum}`);
      const path = join(dir, `snapshot-${term}-${index}`);
      renameSync(partial, path);
      return path;
    },
    abort: async () => {
      out.destroy();
      rmSync(partial, { force: true });
    },
  };
}

export interface Node {
  transport: Transport;
  address: PeerAddress;
  logger: MemoryLogger;
  received: Message[];
  batches: number[];
  snapshots: Array<{ message: Message; file: string }>;
  unreachable: NodeId[];
}

export interface NodeOptions {
  scheme?: "https" | "http";
  port?: number;
  clusterId?: string;
  tls?: TlsMaterial | null;
  snapshotDir?: string;
  answerQuery?: TransportOptions["answerQuery"];
}

/** A transport listening on 127.0.0.1 (port 0 unless given) that records what it receives. */
export async function startNode(
  id: NodeId,
  name: string,
  certs: { material(name: string): TlsMaterial } | null,
  options: NodeOptions = {},
): Promise<Node> {
  const scheme = options.scheme ?? "https";
  const logger = new MemoryLogger();
  const node: Node = {
    transport: undefined as unknown as Transport,
    address: { id, name, url: `${scheme}://127.0.0.1:${options.port ?? 0}` },
    logger,
    received: [],
    batches: [],
    snapshots: [],
    unreachable: [],
  };
  const snapshotDir = options.snapshotDir ?? tempDir("snap");
  const transportOptions: TransportOptions = {
    self: node.address,
    clusterId: options.clusterId ?? "test-cluster",
    tls: options.tls !== undefined ? options.tls : (certs?.material(name) ?? null),
    logger,
    onMessages: (messages) => {
      node.batches.push(messages.length);
      node.received.push(...messages);
    },
    onSnapshot: (m, file) => node.snapshots.push({ message: m, file }),
    receiveSnapshot: (bytes, checksum) => fileSink(snapshotDir, bytes, checksum),
    onPeerUnreachable: (peer) => node.unreachable.push(peer),
    ...(options.answerQuery === undefined ? {} : { answerQuery: options.answerQuery }),
  };
  node.transport = new Transport(transportOptions);
  await node.transport.listen();
  node.address = { ...node.address, url: `${scheme}://127.0.0.1:${node.transport.port}` };
  return node;
}

/** Tells every node about all the others. */
export function mesh(nodes: readonly Node[]): void {
  for (const node of nodes) {
    node.transport.setPeers(nodes.filter((n) => n !== node).map((n) => n.address));
  }
}

export async function waitFor(
  what: string,
  predicate: () => boolean,
  timeoutMs = 5000,
): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!predicate()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export async function closeAll(nodes: readonly Node[]): Promise<void> {
  await Promise.all(nodes.map((node) => node.transport.close()));
}
