import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { CORRUPT, NOSPACE } from "./alarms.ts";
import { CommandDecodeError, decodeCommand, encodeCommand } from "./command.ts";
import { MvccStore } from "./mvcc_store.ts";
import { b, del, ok, put, s, TestStore, txn } from "./test_util.ts";
import type { AlarmCommand, ApplyResult } from "./types.ts";

const raise = (memberId: number, alarm = NOSPACE): AlarmCommand => ({
  op: "alarm",
  action: "activate",
  memberId,
  alarm,
});
const clear = (memberId: number, alarm = NOSPACE): AlarmCommand => ({
  ...raise(memberId, alarm),
  action: "deactivate",
});

function refusedNoSpace(r: ApplyResult): void {
  assert.deepEqual("error" in r && r.error, {
    code: "NoSpace",
    message: "mvcc: database space exceeded",
  });
}

test("alarm command: codec round trip; bad action, type or placement is a decode error", () => {
  const c = raise(2 ** 48 - 1, CORRUPT);
  assert.deepEqual(decodeCommand(encodeCommand(c)), c);
  assert.deepEqual(decodeCommand(encodeCommand(clear(7))), clear(7));
  const bytes = encodeCommand(raise(1));
  const badType = bytes.slice();
  badType[badType.length - 1] = 3;
  assert.throws(() => decodeCommand(badType), CommandDecodeError);
  const badAction = bytes.slice();
  badAction[2] = 9;
  assert.throws(() => decodeCommand(badAction), CommandDecodeError);
  // An alarm inside a txn branch: [version][txn op][0 compares][1 success op][alarm...][0 failure]
  const inTxn = Uint8Array.of(1, 3, 0, 1, ...bytes.slice(1), 0);
  assert.throws(() => decodeCommand(inTxn), /alarm is not allowed inside a txn/);
});

test("NOSPACE alarm: put, txn with a put and lease grant refused; the rest still works", async () => {
  const t = TestStore.create();
  ok(t.run(put("a", "1")));
  ok(t.run(put("b", "2")));
  ok(t.run({ op: "leaseGrant", id: 5, ttlSeconds: 60 }));
  const raised = ok(t.run(raise(11)));
  assert.deepEqual(raised.response, { op: "alarm", alarms: [{ memberId: 11, alarm: NOSPACE }] });
  assert.equal(raised.revision, 3, "an alarm is not a kv revision");
  assert.ok(t.store.noSpace);

  refusedNoSpace(t.run(put("c", "3")));
  refusedNoSpace(t.run(txn([], [del("a")], [put("c", "3")])));
  refusedNoSpace(t.run(txn([], [txn([], [put("c", "3")])])));
  refusedNoSpace(t.run({ op: "leaseGrant", id: 6, ttlSeconds: 60 }));
  assert.equal(t.store.revision, 3, "refused writes change nothing");

  // Reads, deletes, delete-only txns, compaction and revokes go on.
  assert.equal(t.store.range({ key: b("a") }).count, 1);
  ok(t.run(del("a")));
  ok(t.run(txn([], [del("b")])));
  ok(t.run({ op: "compact", revision: 5 }));
  ok(t.run({ op: "leaseRevoke", id: 5 }));

  // Raising it again changes nothing; clearing it restores writes.
  assert.deepEqual(ok(t.run(raise(11))).response, { op: "alarm", alarms: [] });
  assert.deepEqual(ok(t.run(clear(11))).response, {
    op: "alarm",
    alarms: [{ memberId: 11, alarm: NOSPACE }],
  });
  assert.deepEqual(ok(t.run(clear(11))).response, { op: "alarm", alarms: [] });
  assert.equal(t.store.noSpace, false);
  ok(t.run(put("c", "3")));
  await t.close();
});

test("alarms: any member's NOSPACE caps writes until every one is cleared; CORRUPT does not", async () => {
  const t = TestStore.create();
  ok(t.run(raise(30, CORRUPT)));
  ok(t.run(put("a", "1")));
  ok(t.run(raise(20)));
  ok(t.run(raise(10)));
  assert.deepEqual(t.store.alarms, [
    { memberId: 10, alarm: NOSPACE },
    { memberId: 20, alarm: NOSPACE },
    { memberId: 30, alarm: CORRUPT },
  ]);
  ok(t.run(clear(10)));
  refusedNoSpace(t.run(put("a", "2")));
  ok(t.run(clear(20)));
  assert.equal(s(t.store.range({ key: b("a") }).kvs[0]!.value), "1");
  ok(t.run(put("a", "2")));
  await t.close();
});

test("alarms: in the same batch, commands see an earlier command's alarm", async () => {
  const t = TestStore.create();
  const results = t.store.apply([
    { index: 1, command: encodeCommand(put("a", "1")) },
    { index: 2, command: encodeCommand(raise(1)) },
    { index: 3, command: encodeCommand(put("b", "2")) },
  ]);
  ok(results[0]);
  ok(results[1]);
  refusedNoSpace(results[2]!);
  await t.close();
});

test("alarms: survive a restart and a snapshot restore, and are part of hashState", async () => {
  const t = TestStore.create();
  ok(t.run(put("a", "1")));
  const before = t.store.hashState();
  ok(t.run(raise(3)));
  const raised = t.store.hashState();
  assert.notEqual(raised, before);

  const path = join(t.dir, "db");
  await t.store.close();
  const reopened = MvccStore.open(path);
  assert.deepEqual(reopened.alarms, [{ memberId: 3, alarm: NOSPACE }]);
  assert.equal(reopened.hashState(), raised);
  const snapshot = join(t.dir, "snap.mdb");
  await reopened.backup(snapshot);
  await reopened.close();

  const other = TestStore.create();
  ok(other.run(put("z", "9")));
  await other.store.restore(snapshot);
  assert.ok(other.store.noSpace);
  assert.equal(other.store.hashState(), raised);
  await other.close();
  rmSync(t.dir, { recursive: true, force: true });
});
