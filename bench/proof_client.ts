// One proof-load process: `concurrency` loops asking a member's qmesh.v1.Ledger for inclusion
// proofs of random leaves in a fixed tree, for `seconds`, one per call or `batch` per call
// (InclusionProofs). One call in ten is decoded and every proof in it checked against the root
// (a fast wrong answer would show); of the others the proofs are only counted, from the wire:
// decoding and checking every one took the clients more CPU than the server spent, on a machine
// the server shares. Checked answers are decoded with protobufjs directly (messages, not the
// plain objects proto-loader makes). Prints one JSON line: proofs served and failures.
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import protobuf from "protobufjs";
import { connectEtcd } from "../src/api/grpc/client.ts";
import { hashLeaf, verifyInclusion } from "../src/ledger/index.ts";

const PROTO_DIR = fileURLToPath(new URL("../src/api/proto/", import.meta.url));
const root = new protobuf.Root();
root.resolvePath = (_origin, target) => `${PROTO_DIR}${target}`;
root.loadSync("ledger.proto", { keepCase: true });
const BatchRequest = root.lookupType("qmesh.v1.InclusionProofsRequest");
const BatchResponse = root.lookupType("qmesh.v1.InclusionProofsResponse");

interface LeafProofMessage {
  leaf: Uint8Array;
  proof: Uint8Array[];
}

const [url, concurrencyArg, secondsArg, sizeArg, rootArg, batchArg] = process.argv.slice(2);
const batch = Number(batchArg ?? 1);
const concurrency = Number(concurrencyArg);
const size = Number(sizeArg);
const treeRoot = new Uint8Array(Buffer.from(rootArg!, "base64"));
const client = connectEtcd(url!);
const address = url!.replace(/^https?:\/\//, "").replace(/\/$/, "");
const lean = new grpc.Client(address, grpc.credentials.createInsecure(), {
  "grpc.max_receive_message_length": -1,
});

/**
 * One InclusionProofs call: every proof decoded when `check`, else only counted from the wire
 * (the server did the same work either way; the client's CPU goes to the sample it checks).
 */
function batchCall(
  indexes: readonly number[],
  check: boolean,
): Promise<LeafProofMessage[] | number> {
  const request = { leaf_indexes: indexes, tree_size: size };
  return new Promise((resolve, reject) => {
    lean.makeUnaryRequest(
      "/qmesh.v1.Ledger/InclusionProofs",
      () => Buffer.from(BatchRequest.encode(BatchRequest.fromObject(request)).finish()),
      (bytes: Buffer) => bytes,
      request,
      (error, bytes) => {
        if (error !== null || bytes === undefined) reject(error ?? new Error("no answer"));
        else if (!check) resolve(countProofs(bytes));
        else
          resolve(
            (BatchResponse.decode(bytes) as unknown as { proofs: LeafProofMessage[] }).proofs,
          );
      },
    );
  });
}

/** How many `proofs` (field 4) an InclusionProofsResponse holds, without decoding them. */
function countProofs(bytes: Uint8Array): number {
  const reader = protobuf.Reader.create(bytes);
  let count = 0;
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag >>> 3 === 4) count++;
    reader.skipType(tag & 7);
  }
  return count;
}

const deadline = performance.now() + Number(secondsArg) * 1000;
let served = 0;
let failed = 0;
let calls = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      const indexes = Array.from({ length: batch }, () => Math.floor(Math.random() * size));
      try {
        // One call in ten is checked whole (one proof in ten for single calls).
        const check = calls++ % 10 === 0;
        if (batch > 1 && !check) {
          const count = (await batchCall(indexes, false)) as number;
          served += count;
          failed += batch - count;
          continue;
        }
        const replies =
          batch === 1
            ? [
                await client.call("Ledger", "InclusionProof", {
                  leaf_index: String(indexes[0]),
                  tree_size: String(size),
                }),
              ]
            : ((await batchCall(indexes, true)) as LeafProofMessage[]);
        if (replies.length !== batch) failed += batch - replies.length;
        for (const [i, reply] of replies.entries()) {
          if (!check) {
            served++;
            continue;
          }
          const proof = (reply.proof as Uint8Array[]).map((p) => new Uint8Array(p));
          const leaf = hashLeaf(new Uint8Array(reply.leaf));
          if (verifyInclusion(leaf, indexes[i]!, size, proof, treeRoot)) served++;
          else failed++;
        }
      } catch {
        failed += batch;
      }
    }
  }),
);
client.close();
lean.close();
process.stdout.write(`${JSON.stringify({ served, failed })}\n`);
