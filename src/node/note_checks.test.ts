import assert from "node:assert/strict";
import { after, test } from "node:test";
import {
  EMPTY_ROOT,
  generateLedgerKeys,
  MlDsaVerdicts,
  mlDsaChecks,
  publicLedgerKeys,
  signCheckpoint,
} from "../ledger/index.ts";
import { MlDsaWorker } from "./mldsa_worker.ts";
import { NoteChecks } from "./note_checks.ts";
import { decodePeerQuery } from "./peer_queries.ts";

const worker = new MlDsaWorker();
after(() => worker.close());

const alice = generateLedgerKeys("alice");
const checkpoint = { origin: "qmesh/cluster/t", size: 3, rootHash: EMPTY_ROOT, extensions: [] };
const note = signCheckpoint(alice, checkpoint, 1_700_000_000);

test("a member checks an announced note on its worker and keeps the verdict for apply", async () => {
  const verdicts = new MlDsaVerdicts();
  const asked: Array<{ peer: number; query: unknown }> = [];
  const checks = new NoteChecks({
    mldsa: worker,
    verdicts,
    voterKeys: () => [publicLedgerKeys(alice)],
    peers: () => [2, 3],
    query: async (peer, request) => {
      asked.push({ peer, query: decodePeerQuery(request) });
    },
  });
  await checks.announce(note);
  const [check] = mlDsaChecks(note, [publicLedgerKeys(alice)]);
  assert.equal(verdicts.lookup(check!), true);
  assert.deepEqual(asked, [
    { peer: 2, query: { query: "note", note } },
    { peer: 3, query: { query: "note", note } },
  ]);
  // A forged signature gets a false verdict, not a true one.
  const forged = { ...check!, signature: Uint8Array.from(check!.signature) };
  forged.signature[0]! ^= 1;
  assert.equal(await worker.verify(forged.signature, forged.message, forged.publicKey), false);
});

test("a peer that cannot be asked does not make the announcement fail", async () => {
  const checks = new NoteChecks({
    mldsa: null,
    verdicts: undefined,
    voterKeys: () => [],
    peers: () => [2],
    query: () => Promise.reject(new Error("not connected to peer n2")),
  });
  await checks.announce(note); // resolves: the note is proposed all the same
});
