import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import fc from "fast-check";
import { encodeCommand } from "./command.ts";
import type { MvccStore } from "./mvcc_store.ts";
import { b, put, s, TestStore, tempDir } from "./test_util.ts";
import type { ApplyItem, Command, Compare } from "./types.ts";

/** A random workload of every command kind, including ones that fail. */
function workload(seed: number, n: number): Command[] {
  let x = seed >>> 0 || 1;
  const rnd = (m: number): number => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) % m;
  };
  const key = () => `k${rnd(30)}`;
  const out: Command[] = [];
  let rev = 1;
  for (let i = 0; i < n; i++) {
    const r = rnd(100);
    if (r < 45) out.push(put(key(), `v${i}`, { lease: rnd(4) === 0 ? 1 + rnd(5) : 0 }));
    else if (r < 55)
      out.push({
        op: "deleteRange",
        key: b(key()),
        rangeEnd: rnd(2) ? b("") : b(key()),
        prevKv: true,
      });
    else if (r < 70) {
      const c: Compare = {
        target: "version",
        result: rnd(2) ? "equal" : "greater",
        key: b(key()),
        rangeEnd: b(""),
        number: rnd(3),
      };
      out.push({
        op: "txn",
        compare: [c],
        success: [put(key(), "t"), { op: "range", key: b("k"), rangeEnd: b("l") }],
        failure: [{ op: "deleteRange", key: b(key()), rangeEnd: b(""), prevKv: false }],
      });
    } else if (r < 78) out.push({ op: "leaseGrant", id: 1 + rnd(5), ttlSeconds: 1 + rnd(100) });
    else if (r < 84) out.push({ op: "leaseRevoke", id: 1 + rnd(5) });
    else if (r < 88)
      out.push({ op: "compact", revision: Math.max(1, Math.floor(rev * 0.4) - rnd(20)) });
    else out.push(put(key(), "", { ignoreValue: true }));
    rev += 1; // an upper bound is enough: compacts past it just fail, deterministically
  }
  return out;
}

function items(cmds: Command[]): ApplyItem[] {
  return cmds.map((c, i) => ({ index: i + 1, command: encodeCommand(c) }));
}

function applyInBatches(store: MvccStore, all: ApplyItem[], sizes: () => number): void {
  for (let i = 0; i < all.length; ) {
    const n = sizes();
    store.apply(all.slice(i, i + n), 1000 * i);
    i += n;
  }
}

test("the same entries give byte-identical state on 3 stores, whatever the batching", async () => {
  const all = items(workload(42, 1500));
  const stores = [TestStore.create(), TestStore.create(), TestStore.create()];
  applyInBatches(stores[0]!.store, all, () => 1);
  let k = 0;
  applyInBatches(stores[1]!.store, all, () => 1 + (k++ % 97));
  applyInBatches(stores[2]!.store, all, () => all.length);
  // Replaying overlapping entries (a restart) changes nothing.
  stores[2]!.store.apply(all.slice(1000));
  stores[2]!.store.leases.promote(0, 0); // in-memory only: must not affect the hash
  const hashes = stores.map((t) => t.store.hashState());
  assert.equal(new Set(hashes).size, 1);
  assert.ok(stores[0]!.store.compactRevision > 0, "the workload compacted");
  assert.ok(stores[0]!.store.leases.list().length > 0);
  // Changing one entry changes the hash.
  const other = TestStore.create();
  applyInBatches(
    other.store,
    [...all.slice(0, -1), { index: all.length, command: encodeCommand(put("x", "y")) }],
    () => 500,
  );
  assert.notEqual(other.store.hashState(), hashes[0]);
  for (const t of [...stores, other]) await t.close();
});

test("property: any seed and batching agree", async () => {
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 2 ** 31 }),
      fc.integer({ min: 2, max: 50 }),
      async (seed, batch) => {
        const all = items(workload(seed, 200));
        const a = TestStore.create();
        const c = TestStore.create();
        applyInBatches(a.store, all, () => 1);
        applyInBatches(c.store, all, () => batch);
        const same = a.store.hashState() === c.store.hashState();
        await a.close();
        await c.close();
        return same;
      },
    ),
    { numRuns: 15 },
  );
});

test("backup and restore: same hash, applied index, watchers resync across the gap", async () => {
  const all = items(workload(7, 800));
  const src = TestStore.create();
  const dst = TestStore.create();
  applyInBatches(src.store, all, () => 64);
  // The follower is behind and has a watcher that must see the gap's events after restore.
  dst.store.apply(all.slice(0, 10));
  const seen: number[] = [];
  dst.store.watches.watch(
    { key: b("k"), rangeEnd: b("l"), startRevision: 0, prevKv: false, filters: {} },
    (x) => {
      if ("events" in x) for (const e of x.events) seen.push(e.kv.modRevision);
      else seen.push(-1);
    },
  );
  const { dir, cleanup } = tempDir();
  const file = join(dir, "snap.mdb");
  const idx = await src.store.backup(file);
  assert.equal(idx, src.store.appliedIndex);
  await dst.store.restore(file);
  assert.equal(dst.store.appliedIndex, idx);
  assert.equal(dst.store.revision, src.store.revision);
  assert.equal(dst.store.hashState(), src.store.hashState());
  assert.deepEqual(
    dst.store.range({ key: b("k"), rangeEnd: b("l") }),
    src.store.range({ key: b("k"), rangeEnd: b("l") }),
  );
  await dst.store.watches.whenSynced();
  // The workload compacted past the follower's revision: the watcher is told, not silently skipped.
  assert.deepEqual(seen, [-1]);
  // Both continue identically.
  const more = [{ index: idx + 1, command: encodeCommand(put("k1", "after")) }];
  src.store.apply(more);
  dst.store.apply(more);
  assert.equal(dst.store.hashState(), src.store.hashState());
  assert.equal(s(dst.store.range({ key: b("k1") }).kvs[0]!.value), "after");
  await src.close();
  await dst.close();
  cleanup();
});

test("restore without compaction in the gap replays the missed events to watchers", async () => {
  const src = TestStore.create();
  const dst = TestStore.create();
  const cmds = items(Array.from({ length: 20 }, (_, i) => put(`k${i % 3}`, `v${i}`)));
  src.store.apply(cmds);
  dst.store.apply(cmds.slice(0, 5));
  const seen: number[] = [];
  dst.store.watches.watch(
    { key: b("k"), rangeEnd: b("l"), startRevision: 0, prevKv: false, filters: {} },
    (x) => {
      if ("events" in x) for (const e of x.events) seen.push(e.kv.modRevision);
    },
  );
  const { dir, cleanup } = tempDir();
  await src.store.backup(join(dir, "s.mdb"));
  await dst.store.restore(join(dir, "s.mdb"));
  await dst.store.watches.whenSynced();
  assert.deepEqual(
    seen,
    Array.from({ length: 15 }, (_, i) => i + 7),
  );
  await src.close();
  await dst.close();
  cleanup();
});
