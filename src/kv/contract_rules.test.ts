// Contract rules in the executor, with a fake guard (kv knows nothing of CEL): a rejection leaves
// state untouched, txns stay atomic, deletes check every key, the reserved prefix is guarded,
// and a store without a guard behaves as before.
import assert from "node:assert/strict";
import { join } from "node:path";
import { test } from "node:test";
import { bytesEqual } from "./bytes.ts";
import { CommandDecodeError, decodeCommand, encodeCommand } from "./command.ts";
import { contractKey } from "./contract_rules.ts";
import { MvccStore } from "./mvcc_store.ts";
import { b, del, ok, put, s, TestStore, tempDir, txn } from "./test_util.ts";
import type {
  ApplyResult,
  Command,
  GuardedWrite,
  StoredRule,
  WriteGuard,
  WriteRules,
} from "./types.ts";

/** A fake rule: JSON {name, prefix, deny}; it rejects a write to a key under prefix whose new
 *  value (or, for a delete, previous value) contains `deny`. */
const fakeRule = (name: string, prefix: string, deny: string) =>
  b(JSON.stringify({ name, prefix, deny }));

class FakeGuard implements WriteGuard {
  loads = 0;
  readonly seen: GuardedWrite[] = [];

  validateRule(name: string, rule: Uint8Array): string | null {
    try {
      const parsed = JSON.parse(s(rule)) as { name: string };
      return parsed.name === name ? null : `named ${parsed.name}`;
    } catch {
      return "fake rule is not JSON";
    }
  }

  load(stored: readonly StoredRule[]): WriteRules {
    this.loads++;
    const rules = stored.map(
      (r) => JSON.parse(s(r.rule)) as { name: string; prefix: string; deny: string },
    );
    return {
      check: (write) => {
        this.seen.push(write);
        const text = s(write.value ?? write.prev ?? new Uint8Array(0));
        for (const rule of rules) {
          if (s(write.key).startsWith(rule.prefix) && text.includes(rule.deny)) {
            return `contract rule "${rule.name}" rejected the write: no ${rule.deny}`;
          }
        }
        return null;
      },
    };
  }
}

function guarded(guard: WriteGuard = new FakeGuard()): TestStore {
  const { dir } = tempDir();
  return new TestStore(MvccStore.open(join(dir, "db"), { guard }), dir);
}

const setRule = (name: string, prefix: string, deny: string): Command => ({
  op: "contractSet",
  name,
  rule: fakeRule(name, prefix, deny),
});

function failed(r: ApplyResult, code: string, message?: RegExp) {
  assert.ok("error" in r, `expected ${code}, got ${JSON.stringify(r)}`);
  assert.equal(r.error.code, code);
  if (message) assert.match(r.error.message, message);
}

/** Every key-value and the revision: what a rejected command must leave as it was (the state
 *  hash would differ anyway, since it covers the applied index). */
const state = (t: TestStore) =>
  JSON.stringify([t.store.revision, t.store.range({ key: b("\0"), rangeEnd: b("\0") }).kvs]);

const value = (t: TestStore, key: string) => {
  const kv = t.store.range({ key: b(key) }).kvs[0];
  return kv === undefined ? undefined : s(kv.value);
};

test("a rejected put changes nothing; an allowed one sees key, value, prev, lease, user, revision", async () => {
  const guard = new FakeGuard();
  const t = guarded(guard);
  ok(t.run(put("docs/a", "v1")));
  const setAt = ok(t.run(setRule("no-bad", "docs/", "bad"))).revision;
  assert.equal(value(t, "qmesh/contracts/no-bad"), s(fakeRule("no-bad", "docs/", "bad")));
  const before = state(t);
  failed(t.run(put("docs/a", "bad value")), "ContractRejected", /rule "no-bad".*no bad/);
  assert.equal(t.store.revision, setAt, "no revision for a rejected write");
  assert.equal(state(t), before, "state untouched");
  assert.equal(value(t, "docs/a"), "v1");
  ok(t.run(put("other/a", "bad is fine here")));
  const r = ok(t.run(put("docs/a", "v2", { user: "alice" })));
  const last = guard.seen.at(-1)!;
  assert.equal(s(last.key), "docs/a");
  assert.equal(s(last.value!), "v2");
  assert.equal(s(last.prev!), "v1");
  assert.deepEqual(
    [last.user, last.revision, last.op, last.lease],
    ["alice", r.revision, "put", 0],
  );
  await t.close();
});

test("txn: a rejection anywhere in the taken branch rolls back the whole txn", async () => {
  const guard = new FakeGuard();
  const t = guarded(guard);
  ok(t.run(setRule("r", "docs/", "bad")));
  ok(t.run(put("docs/x", "old")));
  const before = t.store.revision;
  const untouched = state(t);
  const taken = txn([], [put("docs/a", "fine"), del("docs/x"), put("docs/b", "bad")], []);
  failed(t.run({ ...taken, user: "bob" }), "ContractRejected", /rule "r"/);
  assert.equal(t.store.revision, before);
  assert.equal(state(t), untouched);
  assert.equal(value(t, "docs/a"), undefined);
  assert.equal(value(t, "docs/x"), "old");
  assert.ok(
    guard.seen.slice(-3).every((w) => w.user === "bob"),
    "ops act as the txn's user",
  );
  // Only the branch that runs is checked.
  const r = ok(t.run(txn([], [put("docs/a", "fine")], [put("docs/b", "bad")])));
  assert.equal(value(t, "docs/a"), "fine");
  assert.equal(r.revision, before + 1);
  await t.close();
});

test("delete-range checks every deleted key before deleting any", async () => {
  const guard = new FakeGuard();
  const t = guarded(guard);
  for (const k of ["a", "b", "c"]) ok(t.run(put(`docs/${k}`, k === "b" ? "keep-me" : "x")));
  ok(t.run(setRule("keep", "docs/", "keep-me")));
  guard.seen.length = 0;
  failed(t.run(del("docs/", "docs0")), "ContractRejected", /rule "keep"/);
  assert.deepEqual(
    guard.seen.map((w) => [s(w.key), w.value, w.op]),
    [
      ["docs/a", null, "delete"],
      ["docs/b", null, "delete"],
    ],
    "checked in key order up to the rejection",
  );
  assert.equal(t.store.range({ key: b("docs/"), rangeEnd: b("docs0") }).count, 3);
  ok(t.run(del("docs/a")));
  assert.equal(value(t, "docs/a"), undefined);
  await t.close();
});

test("keys under qmesh/contracts/ are written only by contractSet / contractDelete", async () => {
  const t = guarded();
  const reserved = /hold contract rules: use `qmesh contract set\|delete`/;
  failed(t.run(put("qmesh/contracts/x", "v")), "InvalidArgument", reserved);
  failed(t.run(txn([], [put("qmesh/contracts/x", "v")])), "InvalidArgument", reserved);
  ok(t.run(put("a", "1")));
  // Deleting everything is fine while no rule exists.
  ok(t.run(del("\0", "\0")));
  ok(t.run(setRule("r", "docs/", "bad")));
  const before = state(t);
  failed(t.run(del("\0", "\0")), "InvalidArgument", reserved);
  failed(t.run(del("qmesh/", "qmesh0")), "InvalidArgument", reserved);
  assert.equal(state(t), before);
  failed(
    t.run({ op: "contractSet", name: "r", rule: b("not json") }),
    "InvalidArgument",
    /not JSON/,
  );
  failed(t.run({ op: "contractSet", name: "r2", rule: fakeRule("r", "", "x") }), "InvalidArgument");
  assert.equal(state(t), before, "an invalid rule is not stored");
  await t.close();
});

test("set and delete are writes; a batch sees the rules its earlier commands changed", async () => {
  const guard = new FakeGuard();
  const t = guarded(guard);
  const items = [
    setRule("r", "", "bad"),
    put("k", "bad"),
    { op: "contractDelete", name: "r" },
    put("k", "bad"),
    { op: "contractDelete", name: "r" },
    put("k2", "bad"),
  ] satisfies Command[];
  const results = t.store.apply(
    items.map((c) => ({ index: t.next++, command: encodeCommand(c) })),
  ) as ApplyResult[];
  assert.equal(ok(results[0]).revision, 2);
  failed(results[1]!, "ContractRejected");
  assert.deepEqual(ok(results[2]), { revision: 3, response: { op: "contractDelete", deleted: 1 } });
  assert.equal(ok(results[3]).revision, 4);
  assert.deepEqual(ok(results[4]), { revision: 4, response: { op: "contractDelete", deleted: 0 } });
  assert.equal(guard.loads, 1, "rules read once, then not again once none are left");
  assert.equal(t.store.range({ key: contractKey("r") }).count, 0);
  // Later batches start from the rules the last one left, until a set changes them.
  ok(t.run(setRule("r", "", "bad")));
  for (let i = 0; i < 5; i++) failed(t.run(put("k", "bad")), "ContractRejected");
  assert.equal(guard.loads, 2);
  await t.close();
});

test("without rules, a batch reads none; without a guard, writes are not checked", async () => {
  const guard = new FakeGuard();
  const t = guarded(guard);
  const puts = Array.from({ length: 50 }, (_, i) => put(`k${i}`, "bad"));
  t.store.apply(puts.map((c, i) => ({ index: i + 1, command: encodeCommand(c) })));
  assert.equal(guard.loads, 0);
  assert.equal(t.store.revision, 51);
  await t.close();

  const plain = TestStore.create();
  failed(plain.run(setRule("r", "", "bad")), "InvalidArgument", /not supported/);
  ok(plain.run(put("k", "bad")));
  failed(plain.run(put("qmesh/contracts/r", "v")), "InvalidArgument");
  await plain.close();
});

test("deterministic: two stores applying the same commands agree on every result and hash", async () => {
  const commands: Command[] = [
    setRule("r1", "a/", "x"),
    put("a/1", "ok"),
    put("a/2", "xx", { user: "u" }),
    txn([], [put("a/3", "ok"), put("a/4", "x")]),
    setRule("r2", "", "y"),
    del("a/", "a0"),
    put("b", "y"),
    { op: "contractDelete", name: "r1" },
    put("a/2", "xx"),
  ];
  const run = async () => {
    const t = guarded();
    const results = commands.map((c) => t.run(c));
    const hash = t.store.hashState();
    await t.close();
    return { results, hash };
  };
  const [one, two] = [await run(), await run()];
  assert.deepEqual(one, two);
  assert.equal(one.results.filter((r) => "error" in r).length, 3);
});

test("codec: a user is a trailer only when set; contract ops round-trip, never inside a txn", () => {
  const plain = put("k", "v");
  assert.ok(bytesEqual(encodeCommand({ ...plain, user: "" }), encodeCommand(plain)));
  const withUser = encodeCommand({ ...plain, user: "alice" });
  assert.deepEqual(decodeCommand(withUser), { ...plain, user: "alice" });
  const t = txn([], [put("a", "1")]);
  assert.deepEqual(decodeCommand(encodeCommand({ ...t, user: "bob" })), { ...t, user: "bob" });
  const d = { ...del("a", "b"), user: "carol" };
  assert.deepEqual(decodeCommand(encodeCommand(d)), d);
  const emptyUser = Uint8Array.of(...encodeCommand(plain), 1, 0);
  assert.throws(() => decodeCommand(emptyUser), CommandDecodeError);
  const compact = Uint8Array.of(...encodeCommand({ op: "compact", revision: 1 }), 1, 1, 0x61);
  assert.throws(() => decodeCommand(compact), /takes no user/);
  for (const c of [setRule("n", "", "x"), { op: "contractDelete", name: "n" }] as Command[]) {
    assert.deepEqual(decodeCommand(encodeCommand(c)), c);
  }
  // A txn (op 3) whose one success op is contractDelete (op 10) "n", made by hand.
  const forged = Uint8Array.of(1, 3, 0, 1, 10, 1, 0x6e, 0);
  assert.throws(() => decodeCommand(forged), /not allowed inside a txn/);
});

test("a rule key past the key limit is refused, not handed to LMDB", async () => {
  const t = guarded();
  const name = "n".repeat(2000);
  failed(t.run({ op: "contractDelete", name }), "InvalidArgument", /too long/);
  failed(t.run({ op: "contractSet", name, rule: fakeRule(name, "", "x") }), "InvalidArgument");
  await t.close();
});
