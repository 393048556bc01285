import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { open } from "lmdb";
import { HistoryHashError } from "./history_hash.ts";
import { MvccStore } from "./mvcc_store.ts";
import { del, put, TestStore } from "./test_util.ts";

const stores: TestStore[] = [];
after(() => Promise.all(stores.map((s) => s.close())));

/** Two stores that applied the same first `n` writes, one of them `extra` more after. */
function twoMembers(n: number, extra: number): [TestStore, TestStore] {
  const a = TestStore.create();
  const b = TestStore.create();
  stores.push(a, b);
  for (let i = 0; i < n; i++) {
    const c = i % 5 === 4 ? del(`k${i % 7}`) : put(`k${i % 7}`, `v${i}`);
    a.run(c);
    b.run(c);
  }
  for (let i = 0; i < extra; i++) b.run(put(`later${i}`, "x"));
  return [a, b];
}

test("members at different revisions agree on the hash of a revision both hold", async () => {
  // Spans several steps of the chunked walk (5,000 records per step).
  const [a, b] = twoMembers(12_000, 300);
  const revision = a.store.revision;
  const [ha, hb] = await Promise.all([
    a.store.hashHistory(revision),
    b.store.hashHistory(revision),
  ]);
  assert.equal(ha.hash, hb.hash);
  assert.equal(ha.records, revision - 1); // one record per revision: none missed between steps
  assert.notEqual((await b.store.hashHistory(b.store.revision)).hash, ha.hash);
  // Compacted at the same revision: still equal; at different ones, the caller must not compare.
  a.run({ op: "compact", revision: revision - 10 });
  b.run({ op: "compact", revision: revision - 10 });
  const [ca, cb] = [await a.store.hashHistory(revision), await b.store.hashHistory(revision)];
  assert.equal(ca.hash, cb.hash);
  assert.equal(ca.compactRevision, revision - 10);
  assert.ok(ca.records < 12_000);
});

test("a revision ahead of the member or compacted away is refused, not hashed", async () => {
  const [a] = twoMembers(20, 0);
  await assert.rejects(a.store.hashHistory(a.store.revision + 1), HistoryHashError);
  a.run({ op: "compact", revision: 10 });
  await assert.rejects(a.store.hashHistory(9), /revision 9 is compacted \(at 10\)/);
});

test("a value changed in LMDB shows in the live-key check or the history hash", async () => {
  const [a, b] = twoMembers(40, 0);
  assert.equal(await a.store.checkLiveKeys(), null);
  const dir = join(a.dir, "db");
  const revision = a.store.revision;
  await a.store.close();
  // Changed in the live table only: the member finds it by itself.
  await tamper(dir, "kv", Buffer.from("k3"));
  let store = MvccStore.open(dir);
  assert.match((await store.checkLiveKeys()) ?? "", /key "k3" \(mod revision \d+\) differs from/);
  assert.equal(
    (await store.hashHistory(revision)).hash,
    (await b.store.hashHistory(revision)).hash,
  );
  await store.close();
  // Changed in the history as well: only a peer's hash of the same revision tells.
  const historyKey = await newestRevisionKey(dir, "k3");
  await tamper(dir, "rev", historyKey);
  store = MvccStore.open(dir);
  assert.notEqual(
    (await store.hashHistory(revision)).hash,
    (await b.store.hashHistory(revision)).hash,
  );
  await store.close();
  stores.splice(stores.indexOf(a), 1);
  rmSync(a.dir, { recursive: true, force: true });
});

async function tamper(dir: string, table: string, key: Uint8Array): Promise<void> {
  const env = open({ path: dir, maxDbs: 16 });
  const db = env.openDB<Uint8Array, Uint8Array>({
    name: table,
    keyEncoding: "binary",
    encoding: "binary",
  });
  const record = Buffer.from(db.get(key)!);
  record[record.length - 1]! ^= 0x20;
  await db.put(key, record);
  await env.close();
}

async function newestRevisionKey(dir: string, key: string): Promise<Uint8Array> {
  const env = open({ path: dir, maxDbs: 16 });
  const hist = env.openDB<Uint8Array, Uint8Array>({
    name: "hist",
    keyEncoding: "binary",
    encoding: "binary",
    dupSort: true,
  });
  const all = [...hist.getValues(Buffer.from(key))].map((v) => Uint8Array.from(v));
  await env.close();
  return all.at(-1)!;
}
