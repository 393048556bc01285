import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { test } from "node:test";
import { hashPassword, verifyPassword } from "./auth_password.ts";
import { permits } from "./auth_perms.ts";
import { decodeCommand, encodeCommand } from "./command.ts";
import { ALL, b, put, TestStore } from "./test_util.ts";
import type { ApplyResult, AuthCommand, Command, Permission } from "./types.ts";

const FAST = { log2N: 4, r: 8, p: 1 };
const SECRET = new Uint8Array(32).fill(7);
const hash = b("scrypt$4$8$1$c2FsdA$aGFzaA");

const errorOf = (r: ApplyResult): string | undefined =>
  "error" in r ? r.error.message : undefined;

function setupRoot(): AuthCommand[] {
  return [
    { op: "userAdd", user: "root", passwordHash: hash, noPassword: false },
    { op: "userGrantRole", user: "root", role: "root" },
  ];
}

test("auth commands round-trip through the codec", () => {
  const samples: AuthCommand[] = [
    { op: "authEnable", secret: SECRET },
    { op: "authDisable" },
    { op: "userAdd", user: "ü.ser", passwordHash: hash, noPassword: true },
    { op: "userDelete", user: "u" },
    { op: "userChangePassword", user: "u", passwordHash: hash },
    { op: "userGrantRole", user: "u", role: "r" },
    { op: "userRevokeRole", user: "u", role: "r" },
    { op: "roleAdd", role: "r" },
    { op: "roleDelete", role: "r" },
    { op: "roleGrantPermission", role: "r", permission: { type: 2, key: b("a"), rangeEnd: ALL } },
    { op: "roleRevokePermission", role: "r", key: b("a"), rangeEnd: b("b") },
  ];
  for (const c of samples) assert.deepEqual(decodeCommand(encodeCommand(c)), c);
});

test("auth enable needs a root user holding the root role; then the state answers reads", async () => {
  const t = TestStore.create();
  try {
    const enable: Command = { op: "authEnable", secret: SECRET };
    assert.equal(errorOf(t.run(enable)), "etcdserver: root user does not exist");
    t.run({ op: "userAdd", user: "root", passwordHash: hash, noPassword: false });
    assert.equal(errorOf(t.run(enable)), "etcdserver: root user does not have root role");
    t.run({ op: "userGrantRole", user: "root", role: "root" });
    const before = t.store.auth.revision;
    assert.equal(errorOf(t.run(enable)), undefined);
    assert.equal(t.store.auth.enabled, true);
    assert.deepEqual(t.store.auth.secret, SECRET);
    assert.equal(t.store.auth.revision, before + 1);
    // Enabling again is ignored, as etcd does.
    t.run({ op: "authEnable", secret: new Uint8Array(32) });
    assert.deepEqual(t.store.auth.secret, SECRET);
    assert.equal(t.store.auth.revision, before + 1);
    // While enabled, root can be neither deleted nor stripped of the root role.
    const mgmt = "etcdserver: invalid auth management";
    assert.equal(errorOf(t.run({ op: "userDelete", user: "root" })), mgmt);
    assert.equal(errorOf(t.run({ op: "userRevokeRole", user: "root", role: "root" })), mgmt);
    t.run({ op: "authDisable" });
    assert.equal(t.store.auth.enabled, false);
    assert.equal(t.store.auth.secret, undefined);
  } finally {
    await t.close();
  }
});

test("every change bumps authRevision; refusals and kv writes do not; kv revision untouched", async () => {
  const t = TestStore.create();
  try {
    const steps: Array<[AuthCommand, string | undefined]> = [
      [{ op: "roleAdd", role: "" }, "etcdserver: role name is empty"],
      [{ op: "roleAdd", role: "reader" }, undefined],
      [{ op: "roleAdd", role: "reader" }, "etcdserver: role name already exists"],
      [
        { op: "userAdd", user: "", passwordHash: hash, noPassword: false },
        "etcdserver: user name is empty",
      ],
      [{ op: "userAdd", user: "alice", passwordHash: hash, noPassword: false }, undefined],
      [
        { op: "userAdd", user: "alice", passwordHash: hash, noPassword: false },
        "etcdserver: user name already exists",
      ],
      [{ op: "userGrantRole", user: "bob", role: "reader" }, "etcdserver: user name not found"],
      [{ op: "userGrantRole", user: "alice", role: "nope" }, "etcdserver: role name not found"],
      [{ op: "userGrantRole", user: "alice", role: "reader" }, undefined],
      [
        { op: "userRevokeRole", user: "alice", role: "other" },
        "etcdserver: role is not granted to the user",
      ],
      [
        {
          op: "roleGrantPermission",
          role: "reader",
          permission: { type: 0, key: b("a"), rangeEnd: b("c") },
        },
        undefined,
      ],
      [
        { op: "roleRevokePermission", role: "reader", key: b("a"), rangeEnd: b("") },
        "etcdserver: permission is not granted to the role",
      ],
      [
        {
          op: "roleGrantPermission",
          role: "nope",
          permission: { type: 0, key: b("a"), rangeEnd: b("") },
        },
        "etcdserver: role name not found",
      ],
    ];
    const kvRevision = t.store.revision;
    for (const [command, error] of steps) {
      const before = t.store.auth.revision;
      const result = t.run(command);
      assert.equal(errorOf(result), error, command.op);
      assert.equal(t.store.auth.revision, error === undefined ? before + 1 : before, command.op);
    }
    assert.equal(t.store.revision, kvRevision);
    const before = t.store.auth.revision;
    t.run(put("k", "v"));
    assert.equal(t.store.auth.revision, before);
  } finally {
    await t.close();
  }
});

test("granting a permission on the same range updates its type; permissions stay sorted by key", async () => {
  const t = TestStore.create();
  try {
    t.run({ op: "roleAdd", role: "r" });
    const grant = (type: 0 | 1 | 2, key: string, rangeEnd = ""): void => {
      t.run({
        op: "roleGrantPermission",
        role: "r",
        permission: { type, key: b(key), rangeEnd: b(rangeEnd) },
      });
    };
    grant(0, "m");
    grant(1, "b", "c");
    grant(2, "m");
    assert.deepEqual(t.store.auth.role("r")?.permissions, [
      { type: 1, key: b("b"), rangeEnd: b("c") },
      { type: 2, key: b("m"), rangeEnd: b("") },
    ]);
  } finally {
    await t.close();
  }
});

test("deleting a role removes it from every user in the same command", async () => {
  const t = TestStore.create();
  try {
    for (const c of setupRoot()) t.run(c);
    t.run({ op: "roleAdd", role: "gone" });
    t.run({ op: "roleAdd", role: "kept" });
    for (const user of ["u1", "u2"]) {
      t.run({ op: "userAdd", user, passwordHash: hash, noPassword: false });
      t.run({ op: "userGrantRole", user, role: "gone" });
      t.run({ op: "userGrantRole", user, role: "kept" });
    }
    t.run({ op: "roleDelete", role: "gone" });
    assert.deepEqual(t.store.auth.roleNames(), ["kept"]);
    assert.deepEqual(t.store.auth.user("u1")?.roles, ["kept"]);
    assert.deepEqual(t.store.auth.user("u2")?.roles, ["kept"]);
    assert.deepEqual(t.store.auth.user("root")?.roles, ["root"]);
    assert.deepEqual(t.store.auth.userNames(), ["root", "u1", "u2"]);
  } finally {
    await t.close();
  }
});

test("passwords reach neither the log nor the store: only the scrypt hash does", async () => {
  const password = "correct horse battery staple";
  const passwordHash = await hashPassword(password, FAST);
  assert.equal(await verifyPassword(password, passwordHash), true);
  assert.equal(await verifyPassword("wrong", passwordHash), false);
  assert.equal(await verifyPassword(password, b("garbage")), false);
  // Two hashes of one password differ (random salt).
  assert.notDeepEqual(await hashPassword(password, FAST), passwordHash);
  const command: Command = { op: "userAdd", user: "alice", passwordHash, noPassword: false };
  const entry = Buffer.from(encodeCommand(command));
  assert.equal(entry.includes(password), false);
  const t = TestStore.create();
  try {
    t.run(command);
    await t.store.sync();
    const file = readFileSync(join(t.dir, "db", "data.mdb"));
    assert.equal(file.includes(password), false);
    assert.equal(file.includes(Buffer.from(passwordHash)), true);
    const user = t.store.auth.user("alice");
    assert.equal(await verifyPassword(password, user!.passwordHash), true);
  } finally {
    await t.close();
  }
});

test("members applying the same auth and kv commands end byte-identical (hashState)", async () => {
  const commands: Command[] = [
    ...setupRoot(),
    { op: "roleAdd", role: "r" },
    { op: "roleGrantPermission", role: "r", permission: { type: 0, key: b("a"), rangeEnd: ALL } },
    put("a", "1"),
    { op: "userAdd", user: "u", passwordHash: hash, noPassword: false },
    { op: "userGrantRole", user: "u", role: "r" },
    { op: "authEnable", secret: SECRET },
    { op: "userDelete", user: "root" },
    { op: "roleDelete", role: "r" },
    put("b", "2"),
    { op: "authDisable" },
  ];
  const stores = [TestStore.create(), TestStore.create()];
  try {
    const results = stores.map((t) => commands.map((c) => t.run(c)));
    assert.deepEqual(results[0], results[1]);
    assert.equal(stores[0]!.store.hashState(), stores[1]!.store.hashState());
    // The auth state is part of the hash: one more change makes the members differ.
    stores[0]!.run({ op: "roleAdd", role: "extra" });
    assert.notEqual(stores[0]!.store.hashState(), stores[1]!.store.hashState());
  } finally {
    for (const t of stores) await t.close();
  }
});

test("key permissions: points, ranges, from-key, unions, read versus write", () => {
  const p = (type: 0 | 1 | 2, key: string, rangeEnd: string | Uint8Array = ""): Permission => ({
    type,
    key: b(key),
    rangeEnd: typeof rangeEnd === "string" ? b(rangeEnd) : rangeEnd,
  });
  const perms = [p(0, "a", "c"), p(2, "c", "e"), p(1, "w"), p(0, "x", ALL)];
  const can = (key: string, rangeEnd: string | Uint8Array, write: boolean): boolean =>
    permits(perms, b(key), typeof rangeEnd === "string" ? b(rangeEnd) : rangeEnd, write);
  assert.equal(can("a", "", false), true);
  assert.equal(can("a", "", true), false);
  assert.equal(can("b", "e", false), true); // [a,c) ∪ [c,e) covers [b,e)
  assert.equal(can("b", "f", false), false);
  assert.equal(can("c", "e", true), true);
  assert.equal(can("d", "", true), true);
  assert.equal(can("w", "", true), true);
  assert.equal(can("w", "", false), false);
  assert.equal(can("w", "w\x00\x00", true), false); // a point grant is one key only
  assert.equal(can("x", ALL, false), true);
  assert.equal(can("zzz", "", false), true);
  assert.equal(can("a", ALL, false), false);
  assert.equal(can("b", "a", false), false); // inverted range
  assert.equal(permits([], b("a"), b(""), false), false);
});
