import assert from "node:assert/strict";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, test } from "node:test";
import { open, type RootDatabase } from "lmdb";
import { decodeLeaf, encodeLeaf, LeafKind } from "./leaf.ts";
import { hashChildren, hashLeaf, verifyConsistency, verifyInclusion } from "./merkle.ts";
import { type LedgerDb, LedgerTree } from "./tree_store.ts";
import { verifyStoredTree } from "./verify_tree.ts";

const dirs: string[] = [];
after(() => {
  for (const dir of dirs) rmSync(dir, { recursive: true, force: true });
});

function openEnv(dir?: string): { env: RootDatabase; db: LedgerDb; dir: string } {
  const path = dir ?? mkdtempSync(join(tmpdir(), "qmesh-ledger-"));
  if (dir === undefined) dirs.push(path);
  const env = open({ path, maxDbs: 4 });
  const db = env.openDB<Uint8Array, Uint8Array>({
    name: "ledger",
    keyEncoding: "binary",
    encoding: "binary",
  });
  return { env: env as RootDatabase, db, dir: path };
}

/** RFC 9162's MTH, straight from its recursive definition. */
function referenceRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 1) return hashLeaf(leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return hashChildren(referenceRoot(leaves.slice(0, k)), referenceRoot(leaves.slice(k)));
}

function leafBytes(i: number): Uint8Array {
  return encodeLeaf({
    kind: LeafKind.Kv,
    index: i + 3,
    term: 2,
    proposer: 7,
    revision: i + 2,
    rejected: i % 5 === 4 ? "NoSpace: database space exceeded" : null,
    request: new TextEncoder().encode(`put k${i}`),
  });
}

function appendBatch(env: RootDatabase, tree: LedgerTree, from: number, count: number): void {
  env.transactionSync(() => {
    for (let i = from; i < from + count; i++) tree.append(leafBytes(i));
    tree.finish();
  });
  tree.committed();
}

test("roots and proofs of the persisted tree match RFC 9162 at every size, across batches", () => {
  const { env, db } = openEnv();
  const tree = new LedgerTree(db);
  const all: Uint8Array[] = [];
  let appended = 0;
  for (const batch of [1, 2, 3, 1, 8, 5, 13, 1, 30]) {
    appendBatch(env, tree, appended, batch);
    for (let i = appended; i < appended + batch; i++) all.push(leafBytes(i));
    appended += batch;
    assert.deepEqual(tree.root(), referenceRoot(all));
  }
  for (let size = 1; size <= appended; size++) {
    const root = tree.root(size);
    assert.deepEqual(root, referenceRoot(all.slice(0, size)));
    for (const index of [0, Math.floor(size / 2), size - 1]) {
      const proof = tree.inclusionProof(index, size);
      assert.ok(verifyInclusion(hashLeaf(all[index]!), index, size, proof, root));
    }
    const consistency = tree.consistencyProof(size, appended);
    assert.ok(verifyConsistency(size, appended, consistency, root, tree.root()));
  }
  assert.throws(() => tree.root(appended + 1), /outside 0\.\.64/);
});

test("a reopened tree resumes where it was and keeps appending correctly", async () => {
  const first = openEnv();
  const tree = new LedgerTree(first.db);
  appendBatch(first.env, tree, 0, 37);
  await first.env.close();
  const again = openEnv(first.dir);
  const resumed = new LedgerTree(again.db);
  assert.equal(resumed.size, 37);
  appendBatch(again.env, resumed, 37, 26);
  const all = Array.from({ length: 63 }, (_, i) => leafBytes(i));
  assert.deepEqual(resumed.root(), referenceRoot(all));
  await again.env.close();
});

test("an aborted transaction leaves no trace: the next batch lands where it would have", () => {
  const { env, db } = openEnv();
  const tree = new LedgerTree(db);
  appendBatch(env, tree, 0, 5);
  assert.throws(() =>
    env.transactionSync(() => {
      tree.append(leafBytes(99));
      tree.append(leafBytes(98));
      tree.finish();
      throw new Error("disk full");
    }),
  );
  tree.rollback();
  assert.equal(tree.size, 5);
  assert.equal(tree.leaf(5), undefined);
  appendBatch(env, tree, 5, 4);
  assert.deepEqual(tree.root(), referenceRoot(Array.from({ length: 9 }, (_, i) => leafBytes(i))));
});

test("leaves are served by index, by the revision they created and by raft index, and decode", () => {
  const { env, db } = openEnv();
  const tree = new LedgerTree(db);
  appendBatch(env, tree, 0, 12);
  const page = [...tree.leaves(3, 4)];
  assert.deepEqual(
    page.map((p) => p.index),
    [3, 4, 5, 6],
  );
  assert.deepEqual(page[0]!.leaf, leafBytes(3));
  assert.equal([...tree.leaves(10, 100)].length, 2);
  assert.equal(decodeLeaf(tree.leaf(4)!).rejected, "NoSpace: database space exceeded");
  // Leaf i records revision i + 2 after it: each revision is found by binary search.
  for (let revision = 2; revision < 14; revision++) {
    assert.equal(tree.leafIndexForRevision(revision), revision - 2);
  }
  assert.equal(tree.leafIndexForRevision(1), undefined);
  assert.equal(tree.leafIndexForRevision(14), undefined);
  // Leaf i is raft entry i + 3: where an auditor finds the entry that published a member's keys.
  for (let raftIndex = 3; raftIndex < 15; raftIndex++) {
    assert.equal(tree.leafIndexForRaftIndex(raftIndex), raftIndex - 3);
  }
  assert.equal(tree.leafIndexForRaftIndex(2), undefined);
  assert.equal(tree.leafIndexForRaftIndex(15), undefined);
});

test("a missing node or leaf is reported as damage, not as a wrong proof", () => {
  const { env, db } = openEnv();
  const tree = new LedgerTree(db);
  appendBatch(env, tree, 0, 16);
  // The level-2 node over leaves 4..7 is kept with leaf 7, which completed it.
  const key = Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0, 7);
  const record = Uint8Array.from(db.getBinary(key)!);
  db.removeSync(key);
  assert.throws(() => tree.inclusionProof(0, 16), /ledger node \(level 2, index 1\) is missing/);
  db.putSync(key, record);
  assert.ok(
    verifyInclusion(hashLeaf(leafBytes(0)), 0, 16, tree.inclusionProof(0, 16), tree.root()),
  );
  // Leaf 1: the lowest levels are recomputed from the leaves.
  db.removeSync(Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0, 1));
  assert.throws(() => tree.inclusionProof(0, 16), /ledger leaf \(level 0, index 1\) is missing/);
});

test("verifying the stored tree from its leaves finds each kind of tampering, with its index", () => {
  const { env, db } = openEnv();
  const tree = new LedgerTree(db);
  appendBatch(env, tree, 0, 21);
  const clean = verifyStoredTree(tree);
  assert.deepEqual(clean.problems, []);
  assert.deepEqual(clean.root, tree.root());
  const progress: number[] = [];
  verifyStoredTree(tree, (done) => progress.push(done));
  assert.equal(progress.at(-1), 21);

  const leafKey = (i: number) => Uint8Array.of(1, 0, 0, 0, 0, 0, 0, 0, i);
  // A leaf changed, and then its stored hash too: each is found.
  const original = Uint8Array.from(db.getBinary(leafKey(5))!);
  const changed = Uint8Array.from(original);
  changed[changed.length - 1]! ^= 1;
  db.putSync(leafKey(5), changed);
  assert.match(
    verifyStoredTree(tree).problems[0]!.message,
    /leaf 5 does not match the hash stored with it/,
  );
  changed.set(hashLeaf(changed.subarray(32)), 0);
  db.putSync(leafKey(5), changed);
  assert.match(
    verifyStoredTree(tree).problems[0]!.message,
    /stored hash over leaves 4\.\.7 does not match them/,
  );
  db.putSync(leafKey(5), original);

  // The subtree hashes kept in leaf 15's record: levels 2 (12..15), 3 (8..15) and 4 (0..15).
  const record15 = Uint8Array.from(db.getBinary(leafKey(15))!);
  for (const [level, first, last] of [
    [2, 12, 15],
    [3, 8, 15],
    [4, 0, 15],
  ] as const) {
    assert.deepEqual(
      record15.subarray(32 * (level - 1), 32 * level),
      tree.storedNode(level, 15 >> level),
    );
    const forged = Uint8Array.from(record15);
    forged[32 * (level - 1)]! ^= 0x80;
    db.putSync(leafKey(15), forged);
    const forgedProblems = verifyStoredTree(tree).problems;
    assert.equal(forgedProblems.length, 1);
    assert.equal(forgedProblems[0]!.index, first);
    assert.match(
      forgedProblems[0]!.message,
      new RegExp(`stored hash over leaves ${first}\\.\\.${last} does not match`),
    );
    db.putSync(leafKey(15), record15);
  }

  const leaf9 = Uint8Array.from(db.getBinary(leafKey(9))!);
  db.removeSync(leafKey(9));
  assert.match(verifyStoredTree(tree).problems[0]!.message, /leaf 9 is missing/);
  db.putSync(leafKey(9), leaf9);
  assert.deepEqual(verifyStoredTree(tree).problems, []);

  db.putSync(leafKey(40), leafBytes(40));
  assert.match(
    verifyStoredTree(tree).problems[0]!.message,
    /leaf 40 is stored past the tree's size 21/,
  );
});

test("leaves of any size hash as RFC 9162 says, before and after a leaf larger than any before", () => {
  const { env, db } = openEnv();
  const tree = new LedgerTree(db);
  // The member hashes through one reused buffer that grows: around and past its first size.
  const sizes = [0, 1, 64, 4095, 4096, 70_000, 3, 9000, 65, 2];
  const all = sizes.map((n, i) => new Uint8Array(n).fill(i + 1));
  env.transactionSync(() => {
    for (const leaf of all) tree.append(leaf);
    tree.finish();
  });
  tree.committed();
  assert.deepEqual(tree.root(), referenceRoot(all));
  for (const [index, leaf] of all.entries()) {
    const proof = tree.inclusionProof(index, all.length);
    assert.ok(verifyInclusion(hashLeaf(leaf), index, all.length, proof, tree.root()));
    assert.deepEqual(tree.leaf(index), leaf);
  }
});

test("a ledger written before leaf records carried their hash is refused with what to do", () => {
  const { env, db } = openEnv();
  appendBatch(env, new LedgerTree(db), 0, 3);
  db.removeSync(Uint8Array.of(0x03, ...new TextEncoder().encode("format")));
  assert.throws(
    () => new LedgerTree(db),
    /written by an older qmesh \(ledger format 1, this build reads 3\): start it with the build that wrote it/,
  );
  // An empty ledger has nothing to misread.
  const fresh = openEnv();
  assert.equal(new LedgerTree(fresh.db).size, 0);
});
