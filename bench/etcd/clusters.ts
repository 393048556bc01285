// The two 3-member clusters the side-by-side benchmark compares, behind one interface: qmesh
// through the process test harness (TestCluster), etcd as Debian's /usr/bin/etcd with its
// defaults. Both on loopback, data in a temp dir, killed at the end.
import { spawnSync } from "node:child_process";
import { EtcdCluster } from "../../test/compat/etcd_reference.ts";
import { sleep, TestCluster } from "../../test/process/harness.ts";

export type System = "qmesh" | "etcd";

export interface Member {
  readonly name: string;
  readonly pid: number;
  /** host:port of the client (gRPC) endpoint. */
  readonly endpoint: string;
}

export interface BenchCluster {
  readonly system: System;
  readonly members: readonly Member[];
  /** The member that reports itself leader. */
  leader(): Promise<string>;
  stop(): Promise<void>;
}

const hostPort = (url: string) => url.replace(/^https?:\/\//, "").replace(/\/$/, "");

/** Asks each member's JSON gateway for its status until one says it leads. */
export async function findLeader(members: readonly Member[], timeoutMs = 20_000): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    for (const member of members) {
      try {
        const response = await fetch(`http://${member.endpoint}/v3/maintenance/status`, {
          method: "POST",
          body: "{}",
          signal: AbortSignal.timeout(2_000),
        });
        const status = (await response.json()) as {
          leader?: string;
          header?: { member_id?: string };
        };
        if (
          status.leader !== undefined &&
          status.leader !== "0" &&
          status.leader === status.header?.member_id
        )
          return member.name;
      } catch {
        // not up yet
      }
    }
    await sleep(200);
  }
  throw new Error(`no leader among ${members.map((m) => m.name).join(", ")}`);
}

/** etcd's timing defaults (the harness sets a faster tick for tests). */
const QMESH_TIMING_FLAGS = ["--heartbeat-interval", "100", "--election-timeout", "1000"];

export async function startQmesh(): Promise<BenchCluster> {
  const cluster = new TestCluster();
  const names = ["q1", "q2", "q3"];
  try {
    await cluster.define(names);
    await Promise.all(names.map((name) => cluster.start(name, names, "new", QMESH_TIMING_FLAGS)));
    const members = names.map((name) => ({
      name,
      pid: cluster.processes.get(name)!.pid!,
      endpoint: hostPort(cluster.spec(name).clientUrl),
    }));
    await findLeader(members);
    return {
      system: "qmesh",
      members,
      leader: () => findLeader(members),
      stop: () => cluster.destroy(),
    };
  } catch (error) {
    await cluster.destroy();
    throw error;
  }
}

export function etcdAvailable(): boolean {
  return spawnSync("etcd", ["--version"]).status === 0;
}

export async function startEtcd(): Promise<BenchCluster> {
  const cluster = await EtcdCluster.start(["e1", "e2", "e3"]);
  try {
    const members = cluster.members.map((member) => ({
      name: member.name,
      pid: cluster.processes.get(member.name)!.pid!,
      endpoint: hostPort(member.clientUrl),
    }));
    await findLeader(members);
    return {
      system: "etcd",
      members,
      leader: () => findLeader(members),
      stop: () => cluster.destroy(),
    };
  } catch (error) {
    await cluster.destroy();
    throw error;
  }
}
