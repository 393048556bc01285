// One proof-load process: `concurrency` loops asking a member's qmesh.v1.Ledger for inclusion
// proofs of random leaves in a fixed tree, for `seconds`, one per call or `batch` per call
// (InclusionProofs). One proof in ten is checked against the root (a fast wrong answer would
// show), the rest only counted: checking every one took the client more CPU than the server
// spent, on a machine the server shares. Prints one JSON line: proofs served and failures.
import { connectEtcd } from "../src/api/grpc/client.ts";
import { hashLeaf, verifyInclusion } from "../src/ledger/index.ts";

const [url, concurrencyArg, secondsArg, sizeArg, rootArg, batchArg] = process.argv.slice(2);
const batch = Number(batchArg ?? 1);
const concurrency = Number(concurrencyArg);
const size = Number(sizeArg);
const root = new Uint8Array(Buffer.from(rootArg!, "base64"));
const client = connectEtcd(url!);
const deadline = performance.now() + Number(secondsArg) * 1000;
let served = 0;
let failed = 0;
await Promise.all(
  Array.from({ length: concurrency }, async () => {
    while (performance.now() < deadline) {
      const indexes = Array.from({ length: batch }, () => Math.floor(Math.random() * size));
      try {
        const replies =
          batch === 1
            ? [
                await client.call("Ledger", "InclusionProof", {
                  leaf_index: String(indexes[0]),
                  tree_size: String(size),
                }),
              ]
            : (
                await client.call("Ledger", "InclusionProofs", {
                  leaf_indexes: indexes.map(String),
                  tree_size: String(size),
                })
              ).proofs;
        for (const [i, reply] of replies.entries()) {
          if ((served + failed) % 10 !== 0) {
            served++;
            continue;
          }
          const proof = (reply.proof as Buffer[]).map((p) => new Uint8Array(p));
          const leaf = hashLeaf(new Uint8Array(reply.leaf));
          if (verifyInclusion(leaf, indexes[i]!, size, proof, root)) served++;
          else failed++;
        }
      } catch {
        failed += batch;
      }
    }
  }),
);
client.close();
process.stdout.write(`${JSON.stringify({ served, failed })}\n`);
