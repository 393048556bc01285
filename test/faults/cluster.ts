// The member processes of a fault run: started inside the run's network (namespaces or behind
// proxies), killed with SIGKILL, paused with SIGSTOP, restarted on their data, added and removed
// through etcd's Cluster API, and optionally run with a skewed clock (libfaketime).
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { connectEtcd, type EtcdClient } from "../../src/api/grpc/client.ts";
import { createClusterCertificates } from "../../src/transport/index.ts";
import { BIN, startFlags } from "../process/harness.ts";
import type { FaultNetwork, MemberEndpoints } from "./network.ts";

const FAKETIME_LIBRARY = "/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1";

export interface MemberStatus {
  readonly leaderId: string;
  readonly memberId: string;
  readonly revision: number;
  readonly appliedIndex: number;
  readonly alarms: readonly string[];
}

export class FaultCluster {
  readonly certDir: string;
  readonly token = `faults-${process.pid}-${Date.now()}`;
  private readonly endpoints = new Map<string, MemberEndpoints>();
  private readonly processes = new Map<string, ChildProcess>();
  private readonly paused = new Set<string>();
  private readonly clients = new Map<string, EtcdClient>();
  /** Output of every member process, for the run's artifacts. */
  readonly logs = new Map<string, string>();
  /** libfaketime settings per member (e.g. "+120s x0.4"), applied at its next start. */
  readonly clockSkew = new Map<string, string>();
  /** Members in the configuration (voters and learners), by name. */
  readonly members: string[] = [];

  constructor(
    readonly network: FaultNetwork,
    readonly dir: string,
    /** Every name the run may use, the initial members first. */
    readonly names: readonly string[],
    readonly extraFlags: readonly string[] = [],
  ) {
    this.certDir = join(dir, "certs");
  }

  async define(): Promise<void> {
    await createClusterCertificates(this.certDir, this.names);
    for (const name of this.names) {
      this.endpoints.set(name, await this.network.addMember(name));
      mkdirSync(this.dataDir(name), { recursive: true });
    }
  }

  endpoint(name: string): MemberEndpoints {
    const endpoint = this.endpoints.get(name);
    if (endpoint === undefined) throw new Error(`no member named ${name}`);
    return endpoint;
  }

  dataDir(name: string): string {
    return join(this.dir, "data", name);
  }

  running(): string[] {
    return [...this.processes.keys()];
  }

  isPaused(name: string): boolean {
    return this.paused.has(name);
  }

  /**
   * A client for the harness's own calls: short deadlines for probing (status, leader), long
   * ones for reading a whole final state, which after an hour is hundreds of thousands of keys.
   */
  client(name: string, purpose: "probe" | "read" = "probe"): EtcdClient {
    const key = `${purpose}:${name}`;
    let client = this.clients.get(key);
    if (client === undefined) {
      const timeoutMs = purpose === "probe" ? 2_000 : 120_000;
      client = connectEtcd(this.endpoint(name).clientUrl, { timeoutMs });
      this.clients.set(key, client);
    }
    return client;
  }

  /** Starts a member and waits until it reports that it started. */
  async start(name: string, initial: readonly string[], state: "new" | "existing"): Promise<void> {
    const endpoint = this.endpoint(name);
    const initialCluster = initial.map((n) => `${n}=${this.endpoint(n).peerUrl}`).join(",");
    const argv = [
      process.execPath,
      BIN,
      ...startFlags({
        name,
        dataDir: this.dataDir(name),
        peerUrl: endpoint.peerUrl,
        listenPeerUrl: endpoint.listenPeerUrl,
        clientUrl: endpoint.clientUrl,
        metricsUrl: endpoint.metricsUrl,
        initialCluster,
        state,
        token: this.token,
        certDir: this.certDir,
      }),
      ...this.extraFlags,
    ];
    const command = this.network.command(name, argv);
    const skew = this.clockSkew.get(name);
    const env = { ...process.env };
    // Monotonic time is faked too: a member whose clock runs slow or fast is what threatens
    // timing assumptions such as leader leases.
    if (skew !== undefined) {
      if (!existsSync(FAKETIME_LIBRARY)) {
        throw new Error(
          `clock skew needs libfaketime (${FAKETIME_LIBRARY}): apt-get install faketime`,
        );
      }
      Object.assign(env, { LD_PRELOAD: FAKETIME_LIBRARY, FAKETIME: skew });
    }
    const child = spawn(command[0]!, command.slice(1), {
      stdio: ["ignore", "pipe", "pipe", "ipc"],
      env,
    });
    this.processes.set(name, child);
    const collect = (chunk: Buffer) => {
      const log = (this.logs.get(name) ?? "") + chunk.toString();
      // Bounded: only the tail matters for a failing run.
      this.logs.set(name, log.length > 200_000 ? log.slice(-100_000) : log);
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    child.on("exit", () => {
      if (this.processes.get(name) === child) this.processes.delete(name);
      this.paused.delete(name);
    });
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${name} did not start within 30 s`)),
        30_000,
      );
      child.on("message", (message: { type?: string; message?: string }) => {
        clearTimeout(timer);
        if (message.type === "started") resolve();
        else reject(new Error(`${name} failed to start: ${message.message}`));
      });
      child.on("exit", (code, signal) => {
        clearTimeout(timer);
        reject(
          new Error(
            `${name} exited (${code ?? signal}) while starting: ${this.logs.get(name)?.slice(-2000)}`,
          ),
        );
      });
    });
    if (!this.members.includes(name)) this.members.push(name);
  }

  /** Restarts a stopped member on its data. */
  restart(name: string): Promise<void> {
    return this.start(name, this.members, "existing");
  }

  async kill9(name: string): Promise<void> {
    const child = this.processes.get(name);
    if (child === undefined) return;
    this.processes.delete(name);
    this.paused.delete(name);
    if (child.exitCode !== null || child.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve());
      child.kill("SIGKILL");
    });
  }

  pause(name: string): void {
    const child = this.processes.get(name);
    if (child === undefined) return;
    child.kill("SIGSTOP");
    this.paused.add(name);
  }

  resume(name: string): void {
    const child = this.processes.get(name);
    this.paused.delete(name);
    child?.kill("SIGCONT");
  }

  async status(name: string): Promise<MemberStatus> {
    const response = await this.client(name).call("Maintenance", "Status", {});
    return {
      leaderId: String(response.leader),
      memberId: String(response.header.member_id),
      revision: Number(response.header.revision),
      appliedIndex: Number(response.raftAppliedIndex),
      alarms: response.errors ?? [],
    };
  }

  /** The running, unpaused member that says it leads, if one answers. */
  async leader(): Promise<string | undefined> {
    const candidates = this.running().filter((name) => !this.paused.has(name));
    const answers = await Promise.all(
      candidates.map(async (name) => {
        try {
          const status = await this.status(name);
          return status.leaderId !== "0" && status.leaderId === status.memberId ? name : undefined;
        } catch {
          return undefined;
        }
      }),
    );
    return answers.find((name) => name !== undefined);
  }

  async waitForLeader(timeoutMs = 20_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const leader = await this.leader();
      if (leader !== undefined) return leader;
      await sleep(100);
    }
    throw new Error(`no leader among ${this.running().join(", ")} within ${timeoutMs} ms`);
  }

  /** Member id (decimal string) by name, from a running member's member list. */
  async memberId(name: string, via: string): Promise<string | undefined> {
    const list = await this.client(via).call("Cluster", "MemberList", {});
    const peerUrl = this.endpoint(name).peerUrl;
    const member = (list.members as { ID: string; name: string; peerURLs: string[] }[]).find(
      (m) => m.name === name || m.peerURLs.includes(peerUrl),
    );
    return member === undefined ? undefined : String(member.ID);
  }

  /** etcd's runtime reconfiguration: MemberAdd as a learner, then start it joining. */
  async addLearner(name: string, via: string): Promise<void> {
    await this.client(via).call("Cluster", "MemberAdd", {
      peerURLs: [this.endpoint(name).peerUrl],
      isLearner: true,
    });
    this.members.push(name);
    await this.start(name, this.members, "existing");
  }

  async promote(name: string, via: string): Promise<void> {
    const id = await this.memberId(name, via);
    if (id === undefined) throw new Error(`${name} is not in the member list`);
    await this.client(via).call("Cluster", "MemberPromote", { ID: id });
  }

  /** MemberRemove, then the process is stopped (a removed member shuts itself down in etcd). */
  async remove(name: string, via: string): Promise<void> {
    const id = await this.memberId(name, via);
    if (id === undefined) throw new Error(`${name} is not in the member list`);
    await this.client(via).call("Cluster", "MemberRemove", { ID: id });
    this.members.splice(this.members.indexOf(name), 1);
    await this.kill9(name);
  }

  async stopAll(): Promise<void> {
    for (const name of this.paused) this.resume(name);
    await Promise.all(this.running().map((name) => this.kill9(name)));
    for (const client of this.clients.values()) client.close();
    this.clients.clear();
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
