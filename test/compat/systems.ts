// The two systems the compatibility tests drive with the same clients: a real etcd 3.4 cluster and
// a qmesh cluster (real member processes), each with three voting members named m1..m3 and a
// fourth name, m4, ready to be added as a learner.
import { freePorts, TestCluster } from "../process/harness.ts";
import { EtcdCluster } from "./etcd_reference.ts";

export const NAMES = ["m1", "m2", "m3"] as const;
export const EXTRA = "m4";

export interface SystemUnderTest {
  readonly label: "etcd" | "qmesh";
  readonly endpoints: string[];
  /** Peer URL and client URL for the extra member, before it is added. */
  extraUrls(): Promise<{ peerUrl: string; clientUrl: string }>;
  /** Starts the extra member after `member add` (initialCluster as `member add` printed it). */
  startExtra(initialCluster: string): Promise<void>;
  stopExtra(): Promise<void>;
  destroy(): Promise<void>;
}

export async function startEtcd(): Promise<SystemUnderTest> {
  const cluster = await EtcdCluster.start([...NAMES]);
  let extra: { peerUrl: string; clientUrl: string } | undefined;
  const extraUrls = async () => {
    if (extra === undefined) {
      const [client, peer] = await freePorts(2);
      extra = { clientUrl: `http://127.0.0.1:${client}`, peerUrl: `http://127.0.0.1:${peer}` };
    }
    return extra;
  };
  return {
    label: "etcd",
    endpoints: cluster.endpoints,
    extraUrls,
    async startExtra(initialCluster) {
      const urls = await extraUrls();
      await cluster.startExtra(EXTRA, initialCluster, urls.peerUrl, urls.clientUrl);
    },
    stopExtra: () => cluster.kill(EXTRA),
    destroy: () => cluster.destroy(),
  };
}

export async function startQmesh(): Promise<SystemUnderTest & { cluster: TestCluster }> {
  const cluster = new TestCluster();
  try {
    await cluster.define([...NAMES, EXTRA]);
    await Promise.all(NAMES.map((name) => cluster.start(name, NAMES)));
    await cluster.waitForLeader(NAMES);
  } catch (error) {
    await cluster.destroy();
    throw error;
  }
  return {
    label: "qmesh",
    cluster,
    endpoints: NAMES.map((name) => cluster.spec(name).clientUrl),
    extraUrls: async () => cluster.spec(EXTRA),
    startExtra: () => cluster.start(EXTRA, [...NAMES, EXTRA], "existing"),
    stopExtra: () => cluster.kill9(EXTRA),
    destroy: () => cluster.destroy(),
  };
}
