import assert from "node:assert/strict";
import { test } from "node:test";
import { LeaseNotFoundError, LeaseNotPrimaryError } from "./errors.ts";
import { ALL, b, ok, put, s, TestStore } from "./test_util.ts";
import type { WatchBatch } from "./watch_hub.ts";

test("grant, attach, revoke deletes attached keys with watch delete events", async () => {
  const t = TestStore.create();
  assert.deepEqual(ok(t.run({ op: "leaseGrant", id: 7, ttlSeconds: 10 })).response, {
    op: "leaseGrant",
    id: 7,
    ttl: 10,
  });
  assert.equal(t.store.revision, 1, "grant creates no revision");
  assert.ok("error" in t.run({ op: "leaseGrant", id: 7, ttlSeconds: 10 }));
  t.run(put("a", "1", { lease: 7 }));
  t.run(put("b", "1", { lease: 7 }));
  t.run(put("c", "1", { lease: 7 }));
  t.run(put("c", "2")); // re-put without lease detaches
  t.run(put("keep", "1"));
  assert.deepEqual(t.store.leases.timeToLive(7, 0)?.keys.map(s), ["a", "b"]);
  assert.deepEqual(t.store.leases.list(), [7]);
  const batches: WatchBatch[] = [];
  t.store.watches.watch(
    { key: Uint8Array.of(0), rangeEnd: ALL, startRevision: 0, prevKv: true, filters: {} },
    (x) => batches.push(x),
  );
  const r = ok(t.run({ op: "leaseRevoke", id: 7 }));
  assert.equal(r.revision, 7, "all deletions in one revision");
  assert.deepEqual(
    t.store.range({ key: Uint8Array.of(0), rangeEnd: ALL }).kvs.map((kv) => s(kv.key)),
    ["c", "keep"],
  );
  assert.equal(batches.length, 1);
  const only = batches[0]!;
  assert.ok("events" in only);
  assert.deepEqual(
    only.events.map((e) => [e.type, s(e.kv.key), e.kv.modRevision, e.prevKv?.lease]),
    [
      ["delete", "a", 7, 7],
      ["delete", "b", 7, 7],
    ],
  );
  assert.deepEqual(t.store.leases.list(), []);
  assert.equal(t.store.leases.timeToLive(7, 0), null);
  await t.close();
});

test("expiry: only the leader decides, only a revoke command deletes, promote extends", async () => {
  const t = TestStore.create();
  const L = t.store.leases;
  t.run({ op: "leaseGrant", id: 1, ttlSeconds: 10 }, 1000);
  t.run(put("k", "v", { lease: 1 }));
  assert.deepEqual(L.expired(1_000_000, 10), [], "follower: no expiry decisions");
  assert.throws(() => L.keepAlive(1, 0), LeaseNotPrimaryError);
  L.promote(50_000, 5_000); // expiry 50s + 10s + 5s
  assert.deepEqual(L.expired(64_999, 10), []);
  assert.equal(L.timeToLive(1, 55_000)?.ttl, 10);
  assert.deepEqual(L.expired(65_000, 10), [1]);
  // Expired but not revoked: the key is still there until the revoke is applied.
  assert.equal(t.store.range({ key: b("k") }).count, 1);
  // ...and it cannot be renewed any more: its revoke is on the way (etcd answers not found).
  assert.throws(() => L.keepAlive(1, 70_000), LeaseNotFoundError);
  assert.deepEqual(L.expired(79_999, 10), [1]);
  assert.throws(() => L.keepAlive(99, 0), LeaseNotFoundError);
  // A grant applied on the leader expires at now + ttl.
  t.run({ op: "leaseGrant", id: 2, ttlSeconds: 1 }, 100_000);
  t.run({ op: "leaseGrant", id: 3, ttlSeconds: 1 }, 100_000);
  assert.deepEqual(L.expired(101_000, 2), [1, 2], "bounded by max, soonest first");
  assert.deepEqual(L.expired(101_000, 10), [1, 2, 3]);
  t.run({ op: "leaseRevoke", id: 1 });
  assert.equal(t.store.range({ key: b("k") }).count, 0);
  assert.deepEqual(L.expired(200_000, 10), [2, 3]);
  L.demote();
  assert.deepEqual(L.expired(200_000, 10), []);
  await t.close();
});
