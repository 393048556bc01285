// The ledger on a real 3-member cluster: every write's receipt is a leaf that proves its way to
// the root any member serves, members agree on the tree, a restarted member resumes it, and the
// Ledger service answers bad requests with what is wrong.
import assert from "node:assert/strict";
import { after, before, test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { connectEtcd, type EtcdClient } from "../../src/api/grpc/client.ts";
import { LEDGER_INDEX_METADATA } from "../../src/api/grpc/context.ts";
import {
  decodeLeaf,
  decodePublicLedgerKeys,
  generateLedgerKeys,
  hashLeaf,
  LeafKind,
  publicLedgerKeys,
  verifyCheckpoint,
  verifyConsistency,
  verifyInclusion,
} from "../../src/ledger/index.ts";
import { eventually, TestCluster } from "./harness.ts";

const NAMES = ["n1", "n2", "n3"];
const cluster = new TestCluster();

const client = (name: string): EtcdClient => cluster.grpc(name);

const bytes = (value: unknown) => new Uint8Array(value as Buffer);

async function putWithReceipt(name: string, key: string, value: string, lease = "0") {
  const { response, trailer } = await client(name).callWithTrailer("KV", "Put", {
    key: Buffer.from(key),
    value: Buffer.from(value),
    lease,
  });
  const receipt = trailer.get(LEDGER_INDEX_METADATA)[0];
  return { revision: Number(response.header.revision), leafIndex: Number(receipt) };
}

before(async () => {
  await cluster.startAll(NAMES);
});
after(async () => {
  await cluster.destroy();
});

test("a write's receipt is a leaf whose inclusion proof verifies against every member's root", {
  timeout: 60_000,
}, async () => {
  const { revision, leafIndex } = await putWithReceipt("n2", "receipt/key", "hello");
  assert.ok(Number.isSafeInteger(leafIndex), "the reply carries the leaf index");
  for (const name of NAMES) {
    const proof = await eventually(() =>
      client(name).call("Ledger", "InclusionProof", { leaf_index: String(leafIndex) }),
    );
    const leaf = decodeLeaf(bytes(proof.leaf));
    assert.equal(leaf.kind, LeafKind.Kv);
    assert.equal(leaf.revision, revision);
    assert.equal(leaf.rejected, null);
    assert.ok(Buffer.from(leaf.request).includes(Buffer.from("hello")), "the request as proposed");
    const size = Number(proof.tree_size);
    assert.ok(
      verifyInclusion(
        hashLeaf(bytes(proof.leaf)),
        leafIndex,
        size,
        proof.proof.map(bytes),
        bytes(proof.root_hash),
      ),
      `${name}: the proof verifies`,
    );
    // The same leaf, found by the revision it created.
    const byRevision = await client(name).call("Ledger", "InclusionProof", {
      revision: String(revision),
      tree_size: proof.tree_size,
    });
    assert.equal(Number(byRevision.leaf_index), leafIndex);
    assert.deepEqual(bytes(byRevision.root_hash), bytes(proof.root_hash));
  }
});

test("members agree on the tree: the same root at the same size, and later trees extend it", {
  timeout: 60_000,
}, async () => {
  for (let i = 0; i < 20; i++) await putWithReceipt(NAMES[i % 3]!, `agree/${i}`, `v${i}`);
  const first = await client("n1").call("Ledger", "Checkpoint", {});
  const size = first.tree_size;
  for (const name of NAMES) {
    const at = await eventually(() =>
      client(name).call("Ledger", "Checkpoint", { tree_size: size }),
    );
    assert.deepEqual(bytes(at.root_hash), bytes(first.root_hash), `${name} at size ${size}`);
    assert.match(
      at.checkpoint,
      new RegExp(`^qmesh/cluster/[0-9a-f]+\\n${size}\\n[A-Za-z0-9+/=]{44}\\n$`),
    );
  }
  for (let i = 0; i < 10; i++) await putWithReceipt("n3", `agree/later/${i}`, "x");
  const later = await client("n2").call("Ledger", "ConsistencyProof", { from_size: size });
  assert.ok(
    verifyConsistency(
      Number(size),
      Number(later.to_size),
      later.proof.map(bytes),
      bytes(first.root_hash),
      bytes(later.to_root),
    ),
  );
});

test("a rejected write is on the ledger too, with its reason", { timeout: 30_000 }, async () => {
  // A put on a lease that does not exist is refused when applied.
  await assert.rejects(putWithReceipt("n1", "rejected/key", "v", "123456789"), /lease not found/);
  const checkpoint = await client("n1").call("Ledger", "Checkpoint", {});
  const size = Number(checkpoint.tree_size);
  const page = await client("n1").call("Ledger", "Leaves", { start: String(size - 5), limit: 5 });
  const rejected = page.leaves
    .map((l: { data: Buffer }) => decodeLeaf(bytes(l.data)))
    .filter((leaf: { rejected: string | null }) => leaf.rejected !== null);
  assert.equal(rejected.length, 1, "one rejected leaf among the last");
  assert.match(rejected[0].rejected, /LeaseNotFound/);
});

test("a member killed and restarted resumes the same tree and keeps extending it", {
  timeout: 60_000,
}, async () => {
  // A follower: a write forwarded to a killed leader is lost until the client's timeout (as in
  // etcd), which is not what this test is about.
  const leaderName = await cluster.waitForLeader(NAMES);
  const victim = NAMES.find((n) => n !== leaderName)!;
  const other = NAMES.find((n) => n !== leaderName && n !== victim)!;
  await putWithReceipt(leaderName, "restart/before", "1");
  const before = await eventually(async () => {
    const c = await client(victim).call("Ledger", "Checkpoint", {});
    const leader = await client(leaderName).call("Ledger", "Checkpoint", {});
    assert.equal(c.tree_size, leader.tree_size);
    return c;
  });
  await cluster.kill9(victim);
  cluster.forgetClient(victim);
  await putWithReceipt(other, "restart/while-down", "2");
  await cluster.start(victim, NAMES);
  const same = await client(victim).call("Ledger", "Checkpoint", { tree_size: before.tree_size });
  assert.deepEqual(bytes(same.root_hash), bytes(before.root_hash));
  await putWithReceipt(other, "restart/after", "3");
  const latest = await eventually(async () => {
    const proof = await client(victim).call("Ledger", "ConsistencyProof", {
      from_size: before.tree_size,
    });
    const leader = await client(leaderName).call("Ledger", "Checkpoint", {});
    assert.equal(proof.to_size, leader.tree_size);
    return proof;
  });
  assert.ok(
    verifyConsistency(
      Number(before.tree_size),
      Number(latest.to_size),
      latest.proof.map(bytes),
      bytes(before.root_hash),
      bytes(latest.to_root),
    ),
  );
});

test("bad ledger requests get a clear error", { timeout: 30_000 }, async () => {
  const c = client("n1");
  const expectError = async (method: string, request: object, code: number, text: RegExp) => {
    await assert.rejects(c.call("Ledger", method, request), (error: grpc.ServiceError) => {
      assert.equal(error.code, code, error.details);
      assert.match(error.details, text);
      return true;
    });
  };
  await expectError(
    "Checkpoint",
    { tree_size: "999999999" },
    grpc.status.OUT_OF_RANGE,
    /beyond this member's ledger/,
  );
  await expectError(
    "InclusionProof",
    { revision: "999999999" },
    grpc.status.NOT_FOUND,
    /no ledger leaf created revision 999999999/,
  );
  await expectError(
    "InclusionProof",
    { leaf_index: "5", tree_size: "3" },
    grpc.status.OUT_OF_RANGE,
    /leaf 5 is not in a tree of 3 leaves/,
  );
  await expectError(
    "ConsistencyProof",
    { from_size: "10", to_size: "4" },
    grpc.status.OUT_OF_RANGE,
    /from_size 10 is larger than to_size 4/,
  );
  await expectError("Leaves", { limit: 5000 }, grpc.status.INVALID_ARGUMENT, /above 1000/);
});

test("the JSON gateway serves the same proofs, bytes in base64", { timeout: 30_000 }, async () => {
  const { revision } = await putWithReceipt("n1", "gateway/key", "json");
  const { status, body } = await cluster.call("n1", "/v3/ledger/inclusionproof", {
    revision: String(revision),
  });
  assert.equal(status, 200, JSON.stringify(body));
  const leaf = Buffer.from(String(body.leaf), "base64");
  const proof = (body.proof as string[]).map((p) => new Uint8Array(Buffer.from(p, "base64")));
  assert.ok(
    verifyInclusion(
      hashLeaf(leaf),
      Number(body.leaf_index),
      Number(body.tree_size),
      proof,
      new Uint8Array(Buffer.from(String(body.root_hash), "base64")),
    ),
  );
  const missing = await cluster.call("n1", "/v3/ledger/checkpoint", { tree_size: "99999999" });
  assert.equal(missing.status, 400);
  assert.match(String(missing.body.message), /beyond this member's ledger/);
});

test("--ledger false answers ledger calls with why, and the setting holds for the data directory", {
  timeout: 60_000,
}, async () => {
  const solo = new TestCluster();
  try {
    await solo.define(["s1"]);
    await solo.start("s1", ["s1"], "new", ["--ledger", "false"]);
    await solo.waitForLeader(["s1"]);
    await solo.put("s1", "k", "v");
    const c = connectEtcd(solo.spec("s1").clientUrl);
    await assert.rejects(c.call("Ledger", "Checkpoint", {}), (error: grpc.ServiceError) => {
      assert.equal(error.code, grpc.status.FAILED_PRECONDITION);
      assert.match(
        error.details,
        /the ledger is off on this member \(started with --ledger false\)/,
      );
      return true;
    });
    c.close();
    await solo.kill9("s1");
    // Turning it on now would start the ledger mid-history: refused, nothing touched.
    await assert.rejects(
      solo.start("s1", ["s1"], "new", ["--ledger", "true"]),
      /ledger would start mid-history; keep --ledger false for it, or start a new data directory/,
    );
    await solo.start("s1", ["s1"], "new", ["--ledger", "false"]);
    assert.equal(await solo.get("s1", "k"), "v");
  } finally {
    await solo.destroy();
  }
});

test("proofs in bulk: each verifies against the one root, and oversized batches are refused", {
  timeout: 30_000,
}, async () => {
  const c = client("n2");
  const { tree_size } = await c.call("Ledger", "Checkpoint", {});
  const size = Number(tree_size);
  const indexes = [0, 1, Math.floor(size / 2), size - 1];
  const batch = await c.call("Ledger", "InclusionProofs", {
    leaf_indexes: indexes.map(String),
    tree_size,
  });
  assert.equal(batch.proofs.length, indexes.length);
  for (const [i, p] of batch.proofs.entries()) {
    assert.equal(Number(p.leaf_index), indexes[i]);
    assert.ok(
      verifyInclusion(
        hashLeaf(bytes(p.leaf)),
        indexes[i]!,
        size,
        p.proof.map(bytes),
        bytes(batch.root_hash),
      ),
      `leaf ${indexes[i]}`,
    );
  }
  await assert.rejects(
    c.call("Ledger", "InclusionProofs", { leaf_indexes: Array.from({ length: 1001 }, () => "0") }),
    /1001 leaf_indexes is above 1000 per call; split the request/,
  );
});

test("a quorum of members signs each checkpoint; the certified note verifies offline against their keys", {
  timeout: 60_000,
}, async () => {
  for (let i = 0; i < 5; i++) await putWithReceipt("n1", `certified/${i}`, "x");
  const certified = await eventually(async () => {
    const reply = await client("n2").call("Ledger", "Checkpoint", { certified: true });
    assert.equal(reply.certified, true);
    return reply;
  }, 20_000);
  const trusted = certified.member_keys.map((k: string) => decodePublicLedgerKeys(k));
  assert.equal(trusted.length, 3, "every voter published its keys");
  const verified = await verifyCheckpoint(certified.signed_note, trusted, 2, {
    origin: certified.origin,
  });
  assert.ok(verified.signers.length >= 2, `signed by ${verified.signers.join(", ")}`);
  assert.equal(verified.checkpoint.size, Number(certified.tree_size));
  assert.deepEqual(verified.checkpoint.rootHash, bytes(certified.root_hash));
  assert.match(certified.signed_note, /^— \S+ /m);
  // Each member's own tree has that root at that size.
  for (const name of NAMES) {
    const at = await client(name).call("Ledger", "Checkpoint", { tree_size: certified.tree_size });
    assert.deepEqual(bytes(at.root_hash), verified.checkpoint.rootHash, name);
  }
  // Not enough trust: the same note with a quorum of 3 of keys it has only 2 signatures from,
  // or checked against keys of strangers, is refused.
  const strangers = trusted.map((t: { name: string }, i: number) =>
    publicLedgerKeys(generateLedgerKeys(`${t.name}-other-${i}`, { mldsa: false })),
  );
  await assert.rejects(verifyCheckpoint(certified.signed_note, strangers, 2), /a quorum is 2/);
});
