// The hand-written InclusionProofsResponse must be what the library's own decoder reads back as
// the same reply, for every field size the varints cross (leaf lengths, indexes, a 2^53 - 1).
import assert from "node:assert/strict";
import { test } from "node:test";
import type * as grpc from "@grpc/grpc-js";
import { acceptingEncoded, EncodedMessage, encodeInclusionProofs } from "./proof_wire.ts";
import { services } from "./proto.ts";

const method = (services.Ledger as grpc.ServiceClientConstructor).service.InclusionProofs!;

function reply(indexes: number[], leafLength: (i: number) => number) {
  return {
    header: {
      cluster_id: "205084305469",
      member_id: "9007199254740991",
      revision: "0",
      raft_term: "3",
    },
    tree_size: "300000",
    root_hash: new Uint8Array(32).fill(9),
    proofs: indexes.map((index, i) => ({
      leaf_index: String(index),
      leaf: new Uint8Array(leafLength(i)).map((_, j) => (j * 31 + i) & 0xff),
      proof: Array.from({ length: i % 23 }, (_, k) => new Uint8Array(32).fill(k)),
    })),
  };
}

test("hand-encoded proofs decode, by the library, to what the library encodes", () => {
  const cases = [
    reply(
      [0, 1, 127, 128, 16_383, 16_384, 2 ** 35, 2 ** 53 - 1],
      (i) => [0, 1, 127, 128, 300, 16_384, 5, 90][i]!,
    ),
    reply([], () => 0),
    reply(
      Array.from({ length: 100 }, (_, i) => i * 977),
      (i) => 150 + i,
    ),
  ];
  for (const value of cases) {
    const ours = method.responseDeserialize(encodeInclusionProofs(value));
    const library = method.responseDeserialize(method.responseSerialize(value));
    assert.deepEqual(ours, library);
    assert.equal((ours as { proofs: unknown[] }).proofs.length, value.proofs.length);
  }
});

test("the service definition passes an encoded reply through and serializes any other", () => {
  const definition = acceptingEncoded((services.Ledger as grpc.ServiceClientConstructor).service, [
    "InclusionProofs",
  ]);
  const bytes = Buffer.from([1, 2, 3]);
  assert.equal(definition.InclusionProofs!.responseSerialize(new EncodedMessage(bytes)), bytes);
  const value = reply([5], () => 10);
  assert.deepEqual(
    definition.InclusionProofs!.responseSerialize(value),
    method.responseSerialize(value),
  );
  assert.throws(() => acceptingEncoded(definition, ["NoSuchMethod"]), /no method NoSuchMethod/);
});
