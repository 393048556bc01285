// Who may change a member's ledger keys: only the member itself, and never to a key name another
// member's keys carry. Otherwise one compromised member could sign twice towards a quorum.
import assert from "node:assert/strict";
import { test } from "node:test";
import { encodePublicLedgerKeys, generateLedgerKeys, publicLedgerKeys } from "../ledger/index.ts";
import { type MemberInfo, MemberRegistry } from "./members.ts";

const keysNamed = (name: string) =>
  encodePublicLedgerKeys(publicLedgerKeys(generateLedgerKeys(name, { mldsa: false })));

function registry(): MemberRegistry {
  return new MemberRegistry([
    { id: 1, name: "n1", peerUrl: "http://127.0.0.1:1", clientUrl: "" },
    { id: 2, name: "n2", peerUrl: "http://127.0.0.1:2", clientUrl: "" },
  ]);
}

const publishing = (id: number, name: string, ledgerKeys: string): MemberInfo => ({
  id,
  name,
  peerUrl: `http://127.0.0.1:${id}`,
  clientUrl: `http://127.0.0.1:${id}0`,
  ledgerKeys,
});

test("a member's own publish sets and later rotates its keys, recording the entry of each", () => {
  const members = registry();
  const first = keysNamed("n1.c");
  members.publish(publishing(1, "n1", first), 1, 10);
  assert.equal(members.get(1)?.ledgerKeys, first);
  assert.equal(members.get(1)?.ledgerKeysIndex, 10);
  // The same keys again (a restart's publish) keep the entry that first published them.
  members.publish(publishing(1, "n1", first), 1, 20);
  assert.equal(members.get(1)?.ledgerKeysIndex, 10);
  const rotated = keysNamed("n1.c");
  members.publish(publishing(1, "n1", rotated), 1, 30);
  assert.equal(members.get(1)?.ledgerKeys, rotated);
  assert.equal(members.get(1)?.ledgerKeysIndex, 30);
  // A later conf change context (addresses only) keeps both.
  members.upsert({ id: 1, name: "", peerUrl: "http://127.0.0.1:1", clientUrl: "" });
  assert.equal(members.get(1)?.ledgerKeys, rotated);
  assert.equal(members.get(1)?.ledgerKeysIndex, 30);
});

test("keys published for a member by another member are dropped; its URLs still apply", () => {
  const members = registry();
  const own = keysNamed("n1.c");
  members.publish(publishing(1, "n1", own), 1, 10);
  members.publish(
    { ...publishing(1, "n1", keysNamed("n1.c")), clientUrl: "http://127.0.0.1:99" },
    2,
    11,
  );
  assert.equal(members.get(1)?.ledgerKeys, own);
  assert.equal(members.get(1)?.ledgerKeysIndex, 10);
  assert.equal(members.get(1)?.clientUrl, "http://127.0.0.1:99");
});

test("a member cannot take a key name that another member's keys carry, nor publish garbage", () => {
  const members = registry();
  members.publish(publishing(1, "n1", keysNamed("n1.c")), 1, 10);
  members.publish(publishing(2, "n2", keysNamed("n1.c")), 2, 11);
  assert.equal(members.get(2)?.ledgerKeys, undefined);
  members.publish(publishing(2, "n2", "{not keys"), 2, 12);
  assert.equal(members.get(2)?.ledgerKeys, undefined);
  const own = keysNamed("n2.c");
  members.publish(publishing(2, "n2", own), 2, 13);
  assert.equal(members.get(2)?.ledgerKeys, own);
  // Stored and read back, the entry index survives (it is part of the replicated state).
  const reread = MemberRegistry.decode(members.encode());
  assert.equal(reread.get(2)?.ledgerKeysIndex, 13);
});
