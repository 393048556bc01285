// Leases and watches through real processes: a key attached to a lease that is not kept alive
// is deleted on every member by the leader's revoke, and a watcher sees the put and the delete,
// in order, on a follower; a watch from a compacted revision is cancelled with a clear reason.
import assert from "node:assert/strict";
import { after, describe, it } from "node:test";
import { b64, eventually, type Json, sleep, TestCluster, unb64 } from "./harness.ts";

const NAMES = ["n1", "n2", "n3"];

/** Collects a watch stream's results from a member's JSON API until stopped. */
function watchStream(url: string, create: Json) {
  const results: Json[] = [];
  const controller = new AbortController();
  const done = (async () => {
    const response = await fetch(`${url}/v3/watch`, {
      method: "POST",
      body: JSON.stringify({ create_request: create }),
      signal: controller.signal,
    });
    const decoder = new TextDecoder();
    let pending = "";
    for await (const chunk of response.body!) {
      pending += decoder.decode(chunk as Uint8Array, { stream: true });
      for (let newline = pending.indexOf("\n"); newline >= 0; newline = pending.indexOf("\n")) {
        results.push((JSON.parse(pending.slice(0, newline)) as { result: Json }).result);
        pending = pending.slice(newline + 1);
      }
    }
  })().catch((error: Error) => results.push({ fetchError: error.message }));
  return { results, stop: () => controller.abort(), done };
}

describe("leases and watches on a running cluster", { timeout: 90_000 }, () => {
  const cluster = new TestCluster();
  after(() => cluster.destroy());

  it("expires an unrenewed lease everywhere and streams the put and the delete", async () => {
    await cluster.define(NAMES);
    await Promise.all(NAMES.map((name) => cluster.start(name, NAMES)));
    const leader = await cluster.waitForLeader(NAMES);
    const follower = NAMES.find((name) => name !== leader)!;
    const watch = watchStream(cluster.spec(follower).clientUrl, {
      key: b64("lease/"),
      range_end: b64("lease0"),
      prev_kv: true,
    });
    await eventually(async () =>
      assert.ok(
        watch.results.some((r) => r.created === true),
        JSON.stringify(watch.results),
      ),
    );

    const granted = await cluster.call(follower, "/v3/lease/grant", { TTL: 2 });
    assert.equal(granted.status, 200, JSON.stringify(granted.body));
    const shortLease = String(granted.body.ID);
    const kept = await cluster.call(leader, "/v3/lease/grant", { TTL: 2 });
    const keptLease = String(kept.body.ID);
    await cluster.call(leader, "/v3/kv/put", {
      key: b64("lease/short"),
      value: b64("a"),
      lease: shortLease,
    });
    await cluster.call(leader, "/v3/kv/put", {
      key: b64("lease/kept"),
      value: b64("b"),
      lease: keptLease,
    });
    // Keep one alive, through a follower (forwarded to the leader), past the other's expiry.
    const started = Date.now();
    while (Date.now() - started < 4_500) {
      const alive = await cluster.call(follower, "/v3/lease/keepalive", { ID: keptLease });
      assert.equal(alive.status, 200, JSON.stringify(alive.body));
      await sleep(500);
    }
    for (const name of NAMES) {
      await eventually(async () =>
        assert.equal(await cluster.get(name, "lease/short", true), null),
      );
      assert.equal(await cluster.get(name, "lease/kept", true), "b");
    }
    const ttl = await cluster.call(leader, "/v3/lease/timetolive", { ID: shortLease });
    assert.equal(ttl.body.TTL, "-1");

    await eventually(async () => {
      const events = watch.results.flatMap((r) => (r.events as Json[] | undefined) ?? []);
      const seen = events.map((e) => `${e.type ?? "PUT"} ${unb64((e.kv as Json).key)}`);
      assert.deepEqual(seen, ["PUT lease/short", "PUT lease/kept", "DELETE lease/short"]);
      const deleted = events[2]!;
      assert.equal(unb64((deleted.prev_kv as Json).value), "a");
    });
    watch.stop();
    await watch.done;
  });

  it("replays history from a past revision, and cancels a watch from a compacted one", async () => {
    const leader = await cluster.waitForLeader(NAMES);
    const first = await cluster.put(leader, "hist/a", "1");
    const firstRevision = Number((first.header as Json).revision);
    await cluster.put(leader, "hist/a", "2");
    await cluster.put(leader, "hist/b", "3");
    const replay = watchStream(cluster.spec(leader).clientUrl, {
      key: b64("hist/"),
      range_end: b64("hist0"),
      start_revision: firstRevision,
    });
    await eventually(async () => {
      const values = replay.results
        .flatMap((r) => (r.events as Json[] | undefined) ?? [])
        .map((e) => unb64((e.kv as Json).value));
      assert.deepEqual(values, ["1", "2", "3"]);
    });
    replay.stop();
    const compacted = await cluster.call(leader, "/v3/kv/compaction", {
      revision: firstRevision + 1,
    });
    assert.equal(compacted.status, 200, JSON.stringify(compacted.body));
    const gone = watchStream(cluster.spec(leader).clientUrl, {
      key: b64("hist/a"),
      start_revision: firstRevision,
    });
    await eventually(async () => {
      const cancel = gone.results.find((r) => r.canceled === true);
      assert.ok(cancel !== undefined, JSON.stringify(gone.results));
      assert.equal(cancel.compact_revision, String(firstRevision + 1));
    });
    await gone.done;
    const old = await cluster.call(leader, "/v3/kv/range", {
      key: b64("hist/a"),
      revision: firstRevision,
    });
    assert.equal(old.status, 400);
    assert.match(String(old.body.message), /required revision has been compacted/);
  });

  it("moves leadership on request, and the new leader extends live leases instead of expiring them", async () => {
    const leader = await cluster.waitForLeader(NAMES);
    const target = NAMES.find((name) => name !== leader)!;
    const granted = await cluster.call(leader, "/v3/lease/grant", { TTL: 2 });
    const lease = String(granted.body.ID);
    await cluster.call(leader, "/v3/kv/put", { key: b64("transfer/k"), value: b64("v"), lease });
    await sleep(1_500);
    const targetId = ((await cluster.status(target)).header as Json).member_id;
    const moved = await cluster.call(leader, "/v3/maintenance/transfer-leadership", {
      targetID: targetId,
    });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    assert.equal(await cluster.waitForLeader([target]), target);
    // 2.5 s after the grant the old leader would have expired it; the new one restarted its clock.
    await sleep(1_000);
    assert.equal(await cluster.get(target, "transfer/k"), "v");
    const ttl = await cluster.call(target, "/v3/lease/timetolive", { ID: lease });
    assert.ok(Number(ttl.body.TTL) > 0, JSON.stringify(ttl.body));
    // Not kept alive, it does expire in the end.
    await eventually(
      async () => assert.equal(await cluster.get(target, "transfer/k"), null),
      10_000,
    );
  });
});
