// The ledger from the command line, as a user and an auditor run it: a receipt made against a
// live cluster and checked offline (and refused once tampered with), a monitor following the
// certified checkpoints, and a stopped member's ledger recomputed from its data directory —
// which finds a value changed directly in the member's LMDB file, and a changed leaf — and that
// member, restarted, raising CORRUPT for itself.
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { open } from "lmdb";
import { crc32c } from "../../src/storage/crc32c.ts";
import { BIN, eventually, TestCluster } from "./harness.ts";

/** etcd's AlarmType CORRUPT and gRPC's DATA_LOSS. */
const CORRUPT_ALARM = 2;
const DATA_LOSS = 15;

describe("qmesh ledger proof | check | audit | rotate-keys | verify", { timeout: 300_000 }, () => {
  const cluster = new TestCluster();
  const names = ["n1", "n2", "n3"];
  let endpoints = "";
  const qmesh = (args: readonly string[]) =>
    spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 60_000 });

  before(async () => {
    await cluster.startAll(names);
    endpoints = names.map((name) => cluster.spec(name).clientUrl).join(",");
    for (let i = 0; i < 30; i++) await cluster.put(names[i % 3]!, `cli/${i % 7}`, `v${i}`);
    await cluster.put("n1", "tamper/wal", "original-wal-value");
  });
  after(() => cluster.destroy());

  /** `qmesh ledger audit` in the background, its stdout and stderr collected together. */
  function startAudit(args: readonly string[]) {
    const child = spawn(process.execPath, [BIN, "ledger", "audit", ...args], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    child.stdout.on("data", (chunk: Buffer) => (output += chunk.toString()));
    child.stderr.on("data", (chunk: Buffer) => (output += chunk.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", resolve));
    return { child, exited, output: () => output };
  }

  it("a receipt made on a live cluster checks offline, and a tampered one is refused", async () => {
    const file = join(cluster.dir, "receipt.json");
    const made = qmesh(["ledger", "proof", "cli/3", "--out", file, "--endpoints", endpoints]);
    assert.equal(made.status, 0, made.stderr);
    assert.match(made.stdout, /receipt for "cli\/3" at revision \d+ \(leaf \d+\) written to/);
    const receipt = JSON.parse(readFileSync(file, "utf8"));
    const checked = qmesh(["ledger", "check", file]);
    assert.equal(checked.status, 0, checked.stderr);
    assert.match(checked.stdout, /^OK: "cli\/3" revision \d+ is leaf \d+ of the certified tree/);
    assert.match(checked.stderr, /pin them with --trusted-keys/);

    // Pinned keys: the members' keys as the auditor holds them.
    const keysFile = join(cluster.dir, "keys.json");
    writeFileSync(keysFile, JSON.stringify(receipt.memberKeys.map((k: string) => JSON.parse(k))));
    const pinned = qmesh(["ledger", "check", file, "--trusted-keys", keysFile]);
    assert.equal(pinned.status, 0, pinned.stderr);
    assert.doesNotMatch(pinned.stderr, /pin them/);
    const badKeys = join(cluster.dir, "bad-keys.json");
    writeFileSync(badKeys, JSON.stringify([{ format: "qmesh-ledger-public-keys/v1", name: "x" }]));
    const refusedKeys = qmesh(["ledger", "check", file, "--trusted-keys", badKeys]);
    assert.equal(refusedKeys.status, 1);
    assert.match(
      refusedKeys.stderr,
      /^qmesh: --trusted-keys .*\[0\]: ledger keys: a member needs at least one/,
    );

    const leaf = Buffer.from(receipt.leaf, "base64");
    leaf[leaf.length - 1]! ^= 1;
    const tamperedFile = join(cluster.dir, "tampered.json");
    writeFileSync(tamperedFile, JSON.stringify({ ...receipt, leaf: leaf.toString("base64") }));
    const refused = qmesh(["ledger", "check", tamperedFile, "--trusted-keys", keysFile]);
    assert.equal(refused.status, 1);
    assert.match(refused.stderr, /is NOT valid: the inclusion proof does not lead from leaf/);

    // A receipt for another key's write is not this key's receipt.
    writeFileSync(tamperedFile, JSON.stringify({ ...receipt, key: "cli/4" }));
    const otherKey = qmesh(["ledger", "check", tamperedFile]);
    assert.equal(otherKey.status, 1);
    assert.match(otherKey.stderr, /does not write the key "cli\/4"/);

    const missing = qmesh(["ledger", "proof", "no/such/key", "--endpoints", endpoints]);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /key "no\/such\/key" does not exist: no write to prove/);
  });

  it("the audit follows new certified checkpoints, each consistent with the one before", async () => {
    const audit = startAudit(["--duration", "5", "--interval", "300", "--endpoints", endpoints]);
    for (let i = 0; i < 15; i++) {
      await cluster.put("n1", `audit/${i}`, "x");
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    assert.equal(await audit.exited, 0, audit.output());
    assert.match(audit.output(), /pinned the keys of /);
    assert.match(
      audit.output(),
      /size \d+ root [0-9a-f]{16} signed by .+, consistent with size \d+/,
    );
  });

  it("a member's rotated keys go through the log: an auditor pins them from a certified tree, and verify checks old and new signatures", async () => {
    const name = "n2";
    const dataDir = cluster.spec(name).dataDir;
    const publicKeysOf = () => JSON.parse(readFileSync(join(dataDir, "ledger-keys.json"), "utf8"));
    const before = publicKeysOf();
    // The auditor asks n1 and n3 only: n2 is restarted under it.
    const others = ["n1", "n3"].map((n) => cluster.spec(n).clientUrl).join(",");
    const audit = startAudit(["--duration", "60", "--interval", "200", "--endpoints", others]);
    const output = audit.output;
    try {
      await eventually(async () => assert.match(output(), /pinned the keys of /));
      await cluster.kill9(name);
      cluster.forgetClient(name);
      const rotated = qmesh(["ledger", "rotate-keys", "--data-dir", dataDir]);
      assert.equal(rotated.status, 0, rotated.stderr);
      assert.match(rotated.stdout, /^new ledger keys for n2\.\S+ are in .*ledger-keys\.json/);
      const after = publicKeysOf();
      assert.equal(after.name, before.name);
      assert.notEqual(after.ed25519.vkey, before.ed25519.vkey);
      assert.notEqual(after["ml-dsa-65"].vkey, before["ml-dsa-65"].vkey);
      await cluster.start(name, names, "existing");
      // The new keys are published, proven to the auditor in a tree the pinned keys certified,
      // and from then on n2's signatures count again.
      await eventually(async () => {
        await cluster.put("n1", "rotate/k", "v");
        assert.match(output(), /n2\.\S+ published new keys at leaf \d+, in the tree of size \d+/);
        const since = output().slice(output().search(/n2\.\S+ published new keys/));
        // All three count again (in the order the auditor pinned them).
        assert.match(since, /^size \d+ .*signed by (?=[^\n]*n1\.)(?=[^\n]*n2\.)(?=[^\n]*n3\.)/m);
      }, 40_000);
      assert.doesNotMatch(output(), /AUDIT FAILED/);
      const { body } = await cluster.call("n1", "/v3/ledger/checkpoint", { certified: true });
      assert.ok(
        (body.member_keys as string[]).some(
          (k) => JSON.parse(k)["ml-dsa-65"] === after["ml-dsa-65"].vkey,
        ),
        "the cluster lists n2's new keys",
      );
    } finally {
      audit.child.kill();
      await audit.exited;
    }

    // Checkpoints n2 signed before and after: verify finds the keys each was signed with.
    await eventually(async () => {
      const status = await cluster.status(name);
      const leader = await cluster.status("n1");
      assert.equal(status.raftAppliedIndex, leader.raftAppliedIndex);
    });
    await cluster.kill9(name);
    cluster.forgetClient(name);
    // Restarted whatever verify says: the next test needs a quorum of peers up.
    try {
      const verified = qmesh(["ledger", "verify", "--data-dir", dataDir]);
      assert.equal(verified.status, 0, verified.stdout + verified.stderr);
      assert.match(
        verified.stdout,
        /checkpoints: [1-9]\d* certified, every one signed by a quorum .*; [1-9]\d* counted a member's keys from before a rotation/,
      );
    } finally {
      await cluster.start(name, names, "existing");
    }

    const nowhere = qmesh(["ledger", "rotate-keys", "--data-dir", join(cluster.dir, "nowhere")]);
    assert.equal(nowhere.status, 1);
    assert.match(
      nowhere.stderr,
      /rotate-keys: .*ledger-keys\.json does not exist: a member makes its ledger keys on its first start/,
    );
  });

  it("verify recomputes a stopped member's ledger, and finds a value changed behind its back", async () => {
    const name = "n3";
    // Everything the others certified reached n3 too before it stops.
    await eventually(async () => {
      const status = await cluster.status(name);
      const leader = await cluster.status("n1");
      assert.equal(status.raftAppliedIndex, leader.raftAppliedIndex);
    });
    await cluster.kill9(name);
    const dataDir = cluster.spec(name).dataDir;
    const clean = qmesh(["ledger", "verify", "--data-dir", dataDir]);
    assert.equal(clean.status, 0, clean.stdout + clean.stderr);
    assert.match(clean.stdout, /tree: \d+ leaves re-hashed .*: matches its leaves/);
    assert.match(clean.stdout, /state: replaying the \d+ leaves gives the member's state exactly/);
    assert.match(clean.stdout, /wal: [1-9]\d* applied entries still in the WAL match their leaves/);
    assert.match(clean.stdout, /checkpoints: [1-9]\d* certified, every one signed by a quorum/);
    assert.match(clean.stderr, /tree {3}\[#+\] 100%/);

    // A WAL record changed, its CRC recomputed: the WAL's own checks pass, the ledger's do not.
    const walDir = join(dataDir, "wal");
    const target = Buffer.from("original-wal-value");
    let tampered = false;
    for (const file of readdirSync(walDir).filter((f) => f.endsWith(".wal"))) {
      const bytes = readFileSync(join(walDir, file));
      for (let at = 0; at + 8 <= bytes.length && bytes.readUInt32LE(at) !== 0; ) {
        const length = bytes.readUInt32LE(at);
        const body = bytes.subarray(at + 8, at + 8 + length);
        const found = body.indexOf(target);
        if (found >= 0) {
          body[found] = "O".charCodeAt(0);
          bytes.writeUInt32LE(crc32c(body), at + 4);
          writeFileSync(join(walDir, file), bytes);
          tampered = true;
        }
        at += 8 + length;
      }
    }
    assert.ok(tampered, "found the write in the WAL");
    const walChanged = qmesh(["ledger", "verify", "--data-dir", dataDir]);
    assert.equal(walChanged.status, 1, walChanged.stdout);
    assert.match(
      walChanged.stdout,
      /WAL: WAL entry \d+ \(term \d+\) is not what ledger leaf \d+ recorded: the request bytes differ/,
    );
    assert.match(
      walChanged.stdout,
      /state: replaying the \d+ leaves gives the member's state exactly/,
    );

    // An operator with root changes a value in the member's LMDB file while it is stopped, in
    // the live table and in its history record alike, so that the member's own copies agree.
    const env = open({ path: join(dataDir, "kv"), maxDbs: 16 });
    const table = (name: string, dupSort = false) =>
      env.openDB<Uint8Array, Uint8Array>({
        name,
        keyEncoding: "binary",
        encoding: "binary",
        dupSort,
      });
    const key = Buffer.from("cli/5");
    const record = Buffer.from(table("kv").get(key)!);
    record[record.length - 1]! ^= 0x20;
    const historyKey = [...table("hist", true).getValues(key)].map((v) => Buffer.from(v)).at(-1)!;
    assert.deepEqual(
      Buffer.from(table("rev").get(historyKey)!).subarray(0, -1),
      record.subarray(0, -1),
    );
    await table("kv").put(key, record);
    await table("rev").put(historyKey, record);
    await env.close();
    const changed = qmesh(["ledger", "verify", "--data-dir", dataDir]);
    assert.equal(changed.status, 1);
    assert.match(changed.stdout, /STATE: replaying the ledger does not give the member's state/);
    assert.match(changed.stderr, /the ledger of .* does NOT verify/);

    // Restarted, the member compares its history with its peers', raises CORRUPT for itself
    // and stops serving instead of answering with the changed value.
    cluster.forgetClient(name);
    await cluster.start(name, names, "existing");
    await eventually(async () => {
      const { alarms } = await cluster.grpc("n1").call("Maintenance", "Alarm", { action: 0 });
      assert.deepEqual(
        alarms.map((a: { alarm: number }) => a.alarm),
        [CORRUPT_ALARM],
      );
    }, 15_000);
    await assert.rejects(
      cluster.grpc(name).call("KV", "Range", { key: key }),
      (error: Error & { code?: number }) => {
        assert.equal(error.code, DATA_LOSS);
        assert.match(
          error.message,
          /history up to revision \d+ differs from that of n[12], n[12] \(a quorum of voters\)/,
        );
        return true;
      },
    );
    // The others still serve the value as written.
    assert.equal(await cluster.get("n1", "cli/5"), "v26");
  });
});
