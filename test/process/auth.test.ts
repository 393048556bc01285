// etcd v3 auth on a 3-member cluster, driven by etcdctl 3.4 and the gRPC client: enable, users,
// roles, key permissions, tokens that work on every member, refusals with etcd's messages, disable.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import * as grpc from "@grpc/grpc-js";
import type { EtcdClient } from "../../src/api/grpc/client.ts";
import { TestCluster } from "./harness.ts";

const run = promisify(execFile);
const NAMES = ["n1", "n2", "n3"];
const cluster = new TestCluster();

const client = (name: string): EtcdClient => cluster.grpc(name);

async function etcdctl(args: string[], user?: string): Promise<string> {
  const endpoints = NAMES.map((n) => cluster.spec(n).clientUrl).join(",");
  const auth = user === undefined ? [] : [`--user=${user}`];
  try {
    const { stdout } = await run("etcdctl", [`--endpoints=${endpoints}`, ...auth, ...args], {
      env: { ...process.env, ETCDCTL_API: "3" },
      timeout: 20_000,
    });
    return stdout;
  } catch (error) {
    const e = error as { stderr?: string; stdout?: string };
    throw new Error(`etcdctl ${args.join(" ")}: ${e.stderr ?? ""}${e.stdout ?? ""}`);
  }
}

const withToken = (token: string): grpc.Metadata => {
  const m = new grpc.Metadata();
  m.set("token", token);
  return m;
};

async function login(name: string, user: string, password: string): Promise<string> {
  const { token } = await client(name).call("Auth", "Authenticate", { name: user, password });
  return token as string;
}

const b = (text: string) => Buffer.from(text);

before(async () => {
  await cluster.startAll(NAMES);
});
after(async () => {
  await cluster.destroy();
});

test("auth enable needs root with the root role; etcdctl sets up the role itself", {
  timeout: 60_000,
}, async () => {
  await assert.rejects(client("n1").call("Auth", "AuthEnable", {}), {
    details: "etcdserver: root user does not exist",
  });
  await etcdctl(["user", "add", "root:rootpw"]);
  await assert.rejects(client("n1").call("Auth", "AuthEnable", {}), {
    details: "etcdserver: root user does not have root role",
  });
  // etcdctl answers that error by adding role root and granting it, then enables.
  assert.match(await etcdctl(["auth", "enable"]), /Authentication Enabled/);
  const token = await login("n2", "root", "rootpw");
  const status = await client("n3").call("Auth", "AuthStatus", {}, withToken(token));
  assert.equal(status.enabled, true);
  assert.ok(Number(status.authRevision) >= 3);
  // Without a token, calls are refused as etcd refuses them.
  await assert.rejects(client("n1").call("KV", "Put", { key: b("k"), value: b("v") }), {
    details: "etcdserver: user name is empty",
  });
});

test("a read-only user reads its prefix and is refused writes and other keys", {
  timeout: 60_000,
}, async () => {
  const root = "root:rootpw";
  await etcdctl(["role", "add", "reader"], root);
  await etcdctl(["role", "grant-permission", "reader", "read", "/app/", "--prefix"], root);
  await etcdctl(["user", "add", "alice:alicepw"], root);
  await etcdctl(["user", "grant-role", "alice", "reader"], root);
  await etcdctl(["put", "/app/x", "1"], root);
  await etcdctl(["put", "/other", "2"], root);
  assert.match(await etcdctl(["user", "get", "alice"], root), /Roles: reader/);
  assert.match(await etcdctl(["role", "get", "reader"], root), /\[\/app\/, \/app0\)/);
  assert.match(await etcdctl(["user", "list"], root), /alice\nroot/);

  assert.equal(await etcdctl(["get", "/app/x", "--print-value-only"], "alice:alicepw"), "1\n");
  await assert.rejects(
    etcdctl(["put", "/app/x", "2"], "alice:alicepw"),
    /etcdserver: permission denied/,
  );
  await assert.rejects(
    etcdctl(["get", "/other"], "alice:alicepw"),
    /etcdserver: permission denied/,
  );
  await assert.rejects(etcdctl(["user", "list"], "alice:alicepw"), /etcdserver: permission denied/);
  await assert.rejects(
    etcdctl(["get", "/app/x"], "alice:wrong"),
    /authentication failed, invalid user ID or password/,
  );
});

test("a token issued by one member works on every other; forged tokens do not", {
  timeout: 60_000,
}, async () => {
  const token = await login("n1", "alice", "alicepw");
  for (const name of ["n2", "n3"]) {
    const got = await client(name).call("KV", "Range", { key: b("/app/x") }, withToken(token));
    assert.equal(Buffer.from(got.kvs[0].value).toString(), "1");
    await assert.rejects(
      client(name).call("KV", "Put", { key: b("/app/x"), value: b("3") }, withToken(token)),
      {
        code: grpc.status.PERMISSION_DENIED,
        details: "etcdserver: permission denied",
      },
    );
  }
  // Claiming to be root with alice's signature, or altering the signature, is caught.
  const [, revision, expiry, mac] = token.split(".");
  const asRoot = [Buffer.from("root").toString("base64url"), revision, expiry, mac].join(".");
  const flipped = token.slice(0, -2) + (token.endsWith("AA") ? "BB" : "AA");
  for (const bad of [asRoot, flipped, "garbage"]) {
    await assert.rejects(client("n2").call("KV", "Range", { key: b("/app/x") }, withToken(bad)), {
      code: grpc.status.UNAUTHENTICATED,
      details: "etcdserver: invalid auth token",
    });
  }
  await assert.rejects(login("n3", "alice", "nope"), {
    details: "etcdserver: authentication failed, invalid user ID or password",
  });
  await assert.rejects(login("n3", "mallory", "x"), {
    details: "etcdserver: authentication failed, invalid user ID or password",
  });
});

test("admin RPCs need root; a password change voids the old token; errors match etcd", {
  timeout: 60_000,
}, async () => {
  const rootToken = withToken(await login("n2", "root", "rootpw"));
  const aliceToken = await login("n1", "alice", "alicepw");
  await assert.rejects(client("n1").call("Auth", "RoleAdd", { name: "x" }, withToken(aliceToken)), {
    details: "etcdserver: permission denied",
  });
  // A user may read itself and its roles.
  const self = await client("n1").call("Auth", "UserGet", { name: "alice" }, withToken(aliceToken));
  assert.deepEqual(self.roles, ["reader"]);
  const role = await client("n1").call(
    "Auth",
    "RoleGet",
    { role: "reader" },
    withToken(aliceToken),
  );
  assert.deepEqual(
    role.perm.map((p: { permType: number }) => p.permType),
    [0],
  );

  const c = client("n3");
  await assert.rejects(c.call("Auth", "UserDelete", { name: "root" }, rootToken), {
    details: "etcdserver: invalid auth management",
  });
  await assert.rejects(
    c.call("Auth", "UserGrantRole", { user: "alice", role: "nope" }, rootToken),
    {
      details: "etcdserver: role name not found",
    },
  );
  await assert.rejects(c.call("Auth", "RoleGrantPermission", { name: "reader" }, rootToken), {
    details: "etcdserver: permission not given",
  });
  await assert.rejects(
    c.call("Auth", "RoleRevokePermission", { role: "reader", key: b("/zzz") }, rootToken),
    {
      details: "etcdserver: permission is not granted to the role",
    },
  );
  await c.call("Auth", "UserChangePassword", { name: "alice", password: "newpw" }, rootToken);
  await assert.rejects(
    client("n2").call("KV", "Range", { key: b("/app/x") }, withToken(aliceToken)),
    {
      details: "etcdserver: invalid auth token",
    },
  );
  const fresh = await login("n2", "alice", "newpw");
  await client("n1").call("KV", "Range", { key: b("/app/x") }, withToken(fresh));
  // Deleting the role takes it from alice at once.
  await c.call("Auth", "RoleDelete", { role: "reader" }, rootToken);
  await assert.rejects(client("n1").call("KV", "Range", { key: b("/app/x") }, withToken(fresh)), {
    details: "etcdserver: permission denied",
  });
});

test("auth disable: tokens are ignored and calls pass again", { timeout: 60_000 }, async () => {
  assert.match(await etcdctl(["auth", "disable"], "root:rootpw"), /Authentication Disabled/);
  await client("n2").call("KV", "Put", { key: b("k"), value: b("v") });
  await client("n3").call("KV", "Range", { key: b("k") }, withToken("garbage"));
  const status = await client("n1").call("Auth", "AuthStatus", {});
  assert.equal(status.enabled, false);
  await assert.rejects(login("n1", "root", "rootpw"), {
    details: "etcdserver: authentication is not enabled",
  });
});
