// A real etcd 3.4 cluster on loopback (Debian's /usr/bin/etcd), the reference that qmesh's etcd v3
// API is compared against. Free ports, a temp data dir, etcd's defaults otherwise; every process
// is killed when the cluster is destroyed, and also when the test process exits.
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts, sleep } from "../process/harness.ts";

export const ETCD_BIN = "/usr/bin/etcd";
export const ETCDCTL_BIN = "/usr/bin/etcdctl";

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
}

const running = new Set<ChildProcess>();
process.once("exit", () => {
  for (const child of running) child.kill("SIGKILL");
});

export class EtcdCluster {
  readonly dir = mkdtempSync(join(tmpdir(), "etcd-ref-"));
  readonly members: EtcdMember[] = [];
  readonly processes = new Map<string, ChildProcess>();
  readonly output = new Map<string, string>();
  readonly token = `etcd-ref-${process.pid}-${Date.now()}`;

  /** Starts `names.length` members as one new cluster and waits until it is healthy. */
  static async start(names: readonly string[] = ["m1", "m2", "m3"]): Promise<EtcdCluster> {
    const cluster = new EtcdCluster();
    try {
      const ports = await freePorts(names.length * 2);
      for (const [i, name] of names.entries()) {
        cluster.members.push({
          name,
          clientUrl: `http://127.0.0.1:${ports[2 * i]}`,
          peerUrl: `http://127.0.0.1:${ports[2 * i + 1]}`,
          dataDir: join(cluster.dir, name),
        });
      }
      const initial = cluster.members.map((m) => `${m.name}=${m.peerUrl}`).join(",");
      for (const member of cluster.members) cluster.spawnMember(member, initial, "new");
      await cluster.waitHealthy(cluster.members);
      return cluster;
    } catch (error) {
      await cluster.destroy();
      throw error;
    }
  }

  get endpoints(): string[] {
    return this.members.map((m) => m.clientUrl);
  }

  /** Starts an extra member (after `member add`) with the given initial cluster string. */
  async startExtra(name: string, initialCluster: string, peerUrl: string, clientUrl: string) {
    const member = { name, clientUrl, peerUrl, dataDir: join(this.dir, name) };
    this.members.push(member);
    this.spawnMember(member, initialCluster, "existing");
    await this.waitHealthy([member]);
    return member;
  }

  spawnMember(member: EtcdMember, initialCluster: string, state: "new" | "existing"): void {
    const args = [
      "--name",
      member.name,
      "--data-dir",
      member.dataDir,
      "--listen-client-urls",
      member.clientUrl,
      "--advertise-client-urls",
      member.clientUrl,
      "--listen-peer-urls",
      member.peerUrl,
      "--initial-advertise-peer-urls",
      member.peerUrl,
      "--initial-cluster",
      initialCluster,
      "--initial-cluster-state",
      state,
      "--initial-cluster-token",
      this.token,
    ];
    const child = spawn(ETCD_BIN, args, { stdio: ["ignore", "pipe", "pipe"] });
    running.add(child);
    child.once("exit", () => running.delete(child));
    this.processes.set(member.name, child);
    this.output.set(member.name, "");
    const collect = (chunk: Buffer) =>
      this.output.set(member.name, (this.output.get(member.name) ?? "") + chunk.toString());
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
  }

  async waitHealthy(members: readonly EtcdMember[], timeoutMs = 20_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (const member of members) {
      for (;;) {
        const child = this.processes.get(member.name);
        if (child?.exitCode !== null && child?.exitCode !== undefined) {
          throw new Error(`etcd ${member.name} exited: ${this.output.get(member.name)}`);
        }
        try {
          const response = await fetch(`${member.clientUrl}/health`, {
            signal: AbortSignal.timeout(1_000),
          });
          const body = (await response.json()) as { health?: string };
          if (body.health === "true") break;
        } catch {
          // not up yet
        }
        if (Date.now() > deadline) {
          throw new Error(`etcd ${member.name} not healthy: ${this.output.get(member.name)}`);
        }
        await sleep(100);
      }
    }
  }

  async kill(name: string): Promise<void> {
    const child = this.processes.get(name);
    this.processes.delete(name);
    if (child === undefined || child.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGKILL");
    });
  }

  async destroy(): Promise<void> {
    await Promise.all([...this.processes.keys()].map((name) => this.kill(name)));
    rmSync(this.dir, { recursive: true, force: true });
  }
}
