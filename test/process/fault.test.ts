// The transport's fault hook, driven through real processes (--enable-fault-injection): an
// isolated leader is replaced, writes go on without it, and it catches up once healed. Without
// the flag the endpoint refuses.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { eventually, TestCluster } from "./harness.ts";

const NAMES = ["n1", "n2", "n3"];

describe("fault injection through the mesh", { timeout: 90_000 }, () => {
  const cluster = new TestCluster(["--enable-fault-injection", "true"]);
  after(() => cluster.destroy());

  it("isolates the leader: a new one is elected, writes continue, the old one catches up when healed", async () => {
    await cluster.define(NAMES);
    await Promise.all(NAMES.map((name) => cluster.start(name, NAMES)));
    const leader = await cluster.waitForLeader(NAMES);
    await cluster.put(leader, "before", "1");
    const others = NAMES.filter((name) => name !== leader);
    const isolated = await cluster.call(leader, "/qmesh/v1/fault", {
      blockedTo: others,
      blockedFrom: others,
    });
    assert.equal(isolated.status, 200, JSON.stringify(isolated.body));
    const successor = await cluster.waitForLeader(others);
    await cluster.put(successor, "during", "2");
    // The isolated member cannot serve a linearizable read or commit a write.
    const stale = await cluster.call(
      leader,
      "/v3/kv/range",
      { key: Buffer.from("during").toString("base64") },
      15_000,
    );
    assert.notEqual(stale.status, 200, JSON.stringify(stale.body));
    await cluster.call(leader, "/qmesh/v1/fault", { clear: true });
    await eventually(async () => assert.equal(await cluster.get(leader, "during", true), "2"));
    assert.equal(await cluster.get(leader, "before"), "1");
  });
});

describe("fault injection when not enabled", { timeout: 60_000 }, () => {
  const cluster = new TestCluster();
  after(() => cluster.destroy());

  it("is refused with the flag to use", async () => {
    await cluster.define(["n1"]);
    await cluster.start("n1", ["n1"]);
    const refused = await cluster.call("n1", "/qmesh/v1/fault", { lossRate: 1 });
    assert.equal(refused.status, 400);
    assert.match(String(refused.body.message), /--enable-fault-injection true/);
  });
});
