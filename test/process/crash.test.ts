// Crash recovery with real processes: kill -9 the leader, restart it, catch up by log and by
// snapshot, kill everything and restart. Every acknowledged write must survive all of it.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { b64, eventually, sleep, TestCluster } from "./harness.ts";

const NAMES = ["n1", "n2", "n3"];

async function startAll(cluster: TestCluster, names: readonly string[]): Promise<void> {
  await Promise.all(names.map((name) => cluster.start(name, NAMES)));
}

/** Writes keys `${prefix}${i}` through `member` with some concurrency; returns the acknowledged. */
async function writeKeys(
  cluster: TestCluster,
  member: string,
  prefix: string,
  count: number,
  concurrency = 8,
) {
  const acknowledged: string[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < count) {
        const key = `${prefix}${String(next++).padStart(5, "0")}`;
        await cluster.put(member, key, `value-of-${key}`);
        acknowledged.push(key);
      }
    }),
  );
  return acknowledged;
}

describe("a 3-member cluster of real processes", { timeout: 120_000 }, () => {
  const cluster = new TestCluster();
  after(() => cluster.destroy());

  it("keeps every acknowledged write through kill -9 of the leader, and the killed member catches up", async () => {
    await cluster.define(NAMES);
    await startAll(cluster, NAMES);
    const leader = await cluster.waitForLeader(NAMES);
    const acknowledged = await writeKeys(cluster, leader, "a/", 200);
    await cluster.kill9(leader);
    const survivors = NAMES.filter((name) => name !== leader);
    const newLeader = await cluster.waitForLeader(survivors);
    assert.notEqual(newLeader, leader);
    assert.equal(await cluster.count(newLeader, "a/"), 200);
    for (const key of acknowledged.slice(0, 20)) {
      assert.equal(await cluster.get(survivors[0]!, key), `value-of-${key}`);
    }
    const more = await writeKeys(cluster, newLeader, "b/", 100);
    assert.equal(more.length, 100);
    await cluster.start(leader, NAMES);
    await eventually(async () => assert.equal(await cluster.count(leader, "b/", true), 100));
    assert.equal(await cluster.count(leader, "a/", true), 200);
    assert.equal(await cluster.get(leader, "b/00042", true), "value-of-b/00042");
    // Apply is deterministic: once every member has applied the same index, the whole MVCC
    // state (history, revisions, leases) hashes the same everywhere.
    await eventually(async () => {
      const hashes = await Promise.all(
        NAMES.map((name) => cluster.call(name, "/v3/maintenance/hashkv", {})),
      );
      const applied = new Set(hashes.map((h) => h.body.raftAppliedIndex));
      assert.equal(applied.size, 1, `applied indexes differ: ${[...applied].join(", ")}`);
      assert.equal(new Set(hashes.map((h) => h.body.hash)).size, 1, "members' states differ");
    });
  });

  it("loses nothing acknowledged when every member is killed mid-write and restarted", async () => {
    const leader = await cluster.waitForLeader(NAMES);
    const acknowledged: string[] = [];
    let stop = false;
    const writers = Array.from({ length: 8 }, async (_, w) => {
      for (let i = 0; !stop; i++) {
        const key = `c/${w}/${i}`;
        try {
          await cluster.put(leader, key, `v${i}`);
          acknowledged.push(key);
        } catch {
          return;
        }
      }
    });
    await sleep(1_500);
    await Promise.all(NAMES.map((name) => cluster.kill9(name)));
    stop = true;
    await Promise.all(writers);
    assert.ok(acknowledged.length > 50, `only ${acknowledged.length} writes before the crash`);
    await startAll(cluster, NAMES);
    const restartedLeader = await cluster.waitForLeader(NAMES);
    const { body } = await cluster.call(restartedLeader, "/v3/kv/range", {
      key: b64("c/"),
      range_end: b64("c0"),
      keys_only: true,
    });
    const present = new Set(
      ((body.kvs as { key: string }[] | undefined) ?? []).map((kv) =>
        Buffer.from(kv.key, "base64").toString(),
      ),
    );
    const lost = acknowledged.filter((key) => !present.has(key));
    assert.deepEqual(lost, [], `${lost.length} acknowledged writes lost`);
  });
});

describe("a member that fell behind a compaction", { timeout: 120_000 }, () => {
  const cluster = new TestCluster(["--snapshot-count", "100", "--snapshot-catch-up-entries", "20"]);
  after(() => cluster.destroy());

  it("catches up by snapshot and serves the same data", async () => {
    await cluster.define(NAMES);
    await startAll(cluster, NAMES);
    const leader = await cluster.waitForLeader(NAMES);
    const follower = NAMES.find((name) => name !== leader)!;
    await cluster.kill9(follower);
    await writeKeys(cluster, leader, "s/", 500);
    assert.ok(
      (await cluster.metric(leader, "qmesh_snapshots_created_total")) >= 1,
      "the leader never compacted",
    );
    await cluster.start(follower, NAMES);
    await eventually(async () => assert.equal(await cluster.count(follower, "s/", true), 500));
    // The restored data is readable a moment before the install is counted (the store syncs).
    await eventually(async () =>
      assert.equal(await cluster.metric(follower, "qmesh_snapshots_installed_total"), 1),
    );
    assert.equal(await cluster.get(follower, "s/00499", true), "value-of-s/00499");
    // It keeps up by log afterwards, and survives its own restart from the installed snapshot.
    await writeKeys(cluster, leader, "t/", 50);
    await cluster.kill9(follower);
    await cluster.start(follower, NAMES);
    await eventually(async () => assert.equal(await cluster.count(follower, "t/", true), 50));
    assert.equal(await cluster.count(follower, "s/", true), 500);
  });
});
