import assert from "node:assert/strict";
import { test } from "node:test";
import fc from "fast-check";
import { decodeLeaf, encodeLeaf, type Leaf, LeafEncoder, LeafKind } from "./leaf.ts";

const leafArbitrary: fc.Arbitrary<Leaf> = fc.record({
  kind: fc.constantFrom(...Object.values(LeafKind)),
  index: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
  term: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
  proposer: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
  revision: fc.nat({ max: Number.MAX_SAFE_INTEGER }),
  rejected: fc.option(fc.string({ unit: "grapheme", maxLength: 40 }), { nil: null }),
  request: fc.uint8Array({ maxLength: 300 }),
});

test("a leaf decodes to what was encoded, and the encoding is one byte string per leaf", () => {
  fc.assert(
    fc.property(leafArbitrary, (leaf) => {
      const bytes = encodeLeaf(leaf);
      assert.deepEqual(decodeLeaf(bytes), { ...leaf });
      assert.deepEqual(encodeLeaf(decodeLeaf(bytes)), bytes);
    }),
  );
});

test("the reused encoder gives the same bytes as a fresh one, large requests included", () => {
  const encoder = new LeafEncoder();
  const big = { ...sample(), request: new Uint8Array(10_000).fill(7) };
  for (const leaf of [sample(), big, sample()]) {
    assert.deepEqual(Uint8Array.from(encoder.encode(leaf)), encodeLeaf(leaf));
  }
});

test("the layout is fixed: a known leaf has known bytes", () => {
  const bytes = encodeLeaf({ ...sample(), rejected: "x", request: Uint8Array.of(0xaa) });
  assert.equal(
    Buffer.from(bytes).toString("hex"),
    "0101" +
      "0000000000000009" + // raft index
      "0000000000000002" + // term
      "00000000000000ff" + // proposer
      "0000000000000005" + // revision
      "01" + // rejected
      "00000001" +
      "78" + // "x"
      "00000001" +
      "aa",
  );
});

test("garbage, truncation and trailing bytes are refused with what is wrong", () => {
  const good = encodeLeaf(sample());
  assert.throws(() => decodeLeaf(good.subarray(0, 10)), /too short/);
  assert.throws(() => decodeLeaf(Uint8Array.of(9, ...good.subarray(1))), /version 9/);
  const badKind = Uint8Array.from(good);
  badKind[1] = 77;
  assert.throws(() => decodeLeaf(badKind), /unknown kind 77/);
  assert.throws(() => decodeLeaf(Uint8Array.of(...good, 0)), /request length does not match/);
  const badOutcome = Uint8Array.from(good);
  badOutcome[34] = 2;
  assert.throws(() => decodeLeaf(badOutcome), /outcome byte 2/);
});

function sample(): Leaf {
  return {
    kind: LeafKind.Kv,
    index: 9,
    term: 2,
    proposer: 255,
    revision: 5,
    rejected: null,
    request: Uint8Array.of(1, 2, 3),
  };
}
