// Checking a member's note at apply, and the ML-DSA-65 verdicts reached ahead of it.
import assert from "node:assert/strict";
import { test } from "node:test";
import { ml_dsa65 } from "@noble/post-quantum/ml-dsa.js";
import { checkMemberNote, MlDsaVerdicts, mlDsaChecks } from "./member_note.ts";
import { EMPTY_ROOT } from "./merkle.ts";
import { generateLedgerKeys, publicLedgerKeys, signCheckpoint } from "./signer.ts";

const alice = generateLedgerKeys("alice");
const bob = generateLedgerKeys("bob");
const checkpoint = { origin: "qmesh/cluster/t", size: 7, rootHash: EMPTY_ROOT, extensions: [] };
const note = signCheckpoint(alice, checkpoint, 1_700_000_000);

test("the checks a note needs are the signer's ML-DSA-65 line, and they verify", () => {
  const checks = mlDsaChecks(note, [publicLedgerKeys(bob), publicLedgerKeys(alice)]);
  assert.equal(checks.length, 1, "bob signed no line of it");
  const [check] = checks;
  assert.deepEqual(check!.publicKey, publicLedgerKeys(alice).mldsaPublicKey);
  assert.ok(ml_dsa65.verify(check!.signature, check!.message, check!.publicKey));
  assert.deepEqual(mlDsaChecks("not a note", [publicLedgerKeys(alice)]), []);
});

test("apply uses a verdict reached ahead of it, and computes one it does not find", () => {
  const member = publicLedgerKeys(alice);
  const verdicts = new MlDsaVerdicts();
  assert.equal(typeof checkMemberNote(note, member, verdicts), "object", "computed at apply");
  // A remembered verdict is taken as it is: here a false one for this very signature shows it.
  verdicts.remember(mlDsaChecks(note, [member])[0]!, false);
  assert.equal(
    checkMemberNote(note, member, verdicts),
    "ml-dsa-65 signature by alice does not verify",
  );
  // Another member's verdict for another note does not stand in for this one.
  const other = new MlDsaVerdicts();
  const bobNote = signCheckpoint(bob, checkpoint, 1_700_000_000);
  other.remember(mlDsaChecks(bobNote, [publicLedgerKeys(bob)])[0]!, false);
  assert.equal(typeof checkMemberNote(note, member, other), "object");
});
