// RFC 9162 Merkle tree: published vectors, a cross-check against the RFC's recursive
// definitions for every size up to 130, and proofs that fail when any bit is wrong.
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  consistencyProof,
  EMPTY_ROOT,
  hashChildren,
  hashLeaf,
  inclusionProof,
  MerkleAppender,
  type NewNode,
  type NodeHashes,
  rootHash,
  verifyConsistency,
  verifyInclusion,
} from "./merkle.ts";

const hex = (bytes: Uint8Array) => Buffer.from(bytes).toString("hex");
const unhex = (text: string) => new Uint8Array(Buffer.from(text, "hex"));

// The leaves and hashes of transparency-dev/merkle's testonly/constants.go and
// reference_test.go (RFC 6962's hashing, which RFC 9162 keeps).
const LEAVES = [
  "",
  "00",
  "10",
  "2021",
  "3031",
  "40414243",
  "5051525354555657",
  "606162636465666768696a6b6c6d6e6f",
].map(unhex);
const ROOTS = [
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];
const INCLUSION: { index: number; size: number; proof: string[] }[] = [
  { index: 0, size: 1, proof: [] },
  {
    index: 0,
    size: 2,
    proof: ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"],
  },
  {
    index: 1,
    size: 2,
    proof: ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"],
  },
  {
    index: 2,
    size: 3,
    proof: ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
  },
  {
    index: 1,
    size: 5,
    proof: [
      "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
  },
  {
    index: 0,
    size: 8,
    proof: [
      "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
  },
  {
    index: 5,
    size: 8,
    proof: [
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
  },
];
const CONSISTENCY: { from: number; to: number; proof: string[] }[] = [
  { from: 1, to: 1, proof: [] },
  {
    from: 1,
    to: 8,
    proof: [
      "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
    ],
  },
  {
    from: 2,
    to: 5,
    proof: [
      "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
      "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    ],
  },
  {
    from: 6,
    to: 8,
    proof: [
      "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
      "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
      "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    ],
  },
];

/** A log in memory: every leaf appended, its nodes kept by (level, index). */
function buildLog(leaves: readonly Uint8Array[]): { nodes: NodeHashes; appender: MerkleAppender } {
  const stored = new Map<string, Uint8Array>();
  const appender = MerkleAppender.empty();
  const out: NewNode[] = [];
  for (const leaf of leaves) {
    out.length = 0;
    for (const node of appender.append(hashLeaf(leaf), out))
      stored.set(`${node.level}/${node.index}`, node.hash);
  }
  const nodes: NodeHashes = (level, index) => {
    const hash = stored.get(`${level}/${index}`);
    if (hash === undefined) throw new Error(`node ${level}/${index} was never completed`);
    return hash;
  };
  return { nodes, appender };
}

/** RFC 9162's MTH, straight from the definition. */
function referenceRoot(leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return EMPTY_ROOT;
  if (leaves.length === 1) return hashLeaf(leaves[0]!);
  let k = 1;
  while (k * 2 < leaves.length) k *= 2;
  return hashChildren(referenceRoot(leaves.slice(0, k)), referenceRoot(leaves.slice(k)));
}

function leavesOf(count: number): Uint8Array[] {
  return Array.from({ length: count }, (_, i) => new TextEncoder().encode(`leaf ${i}`));
}

function flipped(bytes: Uint8Array, bit: number): Uint8Array {
  const copy = bytes.slice();
  copy[bit >> 3]! ^= 1 << (bit & 7);
  return copy;
}

describe("RFC 9162 Merkle tree", () => {
  const { nodes } = buildLog(LEAVES);

  it("gives the published root for every size 0–8", () => {
    for (const [size, root] of ROOTS.entries()) {
      assert.equal(hex(rootHash(nodes, size)), root, `size ${size}`);
    }
  });

  it("gives the published inclusion proofs, and they verify", () => {
    for (const { index, size, proof } of INCLUSION) {
      const made = inclusionProof(nodes, index, size);
      assert.deepEqual(made.map(hex), proof, `${index} in ${size}`);
      assert.ok(verifyInclusion(hashLeaf(LEAVES[index]!), index, size, made, unhex(ROOTS[size]!)));
    }
  });

  it("gives the published consistency proofs, and they verify", () => {
    for (const { from, to, proof } of CONSISTENCY) {
      const made = consistencyProof(nodes, from, to);
      assert.deepEqual(made.map(hex), proof, `${from} to ${to}`);
      assert.ok(verifyConsistency(from, to, made, unhex(ROOTS[from]!), unhex(ROOTS[to]!)));
    }
  });

  it("agrees with the RFC's definition, and every proof verifies, for every size up to 130", () => {
    const leaves = leavesOf(130);
    const log = buildLog(leaves);
    const roots = [EMPTY_ROOT];
    for (let size = 1; size <= leaves.length; size++) {
      roots.push(referenceRoot(leaves.slice(0, size)));
      assert.equal(hex(rootHash(log.nodes, size)), hex(roots[size]!), `root of ${size}`);
    }
    assert.equal(hex(log.appender.root()), hex(roots[130]!));
    for (let size = 1; size <= leaves.length; size++) {
      for (let index = 0; index < size; index++) {
        const proof = inclusionProof(log.nodes, index, size);
        assert.ok(
          verifyInclusion(hashLeaf(leaves[index]!), index, size, proof, roots[size]!),
          `${index} in ${size}`,
        );
      }
      for (let from = 0; from <= size; from++) {
        const proof = consistencyProof(log.nodes, from, size);
        assert.ok(
          verifyConsistency(from, size, proof, roots[from]!, roots[size]!),
          `${from} to ${size}`,
        );
      }
    }
  });

  it("refuses any flipped bit, another index, another size or a tampered root", () => {
    const leaves = leavesOf(37);
    const log = buildLog(leaves);
    const root = rootHash(log.nodes, 37);
    const index = 21;
    const leaf = hashLeaf(leaves[index]!);
    const proof = inclusionProof(log.nodes, index, 37);
    for (let p = 0; p < proof.length; p++) {
      for (let bit = 0; bit < 256; bit += 7) {
        const bad = proof.map((h, i) => (i === p ? flipped(h, bit) : h));
        assert.equal(verifyInclusion(leaf, index, 37, bad, root), false, `proof ${p} bit ${bit}`);
      }
    }
    assert.equal(verifyInclusion(flipped(leaf, 3), index, 37, proof, root), false);
    assert.equal(verifyInclusion(leaf, index + 1, 37, proof, root), false);
    // Leaf 21 is the last of 22: its path would turn the other way. (Sizes that give leaf 21
    // the same path, 38 or 64, verify: the signed checkpoint is what binds the size.)
    assert.equal(verifyInclusion(leaf, index, 22, proof, root), false);
    assert.equal(verifyInclusion(leaf, index, 37, proof, flipped(root, 200)), false);
    assert.equal(verifyInclusion(leaf, index, 37, proof.slice(1), root), false);

    const oldRoot = rootHash(log.nodes, 13);
    const consistency = consistencyProof(log.nodes, 13, 37);
    assert.ok(verifyConsistency(13, 37, consistency, oldRoot, root));
    for (let p = 0; p < consistency.length; p++) {
      const bad = consistency.map((h, i) => (i === p ? flipped(h, 77) : h));
      assert.equal(verifyConsistency(13, 37, bad, oldRoot, root), false, `hash ${p}`);
    }
    assert.equal(verifyConsistency(13, 37, consistency, flipped(oldRoot, 1), root), false);
    assert.equal(verifyConsistency(12, 37, consistency, oldRoot, root), false);
    assert.equal(verifyConsistency(37, 13, consistency, root, oldRoot), false);
  });

  it("resumes appending from the stored nodes alone", () => {
    const leaves = leavesOf(100);
    const whole = buildLog(leaves);
    const firstPart = buildLog(leaves.slice(0, 57));
    const resumed = MerkleAppender.resume(57, firstPart.nodes);
    assert.equal(hex(resumed.root()), hex(rootHash(whole.nodes, 57)));
    for (const leaf of leaves.slice(57)) resumed.append(hashLeaf(leaf));
    assert.equal(hex(resumed.root()), hex(rootHash(whole.nodes, 100)));
  });

  it("refuses a proof for an index outside the tree", () => {
    assert.throws(() => inclusionProof(nodes, 8, 8), RangeError);
    assert.throws(() => consistencyProof(nodes, 9, 8), RangeError);
  });
});
