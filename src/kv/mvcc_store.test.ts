import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeCommand } from "./command.ts";
import { KvError } from "./errors.ts";
import { MvccStore } from "./mvcc_store.ts";
import { ALL, b, del, ok, prefixEnd, put, s, TestStore, txn } from "./test_util.ts";
import type { Compare, KeyValue, RangeRequest } from "./types.ts";

const keys = (kvs: KeyValue[]): string[] => kvs.map((kv) => s(kv.key));

test("put/get: revisions, versions, createRevision across delete and re-create", async () => {
  const t = TestStore.create();
  assert.equal(t.store.revision, 1);
  assert.equal(ok(t.run(put("a", "1"))).revision, 2);
  t.run(put("a", "2"));
  let [kv] = t.store.range({ key: b("a") }).kvs;
  assert.deepEqual(kv, {
    key: b("a"),
    value: b("2"),
    createRevision: 2,
    modRevision: 3,
    version: 2,
    lease: 0,
  });
  assert.equal(ok(t.run(del("a"))).revision, 4);
  assert.equal(t.store.range({ key: b("a") }).count, 0);
  // Deleting nothing does not create a revision.
  assert.equal(ok(t.run(del("a"))).revision, 4);
  t.run(put("a", "3"));
  [kv] = t.store.range({ key: b("a") }).kvs;
  assert.equal(kv?.createRevision, 5);
  assert.equal(kv?.version, 1);
  await t.close();
});

test("range: prefix, all, limit, sort, countOnly, keysOnly, filters", async () => {
  const t = TestStore.create();
  for (const [k, v] of [
    ["b", "3"],
    ["a/2", "1"],
    ["a/1", "2"],
    ["a/3", "0"],
    ["c", "9"],
  ]) {
    t.run(put(k!, v!));
  }
  t.run(put("a/1", "22"));
  const r = (req: Partial<RangeRequest>) => t.store.range({ key: b("a/"), ...req });
  assert.deepEqual(keys(r({ rangeEnd: prefixEnd("a/") }).kvs), ["a/1", "a/2", "a/3"]);
  assert.deepEqual(keys(r({ key: Uint8Array.of(0), rangeEnd: ALL }).kvs), [
    "a/1",
    "a/2",
    "a/3",
    "b",
    "c",
  ]);
  assert.deepEqual(keys(r({ key: b("b"), rangeEnd: ALL }).kvs), ["b", "c"]);
  const lim = r({ rangeEnd: prefixEnd("a/"), limit: 2 });
  assert.deepEqual([keys(lim.kvs), lim.more, lim.count], [["a/1", "a/2"], true, 3]);
  const exact = r({ rangeEnd: prefixEnd("a/"), limit: 3 });
  assert.equal(exact.more, false);
  assert.deepEqual(keys(r({ rangeEnd: prefixEnd("a/"), sortOrder: "descend" }).kvs), [
    "a/3",
    "a/2",
    "a/1",
  ]);
  assert.deepEqual(keys(r({ rangeEnd: prefixEnd("a/"), sortTarget: "value" }).kvs), [
    "a/3",
    "a/2",
    "a/1",
  ]);
  assert.deepEqual(
    keys(r({ rangeEnd: prefixEnd("a/"), sortTarget: "mod", sortOrder: "descend", limit: 1 }).kvs),
    ["a/1"],
  );
  assert.deepEqual(keys(r({ rangeEnd: prefixEnd("a/"), sortTarget: "version" }).kvs), [
    "a/2",
    "a/3",
    "a/1",
  ]);
  const c = r({ rangeEnd: prefixEnd("a/"), countOnly: true });
  assert.deepEqual([c.kvs.length, c.count], [0, 3]);
  const ko = r({ rangeEnd: prefixEnd("a/"), keysOnly: true });
  assert.deepEqual(
    ko.kvs.map((kv) => kv.value.length),
    [0, 0, 0],
  );
  assert.equal(ko.kvs[0]?.version, 2);
  const f = r({ rangeEnd: prefixEnd("a/"), minModRevision: 4 });
  assert.deepEqual([keys(f.kvs), f.count], [["a/1", "a/3"], 3]);
  assert.deepEqual(keys(r({ rangeEnd: prefixEnd("a/"), maxCreateRevision: 3 }).kvs), ["a/2"]);
  await t.close();
});

test("range at past revisions, future and compacted revisions fail", async () => {
  const t = TestStore.create();
  t.run(put("a", "1")); // 2
  t.run(put("b", "1")); // 3
  t.run(put("a", "2")); // 4
  t.run(del("b")); // 5
  t.run(put("b", "3")); // 6
  const at = (rev: number) =>
    t.store
      .range({ key: Uint8Array.of(0), rangeEnd: ALL, revision: rev })
      .kvs.map((kv) => `${s(kv.key)}=${s(kv.value)}@${kv.version}`);
  assert.deepEqual(at(1), []);
  assert.deepEqual(at(2), ["a=1@1"]);
  assert.deepEqual(at(3), ["a=1@1", "b=1@1"]);
  assert.deepEqual(at(4), ["a=2@2", "b=1@1"]);
  assert.deepEqual(at(5), ["a=2@2"]);
  assert.deepEqual(at(6), ["a=2@2", "b=3@1"]);
  assert.equal(t.store.range({ key: b("b"), revision: 5 }).count, 0);
  assert.equal(t.store.range({ key: b("b"), revision: 3, countOnly: true }).count, 1);
  assert.throws(
    () => at(7),
    (e: unknown) => e instanceof KvError && e.code === "FutureRevision",
  );
  await t.close();
});

test("prev_kv on put and delete", async () => {
  const t = TestStore.create();
  assert.deepEqual(ok(t.run(put("a", "1", { prevKv: true }))).response, { op: "put" });
  const r = ok(t.run(put("a", "2", { prevKv: true }))).response as { prevKv: KeyValue };
  assert.equal(s(r.prevKv.value), "1");
  t.run(put("a2", "x"));
  const d = ok(t.run(del("a", "b", true))).response as { deleted: number; prevKvs: KeyValue[] };
  assert.equal(d.deleted, 2);
  assert.deepEqual(keys(d.prevKvs), ["a", "a2"]);
  assert.equal(s(d.prevKvs[0]!.value), "2");
  await t.close();
});

const cmp = (
  target: Compare["target"],
  result: Compare["result"],
  key: string,
  v: number | string,
): Compare =>
  target === "value"
    ? { target, result, key: b(key), rangeEnd: b(""), value: b(String(v)) }
    : { target, result, key: b(key), rangeEnd: b(""), number: Number(v) };

test("txn compares on every target pick then/else", async () => {
  const t = TestStore.create();
  t.run({ op: "leaseGrant", id: 9, ttlSeconds: 10 });
  t.run(put("k", "v", { lease: 9 })); // rev 2
  t.run(put("k", "w", { lease: 9 })); // rev 3, version 2
  const cases: Array<[Compare, boolean]> = [
    [cmp("value", "equal", "k", "w"), true],
    [cmp("value", "equal", "k", "v"), false],
    [cmp("value", "greater", "k", "a"), true],
    [cmp("value", "less", "k", "a"), false],
    [cmp("value", "not_equal", "k", "w"), false],
    [cmp("value", "equal", "missing", ""), false],
    [cmp("version", "equal", "k", 2), true],
    [cmp("version", "greater", "k", 2), false],
    [cmp("version", "equal", "missing", 0), true],
    [cmp("create", "equal", "k", 2), true],
    [cmp("create", "less", "k", 3), true],
    [cmp("mod", "equal", "k", 3), true],
    [cmp("mod", "not_equal", "k", 3), false],
    [cmp("lease", "equal", "k", 9), true],
    [cmp("lease", "equal", "k", 0), false],
  ];
  for (const [c, expected] of cases) {
    const r = ok(t.run(txn([c], [put("then", "1")], [put("else", "1")])));
    assert.equal((r.response as { succeeded: boolean }).succeeded, expected, JSON.stringify(c));
  }
  // A range compare must hold for every key in the range.
  t.run(put("p/1", "x"));
  t.run(put("p/2", "x"));
  const all: Compare = {
    target: "value",
    result: "equal",
    key: b("p/"),
    rangeEnd: prefixEnd("p/"),
    value: b("x"),
  };
  assert.equal((ok(t.run(txn([all], []))).response as { succeeded: boolean }).succeeded, true);
  t.run(put("p/3", "y"));
  assert.equal((ok(t.run(txn([all], []))).response as { succeeded: boolean }).succeeded, false);
  await t.close();
});

test("txn: one revision, reads see earlier writes, nested txn, request errors roll back", async () => {
  const t = TestStore.create();
  const r = ok(
    t.run(
      txn(
        [],
        [
          put("a", "1"),
          put("b", "2"),
          { op: "range", key: b("a"), rangeEnd: ALL },
          txn([cmp("version", "equal", "a", 1)], [del("b")]),
        ],
      ),
    ),
  );
  assert.equal(r.revision, 2);
  const resp = r.response as { responses: Array<{ op: string; kvs?: KeyValue[] }> };
  assert.deepEqual(keys(resp.responses[2]!.kvs!), ["a", "b"]);
  assert.deepEqual(keys(t.store.range({ key: b("a"), rangeEnd: ALL }).kvs), ["a"]);
  const before = t.store.hashState();
  // Second op fails: the first must not stay applied, and apply must not throw.
  const bad = t.run(txn([], [put("c", "1"), put("zzz", "", { ignoreValue: true })]));
  assert.deepEqual(bad, {
    revision: 2,
    error: { code: "KeyNotFound", message: "etcdserver: key not found" },
  });
  assert.equal(t.store.range({ key: b("c") }).count, 0);
  assert.equal(t.store.revision, 2);
  assert.notEqual(t.store.hashState(), before, "only the applied index moved");
  await t.close();
});

test("failing requests return errors and change nothing but the applied index", async () => {
  const t = TestStore.create();
  t.run(put("a", "1"));
  const e = (c: Parameters<TestStore["run"]>[0]) => {
    const r = t.run(c);
    assert.ok("error" in r, JSON.stringify(r));
    return r.error.code;
  };
  assert.equal(e(put("x", "", { ignoreValue: true })), "KeyNotFound");
  assert.equal(e(put("x", "1", { lease: 77 })), "LeaseNotFound");
  assert.equal(e({ op: "compact", revision: 5 }), "FutureRevision");
  t.run({ op: "compact", revision: 2 });
  assert.equal(e({ op: "compact", revision: 2 }), "Compacted");
  assert.equal(e({ op: "leaseRevoke", id: 5 }), "LeaseNotFound");
  const garbage = t.store.apply([{ index: t.next++, command: Uint8Array.of(1, 200) }])[0];
  assert.equal(garbage && "error" in garbage && garbage.error.code, "InvalidArgument");
  assert.equal(t.store.revision, 2);
  assert.equal(t.store.appliedIndex, t.next - 1);
  // ignoreValue keeps the value, changes the lease.
  t.run({ op: "leaseGrant", id: 3, ttlSeconds: 5 });
  t.run(put("a", "", { ignoreValue: true, lease: 3 }));
  assert.deepEqual(
    [s(t.store.range({ key: b("a") }).kvs[0]!.value), t.store.range({ key: b("a") }).kvs[0]!.lease],
    ["1", 3],
  );
  await t.close();
});

test("compaction drops superseded revisions and tombstones, keeps current data", async () => {
  const t = TestStore.create();
  t.run(put("a", "1")); // 2
  t.run(put("a", "2")); // 3
  t.run(put("b", "1")); // 4
  t.run(del("b")); // 5
  t.run(put("c", "1")); // 6
  t.run(put("a", "3")); // 7
  const allAt = (revision: number) =>
    t.store
      .range({ key: Uint8Array.of(0), rangeEnd: ALL, revision })
      .kvs.map((kv) => `${s(kv.key)}=${s(kv.value)}`);
  const at5 = allAt(5);
  const at6 = allAt(6);
  ok(t.run({ op: "compact", revision: 6 }));
  assert.equal(t.store.compactRevision, 6);
  assert.deepEqual(allAt(6), at6, "state at the compact revision stays readable");
  assert.deepEqual(at5, ["a=2"]);
  assert.throws(
    () => allAt(5),
    (e: unknown) => e instanceof KvError && e.code === "Compacted",
  );
  assert.deepEqual(allAt(7), ["a=3", "c=1"]);
  const a = t.store.range({ key: b("a") }).kvs[0]!;
  assert.deepEqual([a.createRevision, a.version], [2, 3]);
  // The history itself shrank: watching from the compact revision + 1 shows only newer events.
  const dbs = (t.store as unknown as { dbs: { rev: { getCount(): number } } }).dbs;
  assert.equal(dbs.rev.getCount(), 3, "a@3 (kept, latest <= 6), c@6, a@7");
  await t.close();
});

test("appliedIndex is atomic with the data, replays are skipped, reopen keeps everything", async () => {
  const t = TestStore.create();
  const items = [
    { index: 1, command: encodeCommand(put("a", "1")) },
    { index: 2, command: null },
    { index: 3, command: encodeCommand(put("b", "2")), meta: { key: "conf", value: b("c1") } },
  ];
  const res = t.store.apply(items);
  assert.equal(res.length, 3);
  assert.equal(res[1], null);
  assert.equal(t.store.appliedIndex, 3);
  const hash = t.store.hashState();
  const replay = t.store.apply([...items, { index: 4, command: encodeCommand(put("a", "9")) }]);
  assert.deepEqual(replay.slice(0, 3), [null, null, null]);
  assert.equal(ok(replay[3]).revision, 4);
  assert.equal(t.store.appliedIndex, 4);
  const afterHash = t.store.hashState();
  assert.notEqual(afterHash, hash);
  await t.store.sync();
  await t.store.close();
  const again = MvccStore.open(`${t.dir}/db`);
  assert.equal(again.appliedIndex, 4);
  assert.equal(again.revision, 4);
  assert.equal(again.hashState(), afterHash);
  assert.deepEqual(again.getMeta("conf"), b("c1"));
  assert.equal(s(again.range({ key: b("a") }).kvs[0]!.value), "9");
  assert.deepEqual(again.apply([{ index: 2, command: encodeCommand(put("zz", "z")) }]), [null]);
  assert.equal(again.range({ key: b("zz") }).count, 0);
  await again.close();
  await t.close();
});
