// The etcd Cluster service over gRPC, driven by etcdctl 3.4 as an operator would: list, add a
// learner by peer URL only, start it with the environment etcdctl prints, promote, remove.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { connectEtcd } from "../../src/api/grpc/client.ts";
import { eventually, freePorts, TestCluster } from "./harness.ts";

const run = promisify(execFile);
const FIRST = ["n1", "n2", "n3"];
const cluster = new TestCluster();

async function etcdctl(args: string[], names = FIRST) {
  const endpoints = names.map((n) => cluster.spec(n).clientUrl).join(",");
  const { stdout } = await run("etcdctl", [`--endpoints=${endpoints}`, ...args], {
    env: { ...process.env, ETCDCTL_API: "3" },
    timeout: 20_000,
  });
  return stdout;
}

before(async () => {
  await cluster.define([...FIRST, "n4"]);
  await Promise.all(FIRST.map((name) => cluster.start(name, FIRST)));
  await cluster.waitForLeader(FIRST);
});
after(() => cluster.destroy());

test("member list names every member with its URLs", { timeout: 30_000 }, async () => {
  const out = await eventually(async () => {
    const text = await etcdctl(["member", "list", "-w", "json"]);
    const list = JSON.parse(text) as { members: { name: string; clientURLs?: string[] }[] };
    assert.ok(
      list.members.every((m) => (m.clientURLs ?? []).length === 1),
      text,
    );
    return list;
  });
  assert.deepEqual(out.members.map((m) => m.name).sort(), FIRST);
});

test("bad member requests get etcd's errors", { timeout: 30_000 }, async () => {
  const client = connectEtcd(cluster.spec("n1").clientUrl);
  try {
    await assert.rejects(client.call("Cluster", "MemberRemove", { ID: "12345" }), {
      details: "etcdserver: member not found",
    });
    await assert.rejects(client.call("Cluster", "MemberAdd", { peerURLs: ["not a url"] }), {
      details: "etcdserver: given member URLs are invalid",
    });
    await assert.rejects(
      client.call("Cluster", "MemberAdd", { peerURLs: [cluster.spec("n2").peerUrl] }),
      { details: "etcdserver: Peer URLs already exists" },
    );
    const { members } = await client.call("Cluster", "MemberList", {});
    await assert.rejects(client.call("Cluster", "MemberPromote", { ID: members[0].ID }), {
      details: "etcdserver: can only promote a learner member",
    });
  } finally {
    client.close();
  }
});

test("etcdctl member add --learner, start, promote, remove", { timeout: 120_000 }, async () => {
  const n4 = cluster.spec("n4");
  const added = await etcdctl(["member", "add", "n4", `--peer-urls=${n4.peerUrl}`, "--learner"]);
  const env = Object.fromEntries(
    [...added.matchAll(/^(ETCD_\w+)="(.*)"$/gm)].map((m) => [m[1]!, m[2]!]),
  );
  assert.equal(env.ETCD_NAME, "n4");
  assert.equal(env.ETCD_INITIAL_CLUSTER_STATE, "existing");
  // Start n4 with exactly the initial cluster etcdctl printed.
  const initial = env.ETCD_INITIAL_CLUSTER!.split(",").map((part) => part.split("=")[0]!);
  assert.deepEqual([...initial].sort(), [...FIRST, "n4"]);
  await cluster.start("n4", initial, "existing");
  const id = await eventually(async () => {
    const list = JSON.parse(await etcdctl(["member", "list", "-w", "json"])) as {
      members: { ID: number; name: string; isLearner?: boolean }[];
    };
    const member = list.members.find((m) => m.name === "n4");
    assert.ok(member !== undefined, "n4 published its name");
    assert.equal(member.isLearner, true);
    return BigInt(member.ID).toString(16);
  }, 30_000);
  await eventually(() => etcdctl(["member", "promote", id]), 30_000);
  const promoted = await etcdctl(["member", "list"]);
  assert.match(promoted, /n4/);
  assert.doesNotMatch(promoted, /true/, "no learner left");
  await cluster.put("n1", "after-promote", "v");
  await eventually(async () => assert.equal(await cluster.get("n4", "after-promote", true), "v"));

  await etcdctl(["member", "remove", id]);
  await cluster.kill9("n4");
  const left = await etcdctl(["member", "list"]);
  assert.doesNotMatch(left, /n4/);
  // The removed member's peer URL is its id: adding it again is refused, not reused.
  await assert.rejects(
    etcdctl(["member", "add", "n4", `--peer-urls=${n4.peerUrl}`]),
    /removed member/,
  );
});

test("etcdctl member update moves a member's peer URL; it restarts there with its data", {
  timeout: 120_000,
}, async () => {
  const list = JSON.parse(await etcdctl(["member", "list", "-w", "json"])) as {
    members: { ID: number; name: string }[];
  };
  const n3 = list.members.find((m) => m.name === "n3")!;
  const id = BigInt(n3.ID).toString(16);
  const [port] = await freePorts(1);
  const moved = `https://127.0.0.1:${port}`;
  await cluster.put("n1", "before-move", "v");
  await etcdctl(["member", "update", id, `--peer-urls=${moved}`], ["n1", "n2"]);
  await cluster.kill9("n3");
  cluster.specs.set("n3", { ...cluster.spec("n3"), peerUrl: moved });
  await cluster.start("n3", FIRST);
  await cluster.put("n1", "after-move", "v");
  await eventually(async () => assert.equal(await cluster.get("n3", "after-move", true), "v"));
  assert.equal(await cluster.get("n3", "before-move", true), "v");
  const after = JSON.parse(await etcdctl(["member", "list", "-w", "json"])) as {
    members: { ID: number; name: string; peerURLs: string[] }[];
  };
  const entry = after.members.find((m) => m.name === "n3")!;
  assert.equal(BigInt(entry.ID).toString(16), id, "same id after the move");
  assert.deepEqual(entry.peerURLs, [moved]);
});
