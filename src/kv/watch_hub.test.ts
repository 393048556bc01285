import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeCommand } from "./command.ts";
import { ALL, b, del, prefixEnd, put, s, TestStore, txn } from "./test_util.ts";
import type { WatchEvent } from "./types.ts";
import type { WatchBatch, WatchRequest } from "./watch_hub.ts";

function collect(t: TestStore, req: Partial<WatchRequest>) {
  const batches: WatchBatch[] = [];
  const w = t.store.watches.watch(
    { key: Uint8Array.of(0), rangeEnd: ALL, startRevision: 0, prevKv: false, filters: {}, ...req },
    (x) => batches.push(x),
  );
  const events = (): WatchEvent[] => batches.flatMap((x) => ("events" in x ? x.events : []));
  const show = () => events().map((e) => `${e.type}:${s(e.kv.key)}@${e.kv.modRevision}`);
  return { batches, w, events, show };
}

test("from now: live events, one batch per txn, prefix and filters, prevKv", async () => {
  const t = TestStore.create();
  t.run(put("a/1", "old"));
  const all = collect(t, {});
  const prefix = collect(t, { key: b("a/"), rangeEnd: prefixEnd("a/"), prevKv: true });
  const noPut = collect(t, { filters: { noPut: true } });
  const noDel = collect(t, { filters: { noDelete: true } });
  const single = collect(t, { key: b("b"), rangeEnd: b("") });
  t.run(put("a/1", "new")); // 3
  t.run(txn([], [put("b", "1"), put("a/2", "1")])); // 4
  t.run(del("a/", "a0")); // 5
  assert.deepEqual(all.show(), [
    "put:a/1@3",
    "put:b@4",
    "put:a/2@4",
    "delete:a/1@5",
    "delete:a/2@5",
  ]);
  assert.deepEqual(
    all.batches.map((x) => ("events" in x ? [x.revision, x.events.length] : x)),
    [
      [3, 1],
      [4, 2],
      [5, 2],
    ],
  );
  assert.deepEqual(prefix.show(), ["put:a/1@3", "put:a/2@4", "delete:a/1@5", "delete:a/2@5"]);
  assert.equal(s(prefix.events()[0]!.prevKv!.value), "old");
  assert.equal(all.events()[0]!.prevKv, undefined, "prevKv only when asked");
  assert.deepEqual(noPut.show(), ["delete:a/1@5", "delete:a/2@5"]);
  assert.deepEqual(noDel.show(), ["put:a/1@3", "put:b@4", "put:a/2@4"]);
  assert.deepEqual(single.show(), ["put:b@4"]);
  all.w.cancel();
  t.run(put("z", "1"));
  assert.equal(all.events().length, 5, "canceled watchers get nothing");
  await t.close();
});

test("from a past revision: replay then live, no gap and no duplicate, writes during replay", async () => {
  const t = TestStore.create();
  const N = 3000; // several catch-up chunks
  const items = [];
  for (let i = 0; i < N; i++) {
    items.push({ index: t.next++, command: encodeCommand(put(`k${i % 50}`, `v${i}`)) });
  }
  t.store.apply(items);
  const w = collect(t, { startRevision: 2, prevKv: true });
  const w2 = collect(t, { startRevision: 1500, key: b("k7"), rangeEnd: b("") });
  // Writes land while the watchers are still replaying.
  for (let round = 0; round < 20; round++) {
    t.run(put(`live${round}`, "x"));
    t.run(del(`k${round}`));
    await new Promise((r) => setImmediate(r));
  }
  await t.store.watches.whenSynced();
  t.run(put("last", "x"));
  const revs = w.events().map((e) => e.kv.modRevision);
  const expected = Array.from({ length: t.store.revision - 1 }, (_, i) => i + 2);
  assert.deepEqual(revs, expected, "every revision exactly once, in order");
  const e2 = w.events()[100]!; // k0 written twice already
  assert.equal(s(e2.prevKv!.value), `v${100 - 50}`);
  assert.deepEqual([...new Set(w2.events().map((e) => s(e.kv.key)))], ["k7"]);
  assert.deepEqual(
    w2.events().map((e) => e.kv.modRevision),
    [
      ...Array.from({ length: N / 50 }, (_, i) => 2 + 7 + 50 * i).filter((r) => r >= 1500),
      N + 1 + 16,
    ],
  );
  for (const x of w.batches) assert.ok("events" in x && x.events.length > 0, JSON.stringify(x));
  await t.close();
});

test("compacted start revision cancels at once; future start waits", async () => {
  const t = TestStore.create();
  for (let i = 0; i < 5; i++) t.run(put("a", String(i)));
  t.run({ op: "compact", revision: 4 });
  const c = collect(t, { startRevision: 4 });
  assert.deepEqual(c.batches, [{ canceled: true, reason: "compacted", compactRevision: 4 }]);
  const okw = collect(t, { startRevision: 5 });
  const future = collect(t, { startRevision: 8 });
  await t.store.watches.whenSynced();
  t.run(put("a", "x")); // 7
  t.run(put("a", "y")); // 8
  assert.deepEqual(okw.show(), ["put:a@5", "put:a@6", "put:a@7", "put:a@8"]);
  assert.deepEqual(future.show(), ["put:a@8"]);
  await t.close();
});

test("progress notify goes to synced watchers that asked", async () => {
  const t = TestStore.create();
  t.run(put("a", "1"));
  const p = collect(t, { progressNotify: true });
  const q = collect(t, {});
  t.store.watches.progress();
  assert.deepEqual(p.batches, [{ events: [], revision: 2 }]);
  assert.deepEqual(q.batches, []);
  await t.close();
});

test("closing the store cancels watchers", async () => {
  const t = TestStore.create();
  const w = collect(t, {});
  await t.close();
  assert.deepEqual(w.batches, [{ canceled: true, reason: "store closed" }]);
});
