// Real qmesh member processes on loopback for tests: start, kill -9, restart, and a small JSON
// client. Every process a test starts is killed when the test's cluster is destroyed.
import { type ChildProcess, fork } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { connectEtcd, type EtcdClient } from "../../src/api/grpc/client.ts";
import { createClusterCertificates } from "../../src/transport/index.ts";

export const BIN = fileURLToPath(new URL("../../bin/qmesh", import.meta.url));

export type Json = Record<string, unknown>;

export interface MemberSpec {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly metricsUrl: string;
  readonly dataDir: string;
}

/** Ports the kernel says are free right now (bound on 0, then released). */
export async function freePorts(count: number): Promise<number[]> {
  const servers = await Promise.all(
    Array.from(
      { length: count },
      () =>
        new Promise<import("node:net").Server>((resolve) => {
          const server = createServer();
          server.listen(0, "127.0.0.1", () => resolve(server));
        }),
    ),
  );
  const ports = servers.map((server) => (server.address() as import("node:net").AddressInfo).port);
  await Promise.all(servers.map((server) => new Promise((resolve) => server.close(resolve))));
  return ports;
}

export const b64 = (text: string) => Buffer.from(text).toString("base64");
export const unb64 = (text: unknown) => Buffer.from(String(text ?? ""), "base64").toString();

/** What every test member is started with: its addresses, the cluster, and fast elections. */
export interface StartSpec {
  readonly name: string;
  readonly dataDir: string;
  readonly peerUrl: string;
  /** Where it listens for peers when that differs from peerUrl (a proxy in front of it). */
  readonly listenPeerUrl?: string;
  readonly clientUrl: string;
  readonly metricsUrl: string;
  readonly initialCluster: string;
  readonly state: "new" | "existing";
  readonly token: string;
  readonly certDir: string;
}

/** `qmesh start` and its flags for one test member (50 ms heartbeats, 500 ms elections). */
export function startFlags(spec: StartSpec): string[] {
  return [
    "start",
    "--name",
    spec.name,
    "--data-dir",
    spec.dataDir,
    "--listen-peer-urls",
    spec.listenPeerUrl ?? spec.peerUrl,
    "--initial-advertise-peer-urls",
    spec.peerUrl,
    "--listen-client-urls",
    spec.clientUrl,
    "--listen-metrics-urls",
    spec.metricsUrl,
    "--initial-cluster",
    spec.initialCluster,
    "--initial-cluster-state",
    spec.state,
    "--initial-cluster-token",
    spec.token,
    "--cert-dir",
    spec.certDir,
    "--heartbeat-interval",
    "50",
    "--election-timeout",
    "500",
    "--log-level",
    "warn",
  ];
}

export class TestCluster {
  readonly dir = mkdtempSync(join(tmpdir(), "qmesh-test-"));
  readonly certDir = join(this.dir, "certs");
  readonly token = `test-${process.pid}-${Date.now()}`;
  readonly specs = new Map<string, MemberSpec>();
  readonly processes = new Map<string, ChildProcess>();
  readonly output = new Map<string, string>();
  private readonly grpcClients = new Map<string, EtcdClient>();

  constructor(private readonly extraFlags: readonly string[] = []) {}

  async define(names: readonly string[]): Promise<MemberSpec[]> {
    await createClusterCertificates(this.certDir, names);
    const ports = await freePorts(names.length * 3);
    return names.map((name, i) => {
      const spec = {
        name,
        clientUrl: `http://127.0.0.1:${ports[3 * i]}`,
        peerUrl: `https://127.0.0.1:${ports[3 * i + 1]}`,
        metricsUrl: `http://127.0.0.1:${ports[3 * i + 2]}`,
        dataDir: join(this.dir, name),
      };
      this.specs.set(name, spec);
      return spec;
    });
  }

  initialCluster(names: readonly string[]): string {
    return names.map((name) => `${name}=${this.spec(name).peerUrl}`).join(",");
  }

  spec(name: string): MemberSpec {
    const spec = this.specs.get(name);
    if (spec === undefined) throw new Error(`no member ${name}`);
    return spec;
  }

  /** Starts a member process and waits for it to report that it started (or failed). */
  async start(
    name: string,
    initial: readonly string[],
    state: "new" | "existing" = "new",
    extra: readonly string[] = [],
  ): Promise<void> {
    const spec = this.spec(name);
    const args = [
      ...startFlags({
        ...spec,
        initialCluster: this.initialCluster(initial),
        state,
        token: this.token,
        certDir: this.certDir,
      }),
      ...this.extraFlags,
      ...extra,
    ];
    const child = fork(BIN, args, { stdio: ["ignore", "pipe", "pipe", "ipc"] });
    this.processes.set(name, child);
    this.output.set(name, "");
    const collect = (chunk: Buffer) =>
      this.output.set(name, (this.output.get(name) ?? "") + chunk.toString());
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${name} did not start: ${this.output.get(name)}`)),
        20_000,
      );
      child.on("message", (message: { type?: string; message?: string }) => {
        clearTimeout(timer);
        if (message.type === "started") resolve();
        else reject(new Error(`${name} failed: ${message.message}`));
      });
      child.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`${name} exited with ${code}: ${this.output.get(name)}`));
      });
    });
  }

  kill9(name: string): Promise<void> {
    const child = this.processes.get(name);
    this.processes.delete(name);
    if (child === undefined || child.exitCode !== null) return Promise.resolve();
    return new Promise((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGKILL");
    });
  }

  /** A gRPC client of a member, made once and closed by destroy() (or forgetClient()). */
  grpc(name: string): EtcdClient {
    let client = this.grpcClients.get(name);
    if (client === undefined) {
      client = connectEtcd(this.spec(name).clientUrl);
      this.grpcClients.set(name, client);
    }
    return client;
  }

  /** Closes a member's client, e.g. before its process is killed and restarted. */
  forgetClient(name: string): void {
    this.grpcClients.get(name)?.close();
    this.grpcClients.delete(name);
  }

  async destroy(): Promise<void> {
    for (const name of [...this.grpcClients.keys()]) this.forgetClient(name);
    await Promise.all([...this.processes.keys()].map((name) => this.kill9(name)));
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** POSTs to a member's JSON API; resolves with status and body. */
  async call(
    name: string,
    path: string,
    body: Json,
    timeoutMs = 10_000,
  ): Promise<{ status: number; body: Json }> {
    const response = await fetch(`${this.spec(name).clientUrl}${path}`, {
      method: "POST",
      body: JSON.stringify(body),
      signal: AbortSignal.timeout(timeoutMs),
    });
    return { status: response.status, body: (await response.json()) as Json };
  }

  async put(name: string, key: string, value: string): Promise<Json> {
    const { status, body } = await this.call(name, "/v3/kv/put", {
      key: b64(key),
      value: b64(value),
    });
    if (status !== 200) throw new Error(`put ${key} on ${name}: ${status} ${JSON.stringify(body)}`);
    return body;
  }

  async get(name: string, key: string, serializable = false): Promise<string | null> {
    const { status, body } = await this.call(name, "/v3/kv/range", { key: b64(key), serializable });
    if (status !== 200) throw new Error(`get ${key} on ${name}: ${status} ${JSON.stringify(body)}`);
    const kvs = (body.kvs as Json[] | undefined) ?? [];
    return kvs.length === 0 ? null : unb64(kvs[0]!.value);
  }

  async count(name: string, prefix: string, serializable = false): Promise<number> {
    const end = Buffer.from(prefix);
    end[end.length - 1]! += 1;
    const { body } = await this.call(name, "/v3/kv/range", {
      key: b64(prefix),
      range_end: end.toString("base64"),
      count_only: true,
      serializable,
    });
    return Number(body.count ?? 0);
  }

  async status(name: string): Promise<Json> {
    return (await this.call(name, "/v3/maintenance/status", {}, 3_000)).body;
  }

  /** Waits until some running member reports itself leader; returns its name. */
  /** Defines and starts a new cluster of `names`; resolves with its leader once there is one. */
  async startAll(names: readonly string[], extra: readonly string[] = []): Promise<string> {
    await this.define(names);
    await Promise.all(names.map((name) => this.start(name, names, "new", extra)));
    return this.waitForLeader(names);
  }

  async waitForLeader(among: readonly string[], timeoutMs = 15_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      for (const name of among) {
        try {
          const status = await this.status(name);
          const header = status.header as Json;
          if (status.leader !== "0" && status.leader === header.member_id) return name;
        } catch {
          // not up yet
        }
      }
      await sleep(100);
    }
    throw new Error(`no leader among ${among.join(", ")} within ${timeoutMs} ms`);
  }

  async metric(name: string, metric: string): Promise<number> {
    const text = await (await fetch(`${this.spec(name).metricsUrl}/metrics`)).text();
    const line = text
      .split("\n")
      .find((l) => l.startsWith(`${metric} `) || l.startsWith(`${metric}{`));
    return line === undefined ? 0 : Number(line.split(" ").at(-1));
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Retries `work` until it succeeds or the deadline passes (for "eventually" assertions). */
export async function eventually<T>(work: () => Promise<T>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      return await work();
    } catch (error) {
      last = error;
      await sleep(100);
    }
  }
  throw last;
}
