// Contract rules on a real 3-member cluster: a rule set through the Contracts service checks every
// write on every member; a rejected write is an error naming the rule, is applied nowhere, and is
// a rejected leaf on the ledger; changing or deleting a rule is itself a write; the rules' keys
// are off limits to plain writes; the CLI manages and tests rules; with auth on, rules see the
// writing user and only root manages them.
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { after, before, describe, it } from "node:test";
import * as grpc from "@grpc/grpc-js";
import type { EtcdClient } from "../../src/api/grpc/client.ts";
import { LEDGER_INDEX_METADATA } from "../../src/api/grpc/context.ts";
import { decodeLeaf, type Leaf, LeafKind } from "../../src/ledger/index.ts";
import { BIN, b64, eventually, TestCluster } from "./harness.ts";

const NAMES = ["n1", "n2", "n3"];
const b = (text: string) => Buffer.from(text);

const DOCS = {
  name: "docs",
  prefix: b("docs/"),
  expression: "value.json != null && has(value.json.owner) && value.size <= 64 && prev == null",
  message: "a doc is JSON with an owner, at most 64 bytes, written once",
};

describe("contract rules on a 3-member cluster", { timeout: 240_000 }, () => {
  const cluster = new TestCluster();
  const client = (name: string): EtcdClient => cluster.grpc(name);
  /** Root's token once the auth test enabled auth. */
  let rootMetadata = new grpc.Metadata();
  const qmesh = (args: readonly string[]) =>
    spawnSync(
      process.execPath,
      [BIN, ...args, "--endpoints", NAMES.map((n) => cluster.spec(n).clientUrl).join(",")],
      { encoding: "utf8", timeout: 30_000 },
    );
  const revision = async (name = "n1") =>
    Number((await client(name).call("KV", "Range", { key: b("none") })).header.revision);
  const put = (name: string, key: string, value: string, metadata?: grpc.Metadata) =>
    client(name).call("KV", "Put", { key: b(key), value: b(value) }, metadata);
  /** The leaf of a write whose reply carried its ledger index. */
  const leafOf = async (trailer: grpc.Metadata): Promise<Leaf> => {
    const index = String(trailer.get(LEDGER_INDEX_METADATA)[0]);
    const proof = await client("n1").call("Ledger", "InclusionProof", { leaf_index: index });
    return decodeLeaf(new Uint8Array(proof.leaf));
  };
  /** The most recent leaves of a member's ledger. */
  const recentLeaves = async (name: string, count = 300): Promise<Leaf[]> => {
    const size = Number((await client(name).call("Ledger", "Checkpoint", {})).tree_size);
    const start = Math.max(0, size - count);
    const page = await client(name).call("Ledger", "Leaves", {
      start: String(start),
      limit: count,
    });
    return page.leaves.map((l: { data: Buffer }) => decodeLeaf(new Uint8Array(l.data)));
  };

  before(async () => {
    await cluster.startAll(NAMES);
  });
  after(async () => {
    await cluster.destroy();
  });

  it("a rule checks writes on every member; a rejection names the rule, is applied nowhere, and is a rejected leaf", async () => {
    const set = await client("n2").callWithTrailer("Contracts", "Set", DOCS);
    const setLeaf = await leafOf(set.trailer);
    assert.equal(setLeaf.kind, LeafKind.Kv);
    assert.equal(setLeaf.rejected, null);
    assert.equal(setLeaf.revision, Number(set.response.header.revision));

    await put("n2", "docs/1", '{"owner":"alice"}');
    const before = await revision();
    const rejections: [string, string][] = [
      ["docs/2", "not json"],
      ["docs/1", '{"owner":"bob"}'], // write-once
      ["docs/3", JSON.stringify({ owner: "carol", pad: "x".repeat(80) })],
      ["docs/4", '{"title":"no owner"}'],
    ];
    for (const [i, [key, value]] of rejections.entries()) {
      await assert.rejects(put(NAMES[i % 3]!, key, value), (error: grpc.ServiceError) => {
        assert.equal(error.code, grpc.status.FAILED_PRECONDITION);
        assert.equal(
          error.details,
          `contract rule "docs" rejected the write: ${DOCS.message}`,
          `${key} ${value}`,
        );
        return true;
      });
    }
    assert.equal(await revision(), before, "rejected writes create no revision");
    // The JSON gateway maps it the same way.
    const viaJson = await cluster.call("n3", "/v3/kv/put", { key: b64("docs/5"), value: b64("x") });
    assert.equal(viaJson.status, 400);
    assert.equal(viaJson.body.code, grpc.status.FAILED_PRECONDITION);
    assert.match(String(viaJson.body.message), /contract rule "docs" rejected the write/);
    await put("n3", "elsewhere/1", "no rule here");

    for (const name of NAMES) {
      // Linearizable reads: each member has applied everything above.
      assert.equal(await cluster.get(name, "docs/1"), '{"owner":"alice"}', name);
      for (const key of ["docs/2", "docs/3", "docs/4", "docs/5"]) {
        assert.equal(await cluster.get(name, key), null, `${name} ${key}`);
      }
      const rejected = (await recentLeaves(name)).filter((l) =>
        /^ContractRejected: contract rule "docs" rejected the write/.test(l.rejected ?? ""),
      );
      assert.equal(rejected.length, 5, `${name}: every rejection is a rejected leaf`);
      assert.ok(Buffer.from(rejected[0]!.request).includes(b("not json")), "the request itself");
    }
  });

  it("changing and deleting a rule are writes on the ledger", async () => {
    const before = await revision();
    const relaxed = { ...DOCS, expression: "value.json != null && has(value.json.owner)" };
    const changed = await client("n1").callWithTrailer("Contracts", "Set", relaxed);
    assert.equal(Number(changed.response.header.revision), before + 1);
    assert.equal((await leafOf(changed.trailer)).revision, before + 1);
    const stored = await client("n3").call("KV", "Range", { key: b("qmesh/contracts/docs") });
    assert.equal(stored.kvs[0].version, "2");
    assert.equal(Number(stored.kvs[0].mod_revision), before + 1);
    await put("n3", "docs/1", '{"owner":"bob"}'); // no longer write-once

    const deleted = await client("n2").callWithTrailer("Contracts", "Delete", { name: "docs" });
    assert.equal(deleted.response.deleted, true);
    assert.equal(Number(deleted.response.header.revision), before + 3);
    const leaf = await leafOf(deleted.trailer);
    assert.deepEqual([leaf.revision, leaf.rejected], [before + 3, null]);
    const again = await client("n2").call("Contracts", "Delete", { name: "docs" });
    assert.equal(again.deleted, false);
    assert.equal(Number(again.header.revision), before + 3, "deleting nothing is no revision");
    await put("n1", "docs/2", "not json, and no rule left to mind");
  });

  it("plain writes to qmesh/contracts/ and invalid rules are refused with clear messages", async () => {
    await assert.rejects(put("n1", "qmesh/contracts/sneaky", "x"), {
      code: grpc.status.INVALID_ARGUMENT,
      details:
        /keys under qmesh\/contracts\/ hold contract rules: use `qmesh contract set\|delete`/,
    });
    await assert.rejects(
      client("n2").call("Contracts", "Set", { ...DOCS, expression: "value.json.owner ==" }),
      { code: grpc.status.INVALID_ARGUMENT, details: /invalid rule expression/ },
    );
    await assert.rejects(client("n2").call("Contracts", "Set", { ...DOCS, name: "bad name" }), {
      code: grpc.status.INVALID_ARGUMENT,
      details: /invalid rule name/,
    });
    const viaJson = await cluster.call("n1", "/v3/contracts/set", {
      name: "json-rule",
      prefix: b64("json/"),
      expression: "value.size < 4",
      message: "short",
    });
    assert.equal(viaJson.status, 200, JSON.stringify(viaJson.body));
    await assert.rejects(put("n1", "json/x", "long"), { details: /rule "json-rule".*short/ });
    const removed = await cluster.call("n1", "/v3/contracts/delete", { name: "json-rule" });
    assert.equal(removed.body.deleted, true);
  });

  it("CLI: contract set, get, list, test and delete; a bad expression is refused", () => {
    const ok = (args: readonly string[]) => {
      const result = qmesh(args);
      assert.equal(result.status, 0, `${args.join(" ")}: ${result.stderr}`);
      return result.stdout;
    };
    const expr = "value.size <= 3 && user != 'mallory'";
    assert.equal(
      ok(["contract", "set", "tiny", "--prefix", "cli/", "--expr", expr, "--message", "too big"]),
      "OK\n",
    );
    const bad = qmesh(["contract", "set", "broken", "--prefix", "x/", "--expr", "value.size <="]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /^qmesh: invalid rule expression: .*\(line 1, column \d+\)/);
    const get = ok(["contract", "get", "tiny"]);
    assert.match(
      get,
      /^name: tiny\nprefix: "cli\/"\nexpression: value\.size <= 3 && user != 'mallory'\nmessage: too big\nrevision: \d+\n$/,
    );
    assert.equal(JSON.parse(ok(["contract", "get", "tiny", "-w", "json"])).prefix, "cli/");
    assert.equal(ok(["contract", "list"]), `tiny\t"cli/"\t${expr}\n`);
    assert.equal(
      ok(["get", "qmesh/contracts/", "--prefix", "--keys-only"]),
      "qmesh/contracts/tiny\n\n",
    );

    assert.equal(ok(["contract", "test", "tiny", "cli/a", "--value", "abc"]), "allowed\n");
    const rejected = qmesh(["contract", "test", "tiny", "cli/a", "--value", "abcd"]);
    assert.equal(rejected.status, 1);
    assert.equal(rejected.stdout, 'rejected: contract rule "tiny" rejected the write: too big\n');
    const asMallory = ["cli/a", "--value", "a", "--as-user", "mallory"];
    assert.equal(qmesh(["contract", "test", "tiny", ...asMallory]).status, 1);
    assert.match(
      ok(["contract", "test", "tiny", "other", "--value", "abcdef"]),
      /^allowed: rule "tiny" does not apply to key "other"/,
    );
    // value is null for a delete, so this rule fails (closed) on one: rules say `op == "delete"`.
    const del = qmesh(["contract", "test", "tiny", "cli/a", "--delete"]);
    assert.equal(del.status, 1);
    assert.match(del.stdout, /^rejected: contract rule "tiny" failed: /);

    const refused = qmesh(["put", "cli/a", "abcd"]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /contract rule "tiny" rejected the write: too big/);
    assert.equal(ok(["put", "cli/a", "abc"]), "OK\n");

    assert.equal(ok(["contract", "delete", "tiny"]), "OK\n");
    const gone = qmesh(["contract", "delete", "tiny"]);
    assert.equal(gone.status, 1);
    assert.match(gone.stderr, /no contract rule named "tiny"/);
    assert.equal(qmesh(["contract", "get", "tiny"]).status, 1);
    assert.equal(ok(["contract", "list"]), "");
  });

  it("with auth on, rules see the writing user and only root manages them", async () => {
    const c = client("n1");
    await c.call("Auth", "UserAdd", { name: "root", password: "rootpw" });
    await c.call("Auth", "RoleAdd", { name: "root" });
    await c.call("Auth", "UserGrantRole", { user: "root", role: "root" });
    await c.call("Auth", "UserAdd", { name: "alice", password: "alicepw" });
    await c.call("Auth", "RoleAdd", { name: "owners" });
    await c.call("Auth", "RoleGrantPermission", {
      name: "owners",
      perm: { permType: 2, key: b("owned/"), range_end: b("owned0") },
    });
    await c.call("Auth", "UserGrantRole", { user: "alice", role: "owners" });
    await c.call("Auth", "AuthEnable", {});
    const token = async (name: string, password: string) => {
      const metadata = new grpc.Metadata();
      const reply = await c.call("Auth", "Authenticate", { name, password });
      metadata.set("token", reply.token);
      return { metadata, token: reply.token as string };
    };
    const root = await token("root", "rootpw");
    rootMetadata = root.metadata;
    const alice = await token("alice", "alicepw");
    const rule = {
      name: "owned",
      prefix: b("owned/"),
      expression: "value.json.owner == user",
      message: "you may only write documents you own",
    };
    await assert.rejects(c.call("Contracts", "Set", rule, alice.metadata), {
      code: grpc.status.PERMISSION_DENIED,
    });
    await c.call("Contracts", "Set", rule, root.metadata);
    await put("n2", "owned/1", '{"owner":"alice"}', alice.metadata);
    await assert.rejects(put("n3", "owned/2", '{"owner":"bob"}', alice.metadata), {
      details: `contract rule "owned" rejected the write: ${rule.message}`,
    });
    // The gateway carries the user too.
    const viaJson = await fetch(`${cluster.spec("n2").clientUrl}/v3/kv/put`, {
      method: "POST",
      headers: { authorization: alice.token },
      body: JSON.stringify({ key: b64("owned/3"), value: b64('{"owner":"alice"}') }),
    });
    assert.equal(viaJson.status, 200, await viaJson.clone().text());
    const asAlice = qmesh(["contract", "delete", "owned", "--user", "alice:alicepw"]);
    assert.equal(asAlice.status, 1);
    assert.match(asAlice.stderr, /permission denied/);
    const cli = qmesh([
      "contract",
      "test",
      "owned",
      "owned/9",
      "--value",
      '{"owner":"alice"}',
      "--user",
      "root:rootpw",
    ]);
    assert.equal(cli.status, 1, "root is not alice: the test write is made as the --user");

    // Lock (and election) writes are made as their caller too.
    await c.call(
      "Auth",
      "RoleGrantPermission",
      { name: "owners", perm: { permType: 2, key: b("locks/"), range_end: b("locks0") } },
      root.metadata,
    );
    const onlyAlice = {
      name: "locks",
      prefix: b("locks/"),
      expression: "user == 'alice'",
      message: "only alice locks here",
    };
    await c.call("Contracts", "Set", onlyAlice, root.metadata);
    const held = await c.call("Lock", "Lock", { name: b("locks/a"), lease: "0" }, alice.metadata);
    assert.match(Buffer.from(held.key).toString(), /^locks\/a\/[0-9a-f]+$/);
    await c.call("Lock", "Unlock", { key: held.key }, alice.metadata);
    await assert.rejects(
      c.call("Lock", "Lock", { name: b("locks/b"), lease: "0" }, root.metadata),
      {
        details: `contract rule "locks" rejected the write: ${onlyAlice.message}`,
      },
    );
    await assert.rejects(
      c.call(
        "Election",
        "Campaign",
        { name: b("locks/e"), lease: "0", value: b("x") },
        root.metadata,
      ),
      { details: `contract rule "locks" rejected the write: ${onlyAlice.message}` },
    );
  });

  it("a stopped member's ledger replays to its state: the rules decide the same on replay", async () => {
    // A write the rule rejects while n3 is up, so the replay has one to refuse again.
    await assert.rejects(put("n1", "owned/4", '{"owner":"bob"}', rootMetadata), {
      code: grpc.status.FAILED_PRECONDITION,
    });
    const applied = async (name: string) =>
      (await client(name).call("Maintenance", "Status", {}, rootMetadata)).raftAppliedIndex;
    await eventually(async () => assert.equal(await applied("n3"), await applied("n1")));
    await cluster.kill9("n3");
    const verify = spawnSync(
      process.execPath,
      [BIN, "ledger", "verify", "--data-dir", cluster.spec("n3").dataDir],
      { encoding: "utf8", timeout: 60_000 },
    );
    assert.equal(verify.status, 0, verify.stdout + verify.stderr);
    assert.match(verify.stdout, /state: replaying the \d+ leaves gives the member's state exactly/);
  });
});
