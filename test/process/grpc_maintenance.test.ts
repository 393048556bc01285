// The etcd Maintenance and Health services over gRPC, driven by etcdctl 3.4: endpoint status,
// health and hashkv across members, snapshot save, move-leader.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { connectEtcd } from "../../src/api/grpc/client.ts";
import { eventually, TestCluster } from "./harness.ts";

const run = promisify(execFile);
const NAMES = ["n1", "n2", "n3"];
const cluster = new TestCluster();

async function etcdctl(args: string[], names = NAMES) {
  // host:port, not http://host:port: for per-endpoint commands etcdctl 3.4 then sends
  // ":authority: http://host:port", which Node's HTTP/2 server resets as a protocol error.
  const endpoints = names.map((n) => cluster.spec(n).clientUrl.replace("http://", "")).join(",");
  const { stdout, stderr } = await run("etcdctl", [`--endpoints=${endpoints}`, ...args], {
    env: { ...process.env, ETCDCTL_API: "3" },
    timeout: 20_000,
  });
  // `endpoint health` reports on stderr.
  return args[1] === "health" ? stdout + stderr : stdout;
}

interface StatusJson {
  Endpoint: string;
  Status: {
    header: { member_id: number; revision: number };
    version: string;
    leader: number;
    dbSize: number;
    raftAppliedIndex: number;
  };
}

before(async () => {
  await cluster.startAll(NAMES);
  for (let i = 0; i < 20; i++) await cluster.put("n1", `k${i}`, `v${i}`);
});
after(() => cluster.destroy());

test("endpoint status, health and hashkv agree across members", { timeout: 60_000 }, async () => {
  const statuses = JSON.parse(await etcdctl(["endpoint", "status", "-w", "json"])) as StatusJson[];
  assert.equal(statuses.length, 3);
  assert.equal(new Set(statuses.map((s) => s.Status.leader)).size, 1, "one leader");
  for (const s of statuses) {
    assert.match(s.Status.version, /^3\.4\./);
    assert.ok(s.Status.dbSize > 0);
  }
  const health = await etcdctl(["endpoint", "health"]);
  assert.equal(health.match(/is healthy/g)?.length, 3, health);
  await eventually(async () => {
    const hashes = JSON.parse(await etcdctl(["endpoint", "hashkv", "-w", "json"])) as {
      HashKV: { hash: number; compact_revision?: number };
    }[];
    assert.equal(hashes.length, 3);
    assert.equal(new Set(hashes.map((h) => h.HashKV.hash)).size, 1, JSON.stringify(hashes));
  });
  const client = connectEtcd(cluster.spec("n2").clientUrl);
  try {
    const check = await client.call("Health", "Check", { service: "" });
    assert.equal(check.status, 1);
    const unknown = await client.call("Health", "Check", { service: "no.such.Service" });
    assert.equal(unknown.status, 3);
    await assert.rejects(client.call("Maintenance", "Downgrade", { action: 0 }), /downgrade/);
    const alarms = await client.call("Maintenance", "Alarm", { action: 0 });
    assert.deepEqual(alarms.alarms, []);
  } finally {
    client.close();
  }
});

test("snapshot save writes the LMDB copy and etcd's SHA-256 trailer", {
  timeout: 60_000,
}, async () => {
  const file = join(cluster.dir, "snap.db");
  const out = await etcdctl(["snapshot", "save", file], ["n2"]);
  assert.match(out, /Snapshot saved/);
  const bytes = readFileSync(file);
  const data = bytes.subarray(0, bytes.length - 32);
  const trailer = bytes.subarray(bytes.length - 32);
  assert.deepEqual(trailer, createHash("sha256").update(data).digest());
  assert.ok(data.length > 4096);
});

test("move-leader hands leadership to the named member", { timeout: 60_000 }, async () => {
  const leader = await cluster.waitForLeader(NAMES);
  const statuses = JSON.parse(await etcdctl(["endpoint", "status", "-w", "json"])) as StatusJson[];
  const target = statuses.find(
    (s) => s.Status.header.member_id !== s.Status.leader && !s.Endpoint.includes("none"),
  )!;
  const targetHex = BigInt(target.Status.header.member_id).toString(16);
  // etcdctl finds the leader among the endpoints and sends it there.
  const out = await etcdctl(["move-leader", targetHex]);
  assert.match(out, /Leadership transferred/);
  const now = await cluster.waitForLeader(NAMES);
  assert.notEqual(now, leader);
  // A follower refuses, as etcd: the request must reach the leader.
  const follower = NAMES.find((n) => n !== now)!;
  const client = connectEtcd(cluster.spec(follower).clientUrl);
  try {
    await assert.rejects(
      client.call("Maintenance", "MoveLeader", { targetID: String(target.Status.leader) }),
      { details: "etcdserver: not leader" },
    );
  } finally {
    client.close();
  }
});
