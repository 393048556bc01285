// etcd's space quota on a 3-member cluster, driven over gRPC and by etcdctl 3.4: writes past
// --quota-backend-bytes raise a NOSPACE alarm that every member obeys, reads and deletes go on,
// and etcd's documented recovery (compact, defrag, disarm) restores writes.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { after, before, test } from "node:test";
import { promisify } from "node:util";
import { connectEtcd, type EtcdClient } from "../../src/api/grpc/client.ts";
import { eventually, TestCluster } from "./harness.ts";

const run = promisify(execFile);
const NAMES = ["n1", "n2", "n3"];
/** A fresh member uses 16 KiB; each 8 KiB put takes about 24 KiB (history, live key, index). */
const QUOTA = 256 * 1024;
const VALUE = "v".repeat(8 * 1024);
const NO_SPACE = { code: 8, details: "etcdserver: mvcc: database space exceeded" };
/** etcd prints the AlarmMember in protobuf text form: decimal id, a trailing space. */
const ALARM_TEXT = /^memberID:\d+ alarm:NOSPACE $/;
const cluster = new TestCluster(["--quota-backend-bytes", String(QUOTA)]);
const clients = new Map<string, EtcdClient>();
const client = (name: string) => clients.get(name)!;
const bytes = (text: string) => Buffer.from(text);

async function etcdctl(args: string[], names = NAMES): Promise<string> {
  // host:port, not http://host:port (see grpc_maintenance.test.ts).
  const endpoints = names.map((n) => cluster.spec(n).clientUrl.replace("http://", "")).join(",");
  const { stdout } = await run("etcdctl", [`--endpoints=${endpoints}`, ...args], {
    env: { ...process.env, ETCDCTL_API: "3" },
    timeout: 20_000,
  });
  return stdout;
}

async function value(name: string, key: string): Promise<string | null> {
  const response = await client(name).call("KV", "Range", { key: bytes(key) });
  return response.kvs.length === 0 ? null : response.kvs[0].value.toString();
}

before(async () => {
  await cluster.startAll(NAMES);
  for (const name of NAMES) clients.set(name, connectEtcd(cluster.spec(name).clientUrl));
});
after(async () => {
  for (const c of clients.values()) c.close();
  await cluster.destroy();
});

test("past the quota: NOSPACE on every member, reads and deletes work, compact + defrag + disarm recover", {
  timeout: 120_000,
}, async () => {
  const acknowledged: string[] = [];
  let refusal: unknown;
  for (let i = 0; i < 100 && refusal === undefined; i++) {
    const key = `k${String(i).padStart(3, "0")}`;
    try {
      await client(NAMES[i % 3]!).call("KV", "Put", { key: bytes(key), value: bytes(VALUE) });
      acknowledged.push(key);
    } catch (error) {
      refusal = error;
    }
  }
  assert.ok(acknowledged.length >= 3, `only ${acknowledged.length} writes fit`);
  assert.equal((refusal as { code: number }).code, NO_SPACE.code);
  assert.equal((refusal as { details: string }).details, NO_SPACE.details);

  // The alarm went through the log: every member refuses puts, txns with a put, lease grants.
  await eventually(async () => {
    for (const name of NAMES) {
      await assert.rejects(
        client(name).call("KV", "Put", { key: bytes("small"), value: bytes("x") }),
        NO_SPACE,
      );
    }
  });
  for (const name of NAMES) {
    await assert.rejects(etcdctl(["put", "small", "x"], [name]), /database space exceeded/);
  }
  await assert.rejects(client("n2").call("Lease", "LeaseGrant", { TTL: 60 }), NO_SPACE);
  await assert.rejects(
    client("n3").call("KV", "Txn", {
      success: [{ request_put: { key: bytes("small"), value: bytes("x") } }],
    }),
    NO_SPACE,
  );

  // etcdctl alarm list and endpoint status show the alarm, as etcd prints it.
  const list = (await etcdctl(["alarm", "list"])).split("\n").filter((line) => line !== "");
  assert.equal(list.length, 1, list.join("\n"));
  assert.match(list[0]!, ALARM_TEXT);
  const statuses = JSON.parse(await etcdctl(["endpoint", "status", "-w", "json"])) as Array<{
    Status: { errors?: string[] };
  }>;
  for (const s of statuses) {
    assert.equal(s.Status.errors?.length, 1);
    assert.match(s.Status.errors![0]!, ALARM_TEXT);
  }

  // Reads work everywhere and every acknowledged write is there.
  for (const name of NAMES) {
    for (const key of acknowledged)
      assert.equal(await value(name, key), VALUE, `${key} on ${name}`);
  }

  // Recovery as etcd documents it: free space (delete, compact), defrag, disarm.
  const freed = acknowledged.slice(0, Math.ceil(acknowledged.length / 2));
  for (const key of freed) {
    assert.match(await etcdctl(["del", key], ["n2"]), /^1$/m);
  }
  const status = await client("n1").call("Maintenance", "Status", {});
  const revision = status.header.revision;
  assert.match(await etcdctl(["compact", revision], ["n1"]), /compacted revision/);
  assert.match(await etcdctl(["defrag"]), /Finished defragmenting/);
  await assert.rejects(
    client("n1").call("KV", "Put", { key: bytes("small"), value: bytes("x") }),
    NO_SPACE,
    "the alarm stays until disarmed",
  );
  const disarmed = (await etcdctl(["alarm", "disarm"])).split("\n").filter((l) => l !== "");
  assert.deepEqual(disarmed, list, "disarm prints the alarms it cleared");
  assert.equal((await etcdctl(["alarm", "list"])).trim(), "");

  for (const name of NAMES) {
    await eventually(() =>
      client(name).call("KV", "Put", { key: bytes(`after-${name}`), value: bytes("x") }),
    );
    const statusAfter = await client(name).call("Maintenance", "Status", {});
    assert.deepEqual(statusAfter.errors, []);
  }
  for (const name of NAMES) {
    for (const key of acknowledged) {
      assert.equal(await value(name, key), freed.includes(key) ? null : VALUE, `${key} on ${name}`);
    }
  }
});
