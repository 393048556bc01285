// The client commands as a user runs them: bin/qmesh against a 3-member cluster over gRPC, with
// etcdctl's output, and clear messages for bad input.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { existsSync, statSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { BIN, eventually, TestCluster } from "./harness.ts";

describe("qmesh client commands (gRPC)", { timeout: 180_000 }, () => {
  const cluster = new TestCluster();
  const names = ["n1", "n2", "n3"];
  let endpoints = "";
  const qmesh = (args: readonly string[], input?: string) =>
    spawnSync(process.execPath, [BIN, ...args, "--endpoints", endpoints], {
      encoding: "utf8",
      timeout: 30_000,
      ...(input === undefined ? {} : { input }),
    });
  const ok = (args: readonly string[], input?: string) => {
    const result = qmesh(args, input);
    assert.equal(result.status, 0, `${args.join(" ")}: ${result.stderr}`);
    return result.stdout;
  };

  before(async () => {
    await cluster.startAll(names);
    // An unreachable endpoint first: the CLI moves on to the next.
    endpoints = ["http://127.0.0.1:1", ...names.map((name) => cluster.spec(name).clientUrl)].join(
      ",",
    );
  });
  after(() => cluster.destroy());

  it("put, get (prefix, keys-only, value-only, rev, json), del with --prev-kv", () => {
    assert.equal(ok(["put", "cli/a", "1"]), "OK\n");
    assert.equal(ok(["put", "cli/a", "2", "--prev-kv"]), "OK\ncli/a\n1\n");
    assert.equal(ok(["put", "cli/b", "3"]), "OK\n");
    assert.equal(ok(["get", "cli/", "--prefix"]), "cli/a\n2\ncli/b\n3\n");
    assert.equal(ok(["get", "cli/", "--prefix", "--keys-only"]), "cli/a\n\ncli/b\n\n");
    assert.equal(ok(["get", "cli/", "--prefix", "--print-value-only", "--limit", "1"]), "2\n");
    assert.equal(ok(["get", "cli/b", "--from-key", "--serializable"]).split("\n")[0], "cli/b");
    const json = JSON.parse(ok(["get", "cli/a", "-w", "json"]));
    assert.equal(Buffer.from(json.kvs[0].value, "base64").toString(), "2");
    assert.equal(typeof json.header.revision, "number");
    const first = json.kvs[0].create_revision;
    assert.equal(ok(["get", "cli/a", "--rev", String(first), "--print-value-only"]), "1\n");
    assert.equal(ok(["del", "cli/", "--prefix", "--prev-kv"]), "2\ncli/a\n2\ncli/b\n3\n");
    assert.equal(ok(["get", "cli/a"]), "");
  });

  it("txn reads etcdctl's stdin format and prints SUCCESS/FAILURE with each response", () => {
    ok(["put", "txn/k", "v"]);
    const success = ok(
      ["txn"],
      'value("txn/k") = "v"\nmod("txn/k") > "0"\n\nput txn/k v2\nget txn/k\n\nput txn/k nope\n\n',
    );
    assert.equal(success, "SUCCESS\n\nOK\n\ntxn/k\nv2\n");
    const failure = ok(["txn"], 'value("txn/k") = "v"\n\nput txn/k v3\n\ndel txn/k --prev-kv\n');
    assert.equal(failure, "FAILURE\n\n1\ntxn/k\nv2\n");
    const bad = qmesh(["txn"], "bogus\n");
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /malformed comparison: bogus/);
  });

  it("lease grant, attach, timetolive --keys, list, keep-alive --once, revoke", () => {
    const granted = ok(["lease", "grant", "60"]);
    const match = /^lease ([0-9a-f]{16}) granted with TTL\(60s\)\n$/.exec(granted);
    assert.ok(match, granted);
    const id = match[1]!;
    ok(["put", "leased", "x", "--lease", id]);
    assert.match(
      ok(["lease", "timetolive", id, "--keys"]),
      new RegExp(
        `^lease ${id} granted with TTL\\(60s\\), remaining\\(\\d+s\\), attached keys\\(\\[leased\\]\\)\\n$`,
      ),
    );
    assert.match(ok(["lease", "list"]), new RegExp(`found \\d+ leases\\n(.*\\n)*${id}\\n`));
    assert.equal(
      ok(["lease", "keep-alive", id, "--once"]),
      `lease ${id} keepalived with TTL(60)\n`,
    );
    assert.equal(ok(["lease", "revoke", id]), `lease ${id} revoked\n`);
    assert.equal(ok(["get", "leased"]), "");
    assert.equal(ok(["lease", "timetolive", id]), `lease ${id} already expired\n`);
    const missing = qmesh(["lease", "revoke", id]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /etcdserver: requested lease not found/);
    const bad = qmesh(["lease", "revoke", "zz"]);
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /bad lease ID "zz": expected a hex id/);
  });

  it("watch prints events with --prev-kv until Ctrl-C, and replays from --rev", async () => {
    const rev = JSON.parse(ok(["put", "w/k", "a", "-w", "json"])).header.revision;
    const child = spawn(process.execPath, [
      BIN,
      "watch",
      "w/",
      "--prefix",
      "--prev-kv",
      "--rev",
      String(rev),
      "--endpoints",
      endpoints,
    ]);
    let out = "";
    child.stdout.on("data", (chunk: Buffer) => (out += chunk.toString()));
    await eventually(async () => assert.equal(out, "PUT\nw/k\na\n"), 20_000);
    ok(["put", "w/k", "b"]);
    ok(["del", "w/k"]);
    await eventually(async () =>
      assert.equal(out, "PUT\nw/k\na\nPUT\nw/k\na\nw/k\nb\nDELETE\nw/k\nb\nw/k\n\n"),
    );
    child.kill("SIGINT");
    assert.equal(await new Promise((resolve) => child.once("exit", resolve)), 0);
  });

  it("member list, endpoint status and health, snapshot save", () => {
    const members = ok(["member", "list"]).trim().split("\n");
    assert.equal(members.length, 3);
    for (const line of members)
      assert.match(
        line,
        /^[0-9a-f]+, started, n\d, https:\/\/127\.0\.0\.1:\d+, http:\/\/127\.0\.0\.1:\d+, false$/,
      );
    const json = JSON.parse(ok(["member", "list", "-w", "json"]));
    assert.deepEqual(json.members.map((m: { name: string }) => m.name).sort(), names);
    const statusEndpoints = names.map((name) => cluster.spec(name).clientUrl).join(",");
    const status = spawnSync(
      process.execPath,
      [BIN, "endpoint", "status", "--endpoints", statusEndpoints],
      { encoding: "utf8", timeout: 30_000 },
    );
    assert.equal(status.status, 0, status.stderr);
    const lines = status.stdout.trim().split("\n");
    assert.equal(lines.length, 3);
    assert.equal(lines.filter((line) => line.split(", ")[4] === "true").length, 1, status.stdout);
    const health = qmesh(["endpoint", "health"]);
    assert.equal(health.status, 1, "127.0.0.1:1 is unhealthy");
    assert.equal(
      (health.stdout.match(/is healthy: successfully committed proposal/g) ?? []).length,
      3,
    );
    assert.match(health.stderr, /http:\/\/127\.0\.0\.1:1 is unhealthy/);
    const file = join(cluster.dir, "snap.db");
    assert.equal(ok(["snapshot", "save", file]), `Snapshot saved at ${file}\n`);
    assert.ok(statSync(file).size > 0);
    assert.equal(existsSync(`${file}.part`), false);
  });

  it("bad input: unknown command, missing argument, bad number, unreachable endpoints", () => {
    const unknown = qmesh(["lease", "frobnicate"]);
    assert.equal(unknown.status, 2);
    assert.match(unknown.stderr, /unknown command|too many arguments/);
    const missing = qmesh(["put", "only-key"]);
    assert.equal(missing.status, 2);
    assert.match(missing.stderr, /missing required argument 'value'/);
    const badRev = qmesh(["get", "k", "--rev", "-1"]);
    assert.equal(badRev.status, 2);
    assert.match(badRev.stderr, /--rev must be a non-negative integer, got "-1"/);
    const down = spawnSync(
      process.execPath,
      [BIN, "get", "k", "--endpoints", "127.0.0.1:1,127.0.0.1:2"],
      { encoding: "utf8", timeout: 30_000 },
    );
    assert.equal(down.status, 1);
    assert.match(
      down.stderr,
      /no endpoint answered \(127\.0\.0\.1:1: connect ECONNREFUSED.*; 127\.0\.0\.1:2: .*\); is the cluster up \(`qmesh up`\)/,
    );
  });
});
