import assert from "node:assert/strict";
import { test } from "node:test";
import { KvError } from "./errors.ts";
import { MAX_KEY_BYTES } from "./key_limits.ts";
import { b, del, ok, put, TestStore, txn } from "./test_util.ts";

const long = new Uint8Array(4096).fill(0xff);

test("keys longer than LMDB can hold are refused as request errors; apply goes on", async () => {
  const t = TestStore.create();
  const tooLong = (r: ReturnType<TestStore["run"]>) => {
    assert.ok("error" in r, "refused");
    assert.equal(r.error.code, "InvalidArgument");
    assert.match(r.error.message, /(key|range end) is too long: 4096 bytes/);
  };
  tooLong(t.run({ ...put("x", "v"), key: long }));
  tooLong(t.run({ ...del("x"), key: long }));
  tooLong(t.run({ ...del("a"), rangeEnd: long }));
  tooLong(
    t.run(
      txn(
        [{ target: "version", result: "equal", key: long, rangeEnd: new Uint8Array(0), number: 0 }],
        [put("a", "1")],
        [],
      ),
    ),
  );
  assert.throws(() => t.store.range({ key: long }), KvError);
  // The limit itself is allowed, and the store still works after the refusals.
  const atLimit = new Uint8Array(MAX_KEY_BYTES).fill(0x61);
  ok(t.run({ ...put("x", "v"), key: atLimit }));
  assert.equal(t.store.range({ key: atLimit }).count, 1);
  assert.equal(ok(t.run(put("a", "1"))).revision, 3);
  assert.equal(t.store.range({ key: b("a") }).count, 1);
  await t.close();
});

test("a user or role name too long for LMDB is refused, not fatal", async () => {
  const t = TestStore.create();
  const name = "u".repeat(5000);
  for (const command of [
    { op: "userAdd", user: name, noPassword: true, passwordHash: "" },
    { op: "roleAdd", role: name },
  ] as const) {
    const r = t.run(command as never);
    assert.ok("error" in r);
    assert.match(r.error.message, /name is too long: 5000 bytes/);
  }
  assert.equal(ok(t.run(put("a", "1"))).revision, 2);
  await t.close();
});
