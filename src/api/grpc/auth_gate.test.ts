import assert from "node:assert/strict";
import { test } from "node:test";
import * as grpc from "@grpc/grpc-js";
import { b, TestStore } from "../../kv/test_util.ts";
import { TokenAuthGate } from "./auth_gate.ts";
import { issueToken, TOKEN_TTL_MS, verifyToken } from "./auth_token.ts";

const SECRET = new Uint8Array(32).fill(9);
const hash = b("scrypt$4$8$1$c2FsdA$aGFzaA");
const EMPTY = new Uint8Array(0);

const md = (token?: string): grpc.Metadata => {
  const m = new grpc.Metadata();
  if (token !== undefined) m.set("token", token);
  return m;
};

test("tokens: signed claims round-trip; expired, forged or foreign-secret tokens are refused", () => {
  const claims = { user: "a.b", revision: 7, expiresAtMs: 1_000 + TOKEN_TTL_MS };
  const token = issueToken(SECRET, claims);
  assert.deepEqual(verifyToken(SECRET, token, 1_000), claims);
  assert.equal(verifyToken(SECRET, token, claims.expiresAtMs), null);
  assert.equal(verifyToken(new Uint8Array(32), token, 1_000), null);
  const parts = token.split(".");
  parts[2] = String(claims.expiresAtMs + 1);
  assert.equal(verifyToken(SECRET, parts.join("."), 1_000), null);
  assert.equal(verifyToken(SECRET, "a.b.c", 1_000), null);
});

test("the gate: disabled passes all; enabled checks token, expiry, permissions and root", async () => {
  const t = TestStore.create();
  let now = 1_000_000;
  const gate = new TokenAuthGate(t.store.auth, () => now);
  const read = [{ key: b("a"), rangeEnd: EMPTY, write: false }];
  const write = [{ key: b("a"), rangeEnd: EMPTY, write: true }];
  try {
    gate.checkKeys(md(), write);
    gate.checkAdmin(md("garbage"));
    t.run({ op: "userAdd", user: "root", passwordHash: hash, noPassword: false });
    t.run({ op: "userGrantRole", user: "root", role: "root" });
    t.run({ op: "roleAdd", role: "r" });
    const permission = { type: 0 as const, key: b("a"), rangeEnd: EMPTY };
    t.run({ op: "roleGrantPermission", role: "r", permission });
    t.run({ op: "userAdd", user: "u", passwordHash: hash, noPassword: false });
    t.run({ op: "userGrantRole", user: "u", role: "r" });
    t.run({ op: "authEnable", secret: SECRET });
    const tokenOf = (user: string) =>
      issueToken(SECRET, {
        user,
        revision: t.store.auth.revision,
        expiresAtMs: now + TOKEN_TTL_MS,
      });
    const u = tokenOf("u");
    gate.checkKeys(md(u), read);
    assert.throws(() => gate.checkKeys(md(u), write), { message: "etcdserver: permission denied" });
    assert.throws(() => gate.checkAdmin(md(u)), { message: "etcdserver: permission denied" });
    assert.throws(() => gate.checkKeys(md(), read), { message: "etcdserver: user name is empty" });
    gate.checkAdmin(md(tokenOf("root")));
    now += TOKEN_TTL_MS;
    assert.throws(() => gate.checkKeys(md(u), read), { message: "etcdserver: invalid auth token" });
    now -= TOKEN_TTL_MS;
    // A password change, or deleting the user, voids tokens issued before it.
    t.run({ op: "userChangePassword", user: "u", passwordHash: hash });
    assert.throws(() => gate.checkKeys(md(u), read), { message: "etcdserver: invalid auth token" });
    const fresh = tokenOf("u");
    gate.checkKeys(md(fresh), read);
    t.run({ op: "userDelete", user: "u" });
    assert.throws(() => gate.checkKeys(md(fresh), read), {
      message: "etcdserver: invalid auth token",
    });
  } finally {
    await t.close();
  }
});
