// Disk full on one member: its data directory is a small tmpfs, filled by a ballast file while
// writes go on. The member must stay up, have the cluster raise etcd's NOSPACE alarm for it (every
// member then refuses writes), hand over leadership, lose nothing acknowledged, and clear the
// alarm by itself once the ballast is gone. Needs root (mount); skipped otherwise.
import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdirSync, rmSync } from "node:fs";
import { join } from "node:path";
import { after, test } from "node:test";
import { connectEtcd, type EtcdClient } from "../../src/api/grpc/client.ts";
import { fillDisk } from "../../src/storage/test_helpers.ts";
import { b64, eventually, type Json, sleep, TestCluster, unb64 } from "./harness.ts";

const NAMES = ["n1", "n2", "n3"];
const FULL = "n3";
const VIA = "n1";
/** The WAL preallocates a 64 MiB segment (and a spare when there is room); LMDB needs little. */
const TMPFS_BYTES = 192 * 1024 * 1024;
const NO_SPACE = "etcdserver: mvcc: database space exceeded";
const NOSPACE_ALARM = 1;
// Every assert.ok has a message: without one, a failing assert makes node re-parse the
// (transpiled, one-line) source to word it, which takes seconds per retry in `eventually`.

const cluster = new TestCluster();
await cluster.define(NAMES);
const mountPoint = cluster.spec(FULL).dataDir;
const mountProblem = tryMount(mountPoint);
const clients = new Map<string, EtcdClient>();
const client = (name: string) => {
  let c = clients.get(name);
  if (c === undefined) {
    c = connectEtcd(cluster.spec(name).clientUrl, { timeoutMs: 10_000 });
    clients.set(name, c);
  }
  return c;
};

after(async () => {
  for (const c of clients.values()) c.close();
  await Promise.all(NAMES.map((name) => cluster.kill9(name)));
  if (mountProblem === null) execFileSync("umount", ["-l", mountPoint]);
  await cluster.destroy();
});

function tryMount(dir: string): string | null {
  mkdirSync(dir, { recursive: true });
  try {
    execFileSync("mount", ["-t", "tmpfs", "-o", `size=${TMPFS_BYTES}`, "tmpfs", dir], {
      stdio: "pipe",
    });
    return null;
  } catch (error) {
    return `cannot mount a tmpfs (needs root): ${(error as Error).message.split("\n")[0]}`;
  }
}

async function memberId(name: string): Promise<string> {
  const status = await cluster.status(name);
  return String((status.header as Json).member_id);
}

async function put(name: string, key: string, value: string): Promise<void> {
  await client(name).call("KV", "Put", { key: Buffer.from(key), value: Buffer.from(value) });
}

async function alarms(name: string): Promise<{ memberID: string; alarm: number }[]> {
  return (await client(name).call("Maintenance", "Alarm", { action: 0 })).alarms;
}

/** Every key under w/ that `name` serves from its own state (a serializable read). */
async function keysOn(name: string): Promise<Map<string, string>> {
  const { status, body } = await cluster.call(name, "/v3/kv/range", {
    key: b64("w/"),
    range_end: b64("w0"),
    serializable: true,
  });
  assert.equal(status, 200, JSON.stringify(body));
  const kvs = (body.kvs as Json[] | undefined) ?? [];
  return new Map(kvs.map((kv) => [unb64(kv.key), unb64(kv.value)]));
}

test("a member whose disk fills: NOSPACE for the cluster, no crash, no loss, recovery by itself", {
  skip: mountProblem ?? false,
  timeout: 90_000,
}, async (t) => {
  await Promise.all(NAMES.map((name) => cluster.start(name, NAMES)));
  const fullId = await memberId(FULL);
  // The harder case: the member whose disk fills leads, and must hand leadership over.
  const leader = await cluster.waitForLeader(NAMES);
  if (leader !== FULL) {
    const moved = await cluster.call(leader, "/v3/maintenance/transfer-leadership", {
      targetID: Number(fullId),
    });
    assert.equal(moved.status, 200, JSON.stringify(moved.body));
    await eventually(async () => assert.equal(await cluster.waitForLeader(NAMES, 1_000), FULL));
  }

  const acknowledged = new Map<string, string>();
  let stop = false;
  let next = 0;
  // Writes that reach the full member while it leads wait out the request timeout (7 s), as
  // with any leader change, so refusals are probed separately with a short deadline.
  const writers = Array.from({ length: 4 }, async () => {
    while (!stop) {
      const key = `w/${String(next++).padStart(5, "0")}`;
      try {
        await put(VIA, key, `value-of-${key}`);
        acknowledged.set(key, `value-of-${key}`);
      } catch {
        await sleep(50);
      }
    }
  });
  await eventually(async () => assert.ok(acknowledged.size >= 100, "writing"), 20_000);

  const ballast = join(mountPoint, "ballast");
  const filledAt = Date.now();
  const ballastBytes = fillDisk(ballast);
  assert.ok(ballastBytes > 0, "the ballast took no space");
  const probe = connectEtcd(cluster.spec(VIA).clientUrl, { timeoutMs: 2_000 });
  try {
    await eventually(async () => {
      const attempt = probe.call("KV", "Put", { key: Buffer.from("p"), value: Buffer.from("x") });
      await assert.rejects(attempt, { code: 8, details: NO_SPACE });
    }, 10_000);
  } finally {
    probe.close();
  }
  t.diagnostic(
    `${acknowledged.size} writes acknowledged; writes refused ${Date.now() - filledAt} ms after the disk filled`,
  );
  // The full member refuses at once: its own log cannot take the entry.
  await assert.rejects(put(FULL, "refused", "x"), { code: 8, details: NO_SPACE });
  // Every member refuses, with etcd's error, and lists the alarm as raised for the full member.
  for (const name of NAMES.filter((n) => n !== FULL)) {
    await eventually(async () => {
      await assert.rejects(put(name, "refused", "x"), { code: 8, details: NO_SPACE });
    });
    assert.deepEqual(await alarms(name), [{ memberID: fullId, alarm: NOSPACE_ALARM }]);
  }
  // It stays full for a while: several retries, still no crash and one error in its log.
  await sleep(3_000);
  const child = cluster.processes.get(FULL)!;
  assert.equal(child.exitCode, null, `${FULL} exited: ${cluster.output.get(FULL)}`);
  assert.equal(child.signalCode, null);
  assert.ok((await memberId(FULL)) === fullId, "the full member still answers");
  const readyz = await fetch(`${cluster.spec(FULL).metricsUrl}/readyz`);
  assert.equal(readyz.status, 503);
  assert.match(await readyz.text(), /disk full/);
  const newLeader = await cluster.waitForLeader(NAMES.filter((n) => n !== FULL));
  assert.notEqual(newLeader, FULL);
  const diskErrors = (cluster.output.get(FULL) ?? "").match(/disk is full/g) ?? [];
  assert.equal(diskErrors.length, 1, cluster.output.get(FULL));
  assert.match(cluster.output.get(FULL)!, new RegExp(`Free space on ${mountPoint}`));

  // Restarted with the disk still full, it comes up and waits the same way (it used to exit at
  // its first commit: a crash loop under a supervisor).
  await cluster.kill9(FULL);
  await cluster.start(FULL, NAMES);
  await eventually(async () => assert.match(cluster.output.get(FULL)!, /disk is full/), 10_000);
  await sleep(1_500);
  assert.equal(cluster.processes.get(FULL)!.exitCode, null, cluster.output.get(FULL));
  await assert.rejects(put(VIA, "refused", "x"), { code: 8, details: NO_SPACE });

  rmSync(ballast);
  const clearedIn = Date.now();
  await eventually(async () => assert.deepEqual(await alarms(VIA), []), 20_000);
  t.diagnostic(`alarm cleared ${Date.now() - clearedIn} ms after the ballast was removed`);
  await eventually(() => put(VIA, "w/after-recovery", "yes"), 10_000);
  acknowledged.set("w/after-recovery", "yes");
  assert.ok(Date.now() - clearedIn < 20_000, "recovery took too long");
  await eventually(() => put(FULL, "w/through-the-full-member", "yes"), 10_000);
  acknowledged.set("w/through-the-full-member", "yes");
  const writtenBefore = acknowledged.size;
  await eventually(
    async () => assert.ok(acknowledged.size >= writtenBefore + 50, "writing"),
    20_000,
  );
  stop = true;
  await Promise.all(writers);

  for (const name of NAMES) {
    await eventually(async () => {
      const served = await keysOn(name);
      for (const [key, value] of acknowledged)
        assert.equal(served.get(key), value, `${key} on ${name}`);
    }, 20_000);
  }
  // Apply is deterministic: at the same applied index every member holds the same state.
  const sameState = () =>
    eventually(async () => {
      const hashes = await Promise.all(
        NAMES.map((name) => cluster.call(name, "/v3/maintenance/hashkv", {})),
      );
      assert.equal(new Set(hashes.map((h) => h.body.raftAppliedIndex)).size, 1);
      assert.equal(new Set(hashes.map((h) => h.body.hash)).size, 1, "members' states differ");
    });
  await sameState();
  assert.equal(cluster.processes.get(FULL)!.exitCode, null);
  assert.equal((await fetch(`${cluster.spec(FULL).metricsUrl}/readyz`)).status, 200);

  // What it wrote after the disk came back is on disk: it survives kill -9.
  await cluster.kill9(FULL);
  await cluster.start(FULL, NAMES);
  await eventually(async () => {
    const served = await keysOn(FULL);
    for (const [key, value] of acknowledged) assert.equal(served.get(key), value, key);
  }, 20_000);
  await sameState();
});
