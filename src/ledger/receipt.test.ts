// The receipt tamper list: a flipped bit, a proof for another index, a checkpoint signed
// by a non-member, fewer than a quorum of signatures — each refused, saying why.
import assert from "node:assert/strict";
import { test } from "node:test";
import { encodeLeaf, type Leaf, LeafKind } from "./leaf.ts";
import { hashLeaf, inclusionProof, MerkleAppender, type NewNode } from "./merkle.ts";
import { combineNotes } from "./note.ts";
import { encodeReceipt, parseReceipt, type Receipt, verifyReceipt } from "./receipt.ts";
import { generateLedgerKeys, publicLedgerKeys, signCheckpoint } from "./signer.ts";

const ORIGIN = "qmesh/cluster/receipts";
const members = ["a", "b", "c"].map((name) => generateLedgerKeys(name, { mldsa: false }));
const trusted = members.map(publicLedgerKeys);
const b64 = (bytes: Uint8Array) => Buffer.from(bytes).toString("base64");

function leafAt(i: number, rejected: string | null = null): Leaf {
  return {
    kind: LeafKind.Kv,
    index: 10 + i,
    term: 1,
    proposer: 1,
    revision: 2 + i,
    rejected,
    request: new TextEncoder().encode(`put k${i}`),
  };
}

/** A ledger of `size` leaves, its checkpoint signed by `signers`, and a receipt for leaf `index`. */
function build(size: number, index: number, signers = members, leaf = leafAt(index)): Receipt {
  const leaves = Array.from({ length: size }, (_, i) => encodeLeaf(i === index ? leaf : leafAt(i)));
  const nodes = new Map<string, Uint8Array>();
  const appender = MerkleAppender.empty();
  for (const bytes of leaves) {
    const created: NewNode[] = [];
    appender.append(hashLeaf(bytes), created);
    for (const node of created) nodes.set(`${node.level}/${node.index}`, node.hash);
  }
  const checkpoint = { origin: ORIGIN, size, rootHash: appender.root(), extensions: [] };
  const note = combineNotes(signers.map((keys) => signCheckpoint(keys, checkpoint, 1_800_000_000)));
  const proof = inclusionProof((level, i) => nodes.get(`${level}/${i}`)!, index, size);
  return {
    format: "qmesh-receipt/v1",
    key: `k${index}`,
    revision: leaf.revision,
    leafIndex: index,
    leaf: b64(leaves[index]!),
    proof: proof.map(b64),
    checkpoint: note,
    memberKeys: [],
  };
}

test("a receipt verifies offline against the pinned member keys, and survives its file format", async () => {
  const receipt = parseReceipt(encodeReceipt(build(13, 6)));
  const verified = await verifyReceipt(receipt, trusted, 2, { origin: ORIGIN });
  assert.equal(verified.leaf.revision, 8);
  assert.deepEqual([...verified.checkpoint.signers].sort(), ["a", "b", "c"]);
});

test("a flipped bit anywhere in the leaf or the proof is refused", async () => {
  const receipt = build(13, 6);
  const leaf = Buffer.from(receipt.leaf, "base64");
  for (let bit = 0; bit < leaf.length * 8; bit += 7) {
    const flipped = Buffer.from(leaf);
    flipped[bit >> 3]! ^= 1 << (bit & 7);
    await assert.rejects(
      verifyReceipt({ ...receipt, leaf: flipped.toString("base64") }, trusted, 2),
      /does not lead from leaf 6 to the certified root/,
    );
  }
  const hash = Buffer.from(receipt.proof[1]!, "base64");
  hash[0]! ^= 0x10;
  const proof = [...receipt.proof];
  proof[1] = hash.toString("base64");
  await assert.rejects(verifyReceipt({ ...receipt, proof }, trusted, 2), /does not lead/);
});

test("a proof for another index, or an index past the tree, is refused", async () => {
  const receipt = build(13, 6);
  await assert.rejects(verifyReceipt({ ...receipt, leafIndex: 7 }, trusted, 2), /from leaf 7/);
  await assert.rejects(
    verifyReceipt({ ...receipt, leafIndex: 13 }, trusted, 2),
    /leaf 13 is not in the certified tree of 13 leaves/,
  );
});

test("a checkpoint signed by non-members, or by fewer than a quorum, is refused", async () => {
  const strangers = ["a", "b", "c"].map((name) => generateLedgerKeys(name, { mldsa: false }));
  await assert.rejects(verifyReceipt(build(9, 2, strangers), trusted, 2), /a quorum is 2/);
  await assert.rejects(verifyReceipt(build(9, 2, [members[0]!]), trusted, 2), /a quorum is 2/);
  await verifyReceipt(build(9, 2, [members[0]!, members[2]!]), trusted, 2);
});

test("a receipt for a rejected write, or for another revision, proves nothing about the write", async () => {
  await assert.rejects(
    verifyReceipt(build(5, 1, members, leafAt(1, "NoSpace: database space exceeded")), trusted, 2),
    /records a rejected write: NoSpace/,
  );
  const receipt = build(5, 1);
  await assert.rejects(
    verifyReceipt({ ...receipt, revision: 99 }, trusted, 2),
    /records revision 3, not 99/,
  );
});

test("malformed receipt files are refused with what is wrong", () => {
  assert.throws(() => parseReceipt("{"), /not a receipt: not JSON/);
  assert.throws(() => parseReceipt('{"format":"x"}'), /its format is not qmesh-receipt\/v1/);
  const good = JSON.parse(encodeReceipt(build(3, 0)));
  assert.throws(
    () => parseReceipt(JSON.stringify({ ...good, leafIndex: -1 })),
    /leafIndex is not a whole number/,
  );
  assert.throws(() => parseReceipt(JSON.stringify({ ...good, proof: [1] })), /proof is not a list/);
});
