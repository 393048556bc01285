// Growing a running cluster from 3 to 5 members and shrinking it back while a writer runs:
// learners catch up before they are promoted, and no acknowledged write is lost.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { b64, eventually, type Json, TestCluster } from "./harness.ts";

const FIRST = ["n1", "n2", "n3"];

describe("membership changes under load", { timeout: 150_000 }, () => {
  const cluster = new TestCluster();
  after(() => cluster.destroy());

  it("grows 3 → 5 and shrinks back with no acknowledged write lost", async () => {
    await cluster.define(["n1", "n2", "n3", "n4", "n5"]);
    await Promise.all(FIRST.map((name) => cluster.start(name, FIRST)));
    let current = [...FIRST];
    const acknowledged: string[] = [];
    let stop = false;
    let attempts = 0;
    const writer = (async () => {
      for (let i = 0; !stop; i++) {
        const via = current[i % current.length]!;
        const key = `w/${String(i).padStart(6, "0")}`;
        attempts++;
        try {
          await cluster.put(via, key, `v${i}`);
          acknowledged.push(key);
        } catch {
          // a member being removed or restarted: the write may or may not have happened
        }
      }
    })();
    const leaderCall = async (path: string, body: Json) => {
      const leader = await cluster.waitForLeader(current);
      const result = await cluster.call(leader, path, body);
      assert.equal(result.status, 200, `${path}: ${JSON.stringify(result.body)}`);
      return result.body;
    };
    const memberId = async (name: string) => {
      const body = await leaderCall("/v3/cluster/member/list", {});
      return String((body.members as Json[]).find((m) => m.name === name)?.ID);
    };

    for (const name of ["n4", "n5"]) {
      await leaderCall("/v3/cluster/member/add", {
        name,
        peerURLs: [cluster.spec(name).peerUrl],
        isLearner: true,
      });
      await cluster.start(name, [...current, name], "existing");
      // A learner is promoted only once it has caught up.
      await eventually(async () => {
        const leader = await cluster.waitForLeader(current);
        const [mine, theirs] = await Promise.all([cluster.status(name), cluster.status(leader)]);
        assert.ok(Number(mine.raftAppliedIndex) >= Number(theirs.raftIndex) - 10);
      }, 30_000);
      const id = await memberId(name);
      await eventually(() => leaderCall("/v3/cluster/member/promote", { ID: id }), 20_000);
      current = [...current, name];
    }
    const grown = await leaderCall("/v3/cluster/member/list", {});
    assert.deepEqual((grown.members as Json[]).map((m) => m.name).sort(), [
      "n1",
      "n2",
      "n3",
      "n4",
      "n5",
    ]);
    assert.ok((grown.members as Json[]).every((m) => m.isLearner !== true));

    for (const name of ["n5", "n4"]) {
      const id = await memberId(name);
      current = current.filter((n) => n !== name);
      await eventually(() => leaderCall("/v3/cluster/member/remove", { ID: id }), 20_000);
      await cluster.kill9(name);
    }
    stop = true;
    await writer;
    assert.ok(
      acknowledged.length > 100,
      `only ${acknowledged.length} of ${attempts} writes acknowledged`,
    );
    const shrunk = await leaderCall("/v3/cluster/member/list", {});
    assert.deepEqual((shrunk.members as Json[]).map((m) => m.name).sort(), FIRST);
    const leader = await cluster.waitForLeader(FIRST);
    const { body } = await cluster.call(leader, "/v3/kv/range", {
      key: b64("w/"),
      range_end: b64("w0"),
      keys_only: true,
    });
    const present = new Set(
      ((body.kvs as Json[] | undefined) ?? []).map((kv) =>
        Buffer.from(String(kv.key), "base64").toString(),
      ),
    );
    const lost = acknowledged.filter((key) => !present.has(key));
    assert.deepEqual(lost, [], `${lost.length} acknowledged writes lost`);
    // The remaining members converge on the same data.
    for (const name of FIRST) {
      await eventually(async () =>
        assert.equal(await cluster.count(name, "w/", true), present.size),
      );
    }
  });
});
